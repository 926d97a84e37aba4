"""The networks people actually write: torchvision's and timm's classifiers, loaded and checked.

A zoo model is named ``"<source>:<model>"``, e.g. ``"torchvision:resnet50"`` or
``"timm:efficientnet_b0"``. ``load_model`` builds it with random weights (nothing is downloaded)
together with its default input shape, ``list_models`` gives the models cg-ir's coverage is
measured on, and ``check_model`` converts one with ``cg_ir.from_module`` and compares the graph's
parameter count and FLOPs with what torch itself reports.

torchvision and timm are not dependencies of cg-ir: install them yourself (``pip install
torchvision timm``; torchvision's release must match your torch's). PyPI's Linux torchvision is a
CUDA build whose compiled ops do not load against a CPU torch; its model definitions are plain
Python, so ``import_zoo`` imports it while skipping the fake-kernel registrations of operators
that do not exist (torchvision's detection ops such as ``nms``, which no classifier uses).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import importlib.util
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import flop_registry, sdpa_flop_count, shape_wrapper

from cg_ir.errors import BackendUnavailableError, CgIrError, InvalidSpecError

__all__ = [
    "COUNTED_OPS",
    "SOURCES",
    "ZooResult",
    "check_model",
    "import_zoo",
    "list_models",
    "load_model",
]

SOURCES = ("torchvision", "timm")
"""The model sources ``load_model`` knows."""

COUNTED_OPS = frozenset({"conv", "depthwise_conv", "filter", "linear", "matmul"})
"""The graph ops whose FLOPs ``check_model`` compares with torch's FlopCounterMode formulas.

FlopCounterMode counts only aten's convolution, mm/addmm/bmm/baddbmm (what ``nn.Linear``,
``torch.matmul``, ``@`` and einsum run) and scaled-dot-product attention (its two batched
matmuls). cg-ir lowers exactly those to ``conv``/``depthwise_conv``, ``linear`` and ``matmul``,
so the two totals describe the same work; everything else (norms, activations, pooling,
additions) is in ``graph.flops`` but not in FlopCounterMode's count. ``check_model`` applies
FlopCounterMode's formulas itself, to count like with like: also to the CPU attention kernel,
which FlopCounterMode leaves out, and with ``nn.MultiheadAttention``'s fused inference kernel
(which has no formula) turned off.
"""

_INSTALL = {
    "torchvision": "pip install torchvision  # the release built for your torch, e.g. "
    '"torchvision==0.28.0" for torch 2.13',
    "timm": "pip install timm",
}

# timm modules (``timm.list_modules()``) that are not convolutional networks: their blocks mix
# tokens by self-attention (ViTs, Swin, hybrids with attention stages or attention blocks,
# attention-augmented ResNets), by token MLPs (MLP-Mixer, ResMLP, gMLP) or by recurrent and
# state-space layers (Sequencer's LSTMs, EfficientViM). Every other module is convolutional.
_TIMM_NON_CONV_MODULES = frozenset(
    {
        "beit",
        "byoanet",
        "cait",
        "coat",
        "convit",
        "cpubone",
        "crossvit",
        "csatv2",
        "davit",
        "deepseek_vit",
        "deit",
        "edgenext",
        "efficientformer",
        "efficientformer_v2",
        "efficientvim",
        "efficientvit_mit",
        "efficientvit_msra",
        "eva",
        "fastvit",
        "gcvit",
        "gemma4_vit",
        "hiera",
        "hieradet_sam2",
        "iformer",
        "levit",
        "lowformer",
        "maxxvit",
        "mlp_mixer",
        "mobilenetv5",
        "mobilevit",
        "mvitv2",
        "naflexvit",
        "nest",
        "nextvit",
        "pit",
        "pvt_v2",
        "qwen3_vit",
        "sequencer",
        "shvit",
        "swiftformer",
        "swin_transformer",
        "swin_transformer_v2",
        "swin_transformer_v2_cr",
        "tiny_vit",
        "tnt",
        "twins",
        "visformer",
        "vision_transformer",
        "vision_transformer_hybrid",
        "vision_transformer_relpos",
        "vision_transformer_sam",
        "vitamin",
        "volo",
        "xcit",
    }
)
# attention models inside otherwise convolutional modules (metaformer's CAFormer, MobileNetV4's
# hybrids), and timm's own unit-test fixtures
_TIMM_NON_CONV_MODELS = re.compile(r"^(caformer_|test_)|_hybrid_")
# size words and single-letter sizes: names that differ only in these (and in numbers) are
# size variants of one architecture
_SIZE_WORDS = (
    "zepto atto femto pico nano tiny xxsmall xsmall small medium base large xlarge xxlarge huge "
    "giant xxs xs s m l x xl xxl"
).split()
_SIZE_TOKEN = re.compile(r"(?<![a-z])(" + "|".join(_SIZE_WORDS) + r")(?![a-z])")


@dataclass(frozen=True)
class ZooResult:
    """How one zoo model converts, and how its graph compares with torch's own counts.

    Attributes:
        name: the model, ``"<source>:<model>"``.
        input_shape: the (C, H, W) it was converted at (``()`` when it could not be loaded).
        converts: ``from_module`` returned a graph.
        stage: where it failed: ``"load"`` (building the model), ``"convert"`` or ``"count"``
            (running the model in torch to count); ``""`` when nothing failed.
        error_type: the exception's class name (``""`` when nothing failed).
        error_message: its message.
        raw_exception: the conversion raised something other than a cg-ir error, a bug of cg-ir.
        nodes: the graph's node count (0 when it does not convert).
        params: the graph's parameter count.
        trainable_params: the model's parameters with ``requires_grad`` (each counted once).
        forward_params: those of them that the eval forward's ops read: what the graph must
            count. It is less than ``trainable_params`` only for parts that run in training
            alone, such as inception_v3's and googlenet's auxiliary heads.
        flops: the graph's FLOPs at batch size 1.
        conv_linear_flops: the FLOPs of the graph's ``COUNTED_OPS`` nodes.
        flop_counter_flops: FlopCounterMode's count of the model at batch size 1 (see
            ``COUNTED_OPS``).
        seconds: how long ``from_module`` took.
    """

    name: str
    input_shape: tuple[int, ...] = ()
    converts: bool = False
    stage: str = ""
    error_type: str = ""
    error_message: str = ""
    raw_exception: bool = False
    nodes: int = 0
    params: int = 0
    trainable_params: int = 0
    forward_params: int = 0
    flops: int = 0
    conv_linear_flops: int = 0
    flop_counter_flops: int = 0
    seconds: float = 0.0

    @property
    def exact(self) -> bool:
        """It converts, and params and conv/linear/matmul FLOPs equal torch's counts."""
        return (
            self.converts
            and not self.stage
            and self.params == self.forward_params
            and self.conv_linear_flops == self.flop_counter_flops
        )


def _split_name(name: str) -> tuple[str, str]:
    source, sep, model = name.partition(":")
    if not sep or not model:
        raise InvalidSpecError(
            f"zoo model names are '<source>:<model>' with source one of {', '.join(SOURCES)} "
            f"(e.g. 'torchvision:resnet50'), got {name!r}"
        )
    _check_source(source)
    return source, model


def _check_source(source: str) -> None:
    if source not in SOURCES:
        close = difflib.get_close_matches(source, SOURCES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InvalidSpecError(
            f"unknown zoo source {source!r}: the sources are {', '.join(SOURCES)}{hint}"
        )


def _tolerant(register_fake: Callable[..., Any]) -> Callable[..., Any]:
    """``register_fake`` that skips operators torch does not have instead of failing."""

    def register(op: Any, func: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
        def apply(fn: Callable[..., Any]) -> Callable[..., Any]:
            try:
                register_fake(op, fn, **kwargs)
            except RuntimeError as error:
                if "does not exist" not in str(error):
                    raise
            return fn

        return apply if func is None else apply(func)

    return register


@contextmanager
def _missing_ops_skipped() -> Iterator[None]:
    original = torch.library.register_fake
    torch.library.register_fake = _tolerant(original)
    try:
        yield
    finally:
        torch.library.register_fake = original


def import_zoo(source: str) -> ModuleType:
    """Import a zoo source's package (``torchvision`` or ``timm``); repeated calls are free.

    torchvision is imported with the fake-kernel registrations of missing operators skipped
    (see the module docstring), also before timm, which imports it where it is installed.

    Args:
        source: one of ``SOURCES``.

    Returns:
        The imported package.

    Raises:
        InvalidSpecError: ``source`` is not one of ``SOURCES``.
        BackendUnavailableError: the package is not installed; the message gives the pip command.

    Examples:
        >>> from cg_ir.zoo import import_zoo
        >>> import_zoo("torchvision").__name__
        'torchvision'
    """
    _check_source(source)
    if source == "timm" and importlib.util.find_spec("torchvision") is not None:
        _import("torchvision")  # timm imports it where it is installed
    return _import(source)


def _import(package: str) -> ModuleType:
    try:
        with _missing_ops_skipped():
            return importlib.import_module(package)
    except ModuleNotFoundError as error:
        if error.name != package:
            raise
        raise BackendUnavailableError(
            f"{package} is not installed (cg_ir.zoo needs it): {_INSTALL[package]}"
        ) from error


@functools.cache
def _all_models(source: str) -> tuple[str, ...]:
    package = import_zoo(source)
    if source == "torchvision":
        return tuple(sorted(package.models.list_models(module=package.models)))
    return tuple(package.list_models())


def _unknown_model(source: str, model: str) -> InvalidSpecError:
    close = difflib.get_close_matches(model, _all_models(source), n=5, cutoff=0.6)
    hint = f"; close names: {', '.join(close)}" if close else ""
    return InvalidSpecError(
        f"{source} has no model {model!r} (cg_ir.zoo.list_models({source!r}) lists the "
        f"classifiers cg-ir is checked on){hint}"
    )


def _torchvision_input_shape(package: ModuleType, model: str) -> tuple[int, int, int]:
    # the smallest resolution any of the published weights was evaluated at (224 for most,
    # 299 for inception_v3, 240-600 for EfficientNets), and never below the weights' minimum
    weights = list(package.models.get_model_weights(model))
    size = min(
        max(w.transforms.keywords.get("crop_size", 224), *w.meta.get("min_size", (1, 1)))
        for w in weights
    )
    return 3, int(size), int(size)


def load_model(name: str) -> tuple[nn.Module, tuple[int, int, int]]:
    """Build a zoo model with random weights, in eval mode, and its default input shape.

    Args:
        name: ``"torchvision:<model>"`` (built with ``weights=None``) or ``"timm:<model>"``
            (``pretrained=False``); nothing is downloaded.

    Returns:
        The model and its (C, H, W) input: timm's ``pretrained_cfg["input_size"]``; for
        torchvision the smallest crop size among the model's published weights.

    Raises:
        InvalidSpecError: the name is malformed, or the source has no such model (the message
            suggests close names).
        BackendUnavailableError: the source's package is not installed.

    Examples:
        >>> from cg_ir.zoo import load_model
        >>> model, shape = load_model("torchvision:efficientnet_b3")
        >>> type(model).__name__, shape, model.training
        ('EfficientNet', (3, 300, 300), False)
    """
    source, model = _split_name(name)
    package = import_zoo(source)
    if model not in _all_models(source):
        raise _unknown_model(source, model)
    if source == "torchvision":
        net = package.models.get_model(model, weights=None)
        shape = _torchvision_input_shape(package, model)
    else:
        net = package.create_model(model, pretrained=False)
        channels, height, width = net.pretrained_cfg["input_size"]
        shape = (int(channels), int(height), int(width))
    return net.eval(), shape


def _architecture(model: str) -> str:
    return _SIZE_TOKEN.sub("@", re.sub(r"\d+", "#", model))


def _size_order(model: str) -> tuple[tuple[int, int], ...]:
    # compare names token by token: size words by their rank, numbers by value
    tokens = re.findall(r"\d+|[a-z]+", model)
    return tuple(
        (1, int(t)) if t.isdigit() else (0, _SIZE_WORDS.index(t)) if t in _SIZE_WORDS else (2, 0)
        for t in tokens
    )


def _timm_convolutional(timm: ModuleType) -> list[str]:
    smallest: dict[str, str] = {}
    for module in timm.list_modules():
        if module in _TIMM_NON_CONV_MODULES:
            continue
        for model in timm.list_models(module=module):
            if _TIMM_NON_CONV_MODELS.search(model):
                continue
            arch = _architecture(model)
            if arch not in smallest or _size_order(model) < _size_order(smallest[arch]):
                smallest[arch] = model
    return sorted(smallest.values())


def list_models(source: str) -> list[str]:
    """The models of ``source`` that cg-ir's coverage is measured on, without the prefix.

    torchvision: every classification model (``torchvision.models.list_models(module=
    torchvision.models)``). timm: one model per convolutional architecture. A timm model is
    convolutional unless its module (``timm.list_modules()``) is a transformer, attention hybrid,
    MLP-Mixer or recurrent/state-space family (``_TIMM_NON_CONV_MODULES``), or it is one of the
    attention models of a convolutional module (CAFormer, MobileNetV4 hybrids) or a timm test
    fixture (``test_*``). Models whose names differ only in numbers and size words (``resnet18``
    ... ``resnet152``, ``convnext_atto`` ... ``convnext_xxlarge``, ``cs3darknet_s`` ...
    ``cs3darknet_x``) are size variants of one architecture, which is represented by its smallest
    variant (smallest size word, then smallest numbers).

    Args:
        source: one of ``SOURCES``.

    Returns:
        The model names, sorted.

    Raises:
        InvalidSpecError: ``source`` is not one of ``SOURCES``.
        BackendUnavailableError: the source's package is not installed.

    Examples:
        >>> from cg_ir.zoo import list_models
        >>> "resnet50" in list_models("torchvision")
        True
        >>> timm_models = list_models("timm")
        >>> [name in timm_models for name in ("resnet18", "resnet50", "vit_base_patch16_224")]
        [True, False, False]
    """
    package = import_zoo(source)
    if source == "torchvision":
        return list(_all_models(source))
    return _timm_convolutional(package)


def _trainable_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _cpu_attention_flops(
    query_shape: torch.Size,
    key_shape: torch.Size,
    value_shape: torch.Size,
    *args: Any,
    out_shape: Any = None,
    **kwargs: Any,
) -> int:
    return int(sdpa_flop_count(query_shape, key_shape, value_shape))  # type: ignore[no-untyped-call]


# FlopCounterMode's formulas; it counts the CUDA kernels of scaled-dot-product attention but
# not the CPU one that torch picks here, which is counted the same way (its two batched matmuls)
_CPU_ATTENTION = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
_FLOP_FORMULAS = {**flop_registry, _CPU_ATTENTION: shape_wrapper(_cpu_attention_flops)}  # type: ignore[no-untyped-call]


class _ForwardCounter(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """FlopCounterMode's count of every op, and the trainable parameters the ops read."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.trainable = {id(p): p for p in model.parameters() if p.requires_grad}
        self.read: dict[int, int] = {}  # id -> numel of the trainable parameters ops read
        self.flops = 0

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        for value in tree_leaves((args, kwargs)):
            parameter = self.trainable.get(id(value))
            if parameter is not None and parameter is value:
                self.read[id(value)] = parameter.numel()
        out = func(*args, **kwargs)
        formula = _FLOP_FORMULAS.get(func._overloadpacket)
        if formula is not None:
            self.flops += int(formula(*args, **kwargs, out_val=out))
        return out


@dataclass(frozen=True)
class _TorchCounts:
    flops: int  # FlopCounterMode's count
    forward_params: int  # trainable parameters that the forward's ops read


def _run_counted(model: nn.Module, image: torch.Tensor) -> _TorchCounts:
    fast_path = torch.backends.mha.get_fastpath_enabled()
    # the fused inference kernel of nn.MultiheadAttention has no FLOP formula: run its parts
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with _ForwardCounter(model) as counter:
            model(image)
    finally:
        torch.backends.mha.set_fastpath_enabled(fast_path)
    return _TorchCounts(counter.flops, sum(counter.read.values()))


def _torch_counts(model: nn.Module, shape: tuple[int, int, int]) -> _TorchCounts:
    """What torch reports for one image, on fake tensors (no compute) where possible."""
    with torch.no_grad():
        try:
            with FakeTensorMode(allow_non_fake_inputs=True) as fake:
                return _run_counted(model, fake.from_tensor(torch.zeros(1, *shape)))
        except Exception:  # an op without a fake kernel: run it for real
            return _run_counted(model, torch.zeros(1, *shape))


def check_model(name: str) -> ZooResult:
    """Convert a zoo model and compare its graph with torch's own counts.

    The graph's ``params`` must equal the trainable parameters that the model's eval forward
    reads (``forward_params``: all of them, less auxiliary heads that only training runs), and
    the FLOPs of its ``COUNTED_OPS`` nodes (conv, depthwise conv, linear, matmul) must equal
    FlopCounterMode's count of the model at batch size 1 (convolution, mm/addmm/bmm/baddbmm and
    attention; see ``COUNTED_OPS`` for how like is compared with like). torch runs the model on
    fake tensors (no compute) where it can, else on zeros.

    Args:
        name: ``"<source>:<model>"``, as for ``load_model``.

    Returns:
        The result. Failures are recorded, not raised: a cg-ir error from ``from_module`` is an
        unsupported model, any other exception a cg-ir bug (``raw_exception``); failures to
        build or run the model itself have ``stage`` ``"load"`` or ``"count"``.

    Raises:
        InvalidSpecError: the name is malformed or unknown.
        BackendUnavailableError: the source's package is not installed.

    Examples:
        >>> from cg_ir.zoo import check_model
        >>> result = check_model("torchvision:squeezenet1_1")
        >>> result.exact, result.params == result.forward_params == result.trainable_params
        (True, True)
    """
    from cg_ir.fx import from_module

    _split_name(name)
    try:
        model, shape = load_model(name)
    except CgIrError:
        raise
    except Exception as error:  # the zoo's own code failed, not cg-ir
        return _failed(ZooResult(name), "load", error)
    base = ZooResult(name, input_shape=shape, trainable_params=_trainable_params(model))
    start = time.perf_counter()
    try:
        graph = from_module(model, shape)
    except CgIrError as error:
        return _failed(base, "convert", error)
    except Exception as error:  # recorded as the cg-ir bug it is
        return _failed(base, "convert", error, raw=True)
    seconds = time.perf_counter() - start
    node_flops = graph.node_flops()
    converted = ZooResult(
        name,
        input_shape=shape,
        converts=True,
        nodes=graph.num_nodes,
        params=graph.params,
        trainable_params=base.trainable_params,
        flops=sum(node_flops),
        conv_linear_flops=sum(
            f for n, f in zip(graph.nodes, node_flops, strict=True) if n.op in COUNTED_OPS
        ),
        seconds=seconds,
    )
    try:
        counts = _torch_counts(model, shape)
    except Exception as error:  # the model fails to run in torch itself
        return _failed(converted, "count", error)
    return dataclasses.replace(
        converted, forward_params=counts.forward_params, flop_counter_flops=counts.flops
    )


def _failed(result: ZooResult, stage: str, error: BaseException, raw: bool = False) -> ZooResult:
    return dataclasses.replace(
        result,
        stage=stage,
        error_type=type(error).__name__,
        error_message=str(error),
        raw_exception=raw,
    )
