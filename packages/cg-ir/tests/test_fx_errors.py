"""Every input from_module rejects, with the message that says what and where."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cg_ir import InvalidArgumentError, UnsupportedOperatorError, UntraceableModuleError
from cg_ir.fx import from_module

SHAPE = (3, 8, 8)


class Wrap(nn.Module):
    """Puts ``inner`` at the module path ``body``, after a conv."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.body = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.conv(x))


class Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x * 2

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad * 2


class CustomFunction(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return Double.apply(x)  # type: ignore[no-any-return]


class Sort(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sort(x, dim=1).values


class OneSidedClamp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(min=0.5)


class DynamicConv(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, x)


class CircularPad(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (1, 1, 1, 1), mode="circular")


class ChannelPad(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (0, 0, 0, 0, 1, 1))


class NhwcBatchNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x.permute(0, 2, 3, 1), None, None, training=True)


class Branchy(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x.relu()
        return x


class ShapeBranch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) if x.shape[1] == 4 else x


class TupleOut(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.relu(), x.sigmoid()


class ConstantOut(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


@pytest.mark.parametrize(
    ("inner", "op", "hint"),
    [
        (CustomFunction(), "Double.apply", "not one of the layers"),
        (Sort(), "sort", "not lowered"),
        (OneSidedClamp(), "clamp", "bounds one side away from 0"),
        (DynamicConv(), "conv2d", "dynamic weight"),
        (CircularPad(), "pad", "'circular'"),
        (ChannelPad(), "pad", "other axes than height and width"),
        (NhwcBatchNorm(), "batch_norm", "not its channels"),
        (nn.Tanhshrink(), "Tanhshrink", "not one of the layers"),
        (nn.ConvTranspose2d(4, 4, 2, 2), "ConvTranspose2d", "not one of the layers"),
        (nn.MaxPool2d(2, return_indices=True), "MaxPool2d", "return_indices"),
        (ConstantOut(), "output", "zeros"),
    ],
)
def test_unsupported_operator_names_op_and_path(inner: nn.Module, op: str, hint: str) -> None:
    with pytest.raises(UnsupportedOperatorError) as caught:
        from_module(Wrap(inner), SHAPE)
    message = str(caught.value)
    assert op in message and hint in message
    where = "at '<root module>'" if isinstance(inner, ConstantOut) else "at 'body"
    assert where in message
    assert caught.value.op and isinstance(caught.value, NotImplementedError)


def test_unsupported_leaf_path_is_the_module_path() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Sequential(nn.ReLU(), nn.Tanhshrink()))
    with pytest.raises(UnsupportedOperatorError, match=r"'Tanhshrink' at '1\.1'") as caught:
        from_module(net, SHAPE)
    assert caught.value.module_path == "1.1"


def test_a_block_that_branches_on_shapes_is_kept_whole_and_lowered() -> None:
    # fx cannot trace ShapeBranch; run at the input's shapes it takes one branch, as
    # timm's MobileViT block does
    net = Wrap(ShapeBranch())
    g = from_module(net, SHAPE)
    assert [n.op for n in g.nodes] == ["input", "conv", "conv", "output"]
    assert g.nodes[2].name == "body" and g.params == sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("inner", [Branchy()])
def test_control_flow_says_how_to_fix(inner: nn.Module) -> None:
    # a branch on the values of a tensor cannot be decided before training: still an error
    with pytest.raises(UntraceableModuleError) as caught:
        from_module(Wrap(inner), SHAPE)
    message = str(caught.value)
    for fix in ("leaf_modules", "autowrap_functions", "concrete_args"):
        assert fix in message
    assert "test_fx_errors.py" in message  # where in the user's code it failed
    assert isinstance(caught.value, RuntimeError)


def test_tuple_output_is_rejected() -> None:
    with pytest.raises(UnsupportedOperatorError, match="returns a tuple of 2 values"):
        from_module(TupleOut(), SHAPE)


def test_second_tensor_input_is_rejected() -> None:
    class TwoInputs(nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return x + y

    with pytest.raises(UntraceableModuleError, match="zeros of shape"):
        from_module(TwoInputs(), SHAPE)


@pytest.mark.parametrize("shape", [(3, 8), (2, 3, 8, 8, 8), (0, 8, 8), (3, -1, 8)])
def test_bad_input_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"input_shape must be \(C, H, W\) or \(N, C, H, W\)"
    ):
        from_module(nn.ReLU(), shape)


def test_wrong_input_channels_fail_with_the_shape() -> None:
    with pytest.raises(UntraceableModuleError, match=r"zeros of shape \(1, 5, 8, 8\)"):
        from_module(nn.Conv2d(3, 4, 1), (5, 8, 8))
