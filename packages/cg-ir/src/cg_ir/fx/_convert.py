"""``from_module``: a PyTorch module to its computation graph."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from cg_ir._graph import ComputationGraph
from cg_ir.fx._lower import Lowerer, check_supported
from cg_ir.fx._trace import clean_graph, evaluation_mode, is_leaf, propagate, trace

__all__ = ["from_module"]


def _batch_of_one(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 4:
        shape = shape[1:]  # the batch axis: graphs describe one sample
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"input_shape must be (C, H, W) or (N, C, H, W) with positive sizes, got "
            f"{tuple(input_shape)}"
        )
    return shape[0], shape[1], shape[2]


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
    output is dropped, and every remaining operation is lowered to a primitive op: conv and
    depthwise conv, linear, batch/layer/group norm, activations, pooling, upsampling, add, mul,
    concat, slice and zero; flatten, reshape, permute, identity and dropout fold away. Node names
    are the module paths the ops come from. The module is traced and run in eval mode on meta
    tensors; afterwards its training flags, parameters and batch-norm statistics are as before
    (not thread-safe: do not train the module in another thread meanwhile).

    Args:
        module: the network; its ``forward`` takes one image tensor and returns one tensor.
        input_shape: ``(C, H, W)`` or ``(N, C, H, W)``; graphs are always at batch size 1.
        leaf_modules: extra module classes to keep whole instead of tracing into them
            (subclasses of the supported torch.nn layers then lower like their base class).
        autowrap_functions: functions to record as one call instead of tracing into them
            (needed for helpers that branch on shapes, e.g. nasbench_pytorch's ``truncate``,
            which lowers to a channel ``slice``).
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
    root_alias = ""
    if is_leaf(module, leaf_modules):
        # fx traces into the root even when it is a layer: give the layer a parent
        module, root_alias = nn.Sequential(module), "0"
    modules = dict(module.named_modules())
    with evaluation_mode(module):
        graph, constants = trace(module, leaf_modules, autowrap_functions, concrete_args)
        clean_graph(graph, modules)
        check_supported(graph, modules, root_alias)
        results = propagate(module, graph, constants, (1, *shape))
    return Lowerer(graph, modules, results, root_alias).run(shape)
