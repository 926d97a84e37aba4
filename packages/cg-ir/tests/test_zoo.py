"""cg_ir.zoo: torchvision's and timm's classifiers convert exactly, or fail with a cg-ir error.

The fast tier checks a small sample; the slow tier (``pytest -m slow``) every model of
``cg_ir.zoo.list_models`` for both sources (``cgnas reproduce --full --only zoo-coverage``
measures the same in isolated processes and writes a report). torchvision and timm are test
dependencies that the README's set-up installs; without them these tests fail with
``cg_ir.zoo``'s error, which names the pip command.
"""

from __future__ import annotations

import sys

import pytest
import torch

from cg_ir.errors import BackendUnavailableError, InvalidSpecError
from cg_ir.zoo import (
    SOURCES,
    ZooResult,
    _architecture,
    _tolerant,
    _torch_counts,
    check_model,
    import_zoo,
    list_models,
    load_model,
)

# small models of the main kinds (ResNet, MobileNetV3, ConvNeXt, EfficientNet, ViT), < 30 s
# together on two cores
FAST = (
    "torchvision:resnet18",
    "torchvision:mobilenet_v3_small",
    "torchvision:convnext_tiny",
    "timm:efficientnet_b0",
    "timm:vit_tiny_patch16_224",
)


def every_model() -> list[str]:
    return [f"{source}:{model}" for source in SOURCES for model in list_models(source)]


def explain(result: ZooResult) -> str:
    if result.error_type:
        return f"{result.stage}: {result.error_type}: {result.error_message}"
    return (
        f"params {result.params} vs {result.forward_params} used by the forward "
        f"({result.trainable_params} trainable); conv/linear/matmul FLOPs "
        f"{result.conv_linear_flops} vs FlopCounterMode {result.flop_counter_flops}"
    )


# -- the zoo ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FAST)
def test_sample_converts_exactly(name: str) -> None:
    result = check_model(name)
    assert result.exact, explain(result)
    assert result.params == result.trainable_params  # no training-only parts in the sample


@pytest.mark.slow
@pytest.mark.parametrize("name", every_model())
def test_every_model_converts_exactly_or_fails_with_a_cg_ir_error(name: str) -> None:
    result = check_model(name)
    assert not result.raw_exception, explain(result)
    assert result.stage in ("", "convert"), explain(result)  # torch itself builds and runs it
    if result.converts:
        assert result.exact, explain(result)


class AuxAndTable(torch.nn.Module):
    """A training-only head, and a bias computed from parameters alone."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)  # 224 params, 2 * 8*6*6 * 27 = 15552 FLOPs
        self.aux = torch.nn.Linear(8, 4)  # never called in eval
        self.table = torch.nn.Parameter(torch.zeros(5, 2))  # 10 params
        self.mlp = torch.nn.Linear(2, 8)  # 24 params, 2 * 5 * 2 * 8 = 160 FLOPs on the table

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.mlp(self.table).sum(0)
        return self.conv(x) + bias.view(1, 8, 1, 1)


def test_torch_counts_what_the_graph_counts() -> None:
    counts = _torch_counts(AuxAndTable().eval(), (3, 8, 8))
    assert counts.forward_params == 224 + 10 + 24  # the aux head is not read
    assert counts.flops == 15552 + 160


class SelfAttention(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attention = torch.nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)  # (1, 9, 16)
        return self.attention(tokens, tokens, tokens, need_weights=False)[0]


def test_torch_counts_attention_on_cpu() -> None:
    # nn.MultiheadAttention's fused kernel and the CPU attention kernel both count
    projections = 2 * 9 * 16 * 16 * 4  # q, k, v and out
    scores_and_mix = 2 * (2 * 2 * 9 * 9 * 8)  # two heads of 8 over 9 tokens
    assert _torch_counts(SelfAttention().eval(), (16, 3, 3)).flops == projections + scores_and_mix


# -- names and listing -----------------------------------------------------------------------


def test_unknown_source_lists_the_sources_and_suggests_one() -> None:
    with pytest.raises(InvalidSpecError, match="torchvision, timm.*did you mean 'torchvision'"):
        list_models("torchvison")


@pytest.mark.parametrize("name", ["resnet50", "timm:"])
def test_malformed_name_says_how_names_look(name: str) -> None:
    with pytest.raises(InvalidSpecError, match="'<source>:<model>'.*torchvision, timm"):
        load_model(name)


def test_unknown_source_in_a_name() -> None:
    with pytest.raises(InvalidSpecError, match="unknown zoo source 'tv'.*torchvision, timm"):
        check_model("tv:resnet50")


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(InvalidSpecError, match="no model 'resnet51'.*close names: resnet50"):
        load_model("torchvision:resnet51")


def test_missing_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)  # as if timm were not installed
    with pytest.raises(BackendUnavailableError, match="pip install timm"):
        import_zoo("timm")


def test_import_leaves_register_fake_as_it_was() -> None:
    original = torch.library.register_fake
    assert import_zoo("timm") is import_zoo("timm")
    assert torch.library.register_fake is original


def test_tolerant_register_fake_skips_only_missing_operators() -> None:
    def kernel(x: torch.Tensor) -> torch.Tensor:
        return x

    register = _tolerant(torch.library.register_fake)
    assert register("cg_ir_zoo_test::missing")(kernel) is kernel
    assert register("cg_ir_zoo_test::missing", kernel) is kernel


def test_default_input_shapes() -> None:
    assert load_model("torchvision:resnet18")[1] == (3, 224, 224)
    assert load_model("torchvision:efficientnet_v2_s")[1] == (3, 384, 384)
    model, shape = load_model("timm:tf_efficientnet_b3")
    assert shape == (3, 300, 300) and not model.training


def test_timm_list_is_one_convolutional_model_per_architecture() -> None:
    models = list_models("timm")
    assert {"resnet18", "efficientnet_b0", "convnext_atto", "regnetx_002"} <= set(models)
    assert not {
        "resnet50",
        "vit_base_patch16_224",
        "caformer_s18",
        "swin_tiny_patch4_window7_224",
    } & set(models)
    assert not [m for m in models if m.startswith("test_") or "_hybrid_" in m]
    assert len({_architecture(m) for m in models}) == len(models)


def test_torchvision_list_is_every_classifier() -> None:
    models = list_models("torchvision")
    assert len(models) == len(set(models)) >= 80
    assert {"alexnet", "inception_v3", "vit_b_16", "swin_t"} <= set(models)
    assert not {"fasterrcnn_resnet50_fpn", "raft_large", "r3d_18"} & set(models)
