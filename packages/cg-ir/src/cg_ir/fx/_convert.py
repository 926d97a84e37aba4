"""``from_module``: a PyTorch module to its computation graph."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn

from cg_ir._graph import ComputationGraph
from cg_ir.errors import InvalidArgumentError, UnsupportedOperatorError, UntraceableModuleError
from cg_ir.fx._lower import Lowerer, check_supported
from cg_ir.fx._table import timm_notrace
from cg_ir.fx._trace import clean_graph, evaluation_mode, is_leaf, propagate, trace

__all__ = ["from_module"]

_MAX_UNTRACEABLE_BLOCKS = 8
"""How many submodule classes a trace may keep whole because their code cannot be traced."""


def _batch_of_one(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 4:
        shape = shape[1:]  # the batch axis: graphs describe one sample
    if len(shape) != 3 or min(shape) < 1:
        raise InvalidArgumentError(
            f"input_shape must be (C, H, W) or (N, C, H, W) with positive sizes, got "
            f"{tuple(input_shape)}"
        )
    return shape[0], shape[1], shape[2]


def _trace(
    module: nn.Module,
    leaf_modules: Sequence[type[nn.Module]],
    autowrap_functions: Sequence[Callable[..., Any]],
    concrete_args: Mapping[str, Any] | None,
) -> tuple[fx.Graph, dict[str, torch.Tensor], _KeptWhole | None]:
    """``trace``, retried where tracing fails in code that branches on shapes.

    First with every function timm registers as untraceable, then (up to
    ``_MAX_UNTRACEABLE_BLOCKS`` times) with the submodule class whose code failed kept whole:
    such a block is lowered by running it at the concrete shapes (``_attention.inline_module``),
    e.g. timm's MobileViT block, which pads to whole patches only when it has to.
    """
    leaves = list(leaf_modules)
    functions = tuple(autowrap_functions)
    timm_tried = False
    kept: _KeptWhole | None = None
    for _ in range(_MAX_UNTRACEABLE_BLOCKS):
        try:
            return (*trace(module, leaves, functions, concrete_args), kept)
        except UntraceableModuleError as error:
            extra = [f for f in timm_notrace(every_function=True)[1] if f not in functions]
            if extra and not timm_tried:
                functions, timm_tried = (*functions, *extra), True
                continue
            block = error.module_type
            if block is None or block in leaves or block.__module__.startswith("torch."):
                raise
            leaves.append(block)
            kept = _KeptWhole(
                (*kept.classes, block) if kept else (block,), kept.first if kept else error
            )
    return (*trace(module, leaves, functions, concrete_args), kept)


@dataclass(frozen=True)
class _KeptWhole:
    """The submodule classes a trace kept whole, and why (the first tracing failure)."""

    classes: tuple[type, ...]
    first: UntraceableModuleError

    def explain(self, error: UnsupportedOperatorError, modules: Mapping[str, nn.Module]) -> None:
        """Raise ``error`` as the tracing failure it is, if it happened inside a kept block."""
        parts = error.module_path.split(".")
        prefixes = (".".join(parts[:i]) for i in range(1, len(parts) + 1))
        if any(isinstance(modules.get(p), self.classes) for p in prefixes):
            raise UntraceableModuleError(
                f"{self.first} cg-ir then kept that block whole and ran it at the input's "
                f"shapes, which failed too: {error}",
                self.first.module_type,
            ) from error


def from_module(
    module: nn.Module,
    input_shape: Sequence[int],
    *,
    leaf_modules: Sequence[type[nn.Module]] = (),
    autowrap_functions: Sequence[Callable[..., Any]] = (),
    concrete_args: Mapping[str, Any] | None = None,
) -> ComputationGraph:
    """The computation graph of ``module`` on one input of ``input_shape``.

    The module is traced with torch.fx (torch.nn layers and ``cg_ir.nn.Zero`` are leaves),
    shapes are propagated on meta tensors at batch size 1, code whose result does not reach the
    output is dropped, and every remaining operation is lowered to a primitive op: conv (also
    functional, with weights computed from parameters such as weight standardisation, and
    Conv1d as a conv of height 1), linear, norms (also functional with the layer's own
    weights), activations, arithmetic with tensors or Python numbers (``x * 0`` is ``zero``),
    pooling, reductions, padding, upsampling, concat, slicing and cropping, chunk/split,
    reshapes and transposes that change the recorded shape (channel shuffle); flatten,
    squeeze, NCHW <-> NHWC permutes, identity, dropout and stochastic depth fold away. Node
    names are the module paths the ops come from. The module is traced and run in eval mode on meta
    tensors; afterwards its training flags, parameters and batch-norm statistics are as before
    (not thread-safe: do not train the module in another thread meanwhile).

    Args:
        module: the network; its ``forward`` takes one image tensor and returns one tensor.
        input_shape: ``(C, H, W)`` or ``(N, C, H, W)``; graphs are always at batch size 1.
        leaf_modules: extra module classes to keep whole instead of tracing into them
            (subclasses of the supported torch.nn layers then lower like their base class).
        autowrap_functions: functions to record as one call instead of tracing into them
            (needed for helpers that branch on shapes, e.g. nasbench_pytorch's ``truncate``,
            which lowers to a channel ``slice``). For timm models, timm's own registrations
            of such layers and helpers that cg-ir lowers (``Conv2dSame``, ``pad_same``, ...)
            are added automatically.
        concrete_args: values of ``forward``'s Python arguments to specialise on.

    Returns:
        The validated computation graph.

    Raises:
        UnsupportedOperatorError: an operation has no primitive (the message names it and the
            module path where it happens).
        UntraceableModuleError: torch.fx cannot trace the module, or the traced module fails on
            the input shape; the message says how to fix it.
        ValueError: ``input_shape`` is malformed.

    Examples:
        >>> import torch
        >>> from cg_ir.fx import from_module
        >>> net = torch.nn.Sequential(
        ...     torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        ...     torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 10))
        >>> g = from_module(net, (3, 32, 32))
        >>> [n.op for n in g.nodes]
        ['input', 'conv', 'batch_norm', 'relu', 'global_avg_pool', 'linear', 'output']
        >>> g.params == sum(p.numel() for p in net.parameters())
        True
    """
    shape = _batch_of_one(input_shape)
    timm_leaves, timm_functions = timm_notrace()
    leaf_modules = (*leaf_modules, *timm_leaves)
    autowrap_functions = (*autowrap_functions, *timm_functions)
    root_alias = ""
    if is_leaf(module, leaf_modules):
        # fx traces into the root even when it is a layer: give the layer a parent
        module, root_alias = nn.Sequential(module), "0"
    modules = dict(module.named_modules())
    with evaluation_mode(module):
        graph, constants, kept = _trace(module, leaf_modules, autowrap_functions, concrete_args)
        clean_graph(graph, modules)
        check_supported(graph, modules, root_alias)
        results = propagate(module, graph, constants, (1, *shape))
    try:
        return Lowerer(graph, modules, results, root_alias).run(shape)
    except UnsupportedOperatorError as error:
        if kept is not None:
            kept.explain(error, modules)
        raise
