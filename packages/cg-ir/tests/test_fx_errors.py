"""Every input from_module rejects, with the message that says what and where."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cg_ir import UnsupportedOperatorError, UntraceableModuleError
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


class ScalarMul(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2.0


class ScalarAdd(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1 + x


class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class FunctionalConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(4, 4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight)


class CatWidth(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x], dim=3)


class SliceHeight(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :4]


class Sub(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - x.sigmoid()


class PixelShuffleView(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(1, 1, 16, 16)


class LinearOnWidth(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


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
        (ScalarMul(), "mul", "Python scalar 2.0"),
        (ScalarAdd(), "add", "Python scalar 1"),
        (Scale(), "mul", "'body.gamma' is a parameter"),
        (FunctionalConv(), "conv2d", "not lowered"),
        (CatWidth(), "cat", "along the channels"),
        (SliceHeight(), "getitem", "only slices of the channels"),
        (Sub(), "sub", "not lowered"),
        (PixelShuffleView(), "Tensor.view", "changes the tensor's (C, H, W)"),
        (LinearOnWidth(), "Linear", "needs a tensor laid out as nhwc or flat"),
        (nn.LeakyReLU(), "LeakyReLU", "not one of the layers"),
        (nn.ConvTranspose2d(4, 4, 2, 2), "ConvTranspose2d", "not one of the layers"),
        (nn.Upsample(scale_factor=2, mode="bicubic"), "Upsample", "'bicubic'"),
        (nn.Hardtanh(-1.0, 1.0), "Hardtanh", "not relu6"),
        (nn.LayerNorm(8), "LayerNorm", "channels-last"),
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
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Sequential(nn.ReLU(), nn.ELU()))
    with pytest.raises(UnsupportedOperatorError, match=r"'ELU' at '1\.1'") as caught:
        from_module(net, SHAPE)
    assert caught.value.module_path == "1.1"


@pytest.mark.parametrize("inner", [Branchy(), ShapeBranch()])
def test_control_flow_says_how_to_fix(inner: nn.Module) -> None:
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
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\) or \(N, C, H, W\)"):
        from_module(nn.ReLU(), shape)


def test_wrong_input_channels_fail_with_the_shape() -> None:
    with pytest.raises(UntraceableModuleError, match=r"zeros of shape \(1, 5, 8, 8\)"):
        from_module(nn.Conv2d(3, 4, 1), (5, 8, 8))


def test_even_kernel_same_padding_is_rejected() -> None:
    with pytest.raises(UnsupportedOperatorError, match="pads this kernel unevenly"):
        from_module(nn.Conv2d(3, 4, 2, padding="same"), SHAPE)


def test_layer_norm_without_bias_is_rejected() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(3, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.norm(x.permute(0, 2, 3, 1))

    with pytest.raises(UnsupportedOperatorError, match=r"bias=False\) has C parameters"):
        from_module(Net(), SHAPE)
