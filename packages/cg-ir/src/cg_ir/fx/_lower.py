"""Lowering a cleaned, shape-propagated fx graph to a computation graph.

The ``Lowerer`` walks the fx nodes in graph order, keeps each node's value (see ``_values``) and
appends one computation-graph node per primitive op; ``_table`` holds the per-op handlers.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from math import prod
from typing import Any, NoReturn, cast

import torch
import torch.nn.functional as F
from torch import fx, nn

from cg_ir._graph import ComputationGraph
from cg_ir._node import Node, Shape
from cg_ir.errors import UnsupportedOperatorError
from cg_ir.fx._trace import AutogradFunctionCall
from cg_ir.fx._values import (
    GraphTensor,
    Layout,
    Opaque,
    TensorMeta,
    TensorSource,
    Zeros,
    graph_shape,
    layout_for,
    layout_of,
    recorded_shape,
)

__all__ = ["ALL_LAYOUTS", "Lowerer", "check_supported"]

ALL_LAYOUTS: tuple[Layout, ...] = ("nchw", "nhwc", "flat", "other", "any")


def _contains_tensor(value: Any) -> bool:
    if isinstance(value, TensorMeta):
        return True
    if isinstance(value, (tuple, list)):
        return any(_contains_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_tensor(v) for v in value.values())
    return False


_WEIGHTED_FUNCTIONS = frozenset({F.linear, F.conv2d})
"""Functional layers whose first argument is the data (the others are weights)."""
_PRODUCT_FUNCTIONS = frozenset({torch.matmul, torch.bmm, operator.matmul, torch.einsum})
_PRODUCT_METHODS = frozenset({"matmul", "bmm", "__matmul__"})


def _contains(value: Any, kind: type) -> bool:
    if isinstance(value, kind):
        return True
    if isinstance(value, (tuple, list)):
        return any(_contains(v, kind) for v in value)
    if isinstance(value, dict):
        return any(_contains(v, kind) for v in value.values())
    return False


def _sources(value: Any) -> dict[str, TensorSource]:
    """The owned tensors that the Opaque values inside ``value`` were computed from."""
    if isinstance(value, Opaque):
        return {s.name: s for s in value.sources}
    found: dict[str, TensorSource] = {}
    items = value.values() if isinstance(value, dict) else value
    if isinstance(value, (tuple, list, dict)):
        for v in items:
            found.update(_sources(v))
    return found


def _as_opaque(result: Any, target: str, sources: tuple[TensorSource, ...]) -> Any:
    """A call's result as Opaque values (tensors) and plain values (everything else)."""
    if isinstance(result, TensorMeta):
        return Opaque(target, result.shape, sources, result.dtype)
    if isinstance(result, (tuple, list)):
        return tuple(_as_opaque(r, target, sources) for r in result)
    return result


def module_path(node: fx.Node, root_alias: str = "") -> str:
    """The dotted path of the module that made ``node`` ("" for the root module).

    ``root_alias`` is the path under which a root layer was given a parent; it is cut off.
    """
    if node.op == "call_module":
        path = str(node.target)
    else:
        stack = node.meta.get("nn_module_stack")
        path = str(list(stack.values())[-1][0]) if stack else ""
    if root_alias:
        path = path.removeprefix(root_alias).removeprefix(".")
    return path


def op_name(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    """A readable name of the operator of ``node`` for error messages."""
    if node.op == "call_module":
        return type(modules[str(node.target)]).__name__
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    if node.op == "get_attr":
        return f"get_attr {node.target}"
    if node.op == "call_function":
        return fx.node._get_qualified_name(cast(Any, node.target))
    return str(node.op)


def check_supported(graph: fx.Graph, modules: dict[str, nn.Module], root_alias: str) -> None:
    """Reject unknown leaf modules and custom autograd Functions before running anything."""
    from cg_ir.fx._modules import call_handler, module_handler

    for node in graph.nodes:
        module = modules.get(str(node.target)) if node.op == "call_module" else None
        unsupported = (
            module is not None and module_handler(module) is None and call_handler(module) is None
        ) or (node.op == "call_function" and isinstance(node.target, AutogradFunctionCall))
        if unsupported:
            raise UnsupportedOperatorError(
                op_name(node, modules),
                module_path(node, root_alias),
                "it is not one of the layers cg-ir lowers (torch.nn conv, linear, norms, "
                "activations, pooling, upsampling, dropout, flatten, identity, cg_ir.nn.Zero); "
                "rewrite it with those layers",
            )


class Lowerer:
    """Builds the computation graph of one traced module; one instance per conversion."""

    def __init__(
        self,
        graph: fx.Graph,
        modules: dict[str, nn.Module],
        results: dict[fx.Node, Any],
        root_alias: str = "",
    ) -> None:
        self.root_alias = root_alias  # the path of a root layer that was given a parent
        self.results = results
        self.modules = modules
        self.graph = graph
        self.nodes: list[Node] = []
        self.edges: list[tuple[int, int]] = []
        self.env: dict[fx.Node, Any] = {}
        self.current: fx.Node | None = None
        self.owned: dict[str, int] = {}  # parameter/constant node of each owned tensor
        self.recordings: dict[GraphTensor, GraphTensor] = {}  # see ``recorded``

    # -- what handlers use ---------------------------------------------------------------
    def fail(self, hint: str) -> NoReturn:
        """Raise UnsupportedOperatorError for the node being lowered."""
        node = cast(fx.Node, self.current)
        path = module_path(node, self.root_alias)
        raise UnsupportedOperatorError(op_name(node, self.modules), path, hint)

    def out(self) -> tuple[int, ...]:
        """The torch shape of the current node's (tensor) result."""
        result = self.results[cast(fx.Node, self.current)]
        if not isinstance(result, TensorMeta):
            self.fail(f"it returns {type(result).__name__}, not one tensor")
        return result.shape

    def cg(self, t: GraphTensor) -> Shape:
        """The (C, H, W) of a graph tensor."""
        return self.nodes[t.node].output_shape

    def tensor(
        self, value: Any, layouts: Sequence[Layout] = ("nchw", "nhwc", "flat")
    ) -> GraphTensor:
        """``value`` as a graph tensor in one of ``layouts``; otherwise say why not."""
        if isinstance(value, GraphTensor):
            if value.layout in layouts:
                return value
            converted = self._convert(value, layouts)
            if converted is not None:
                return converted
            self.fail(
                f"it needs a tensor laid out as {' or '.join(layouts)} ((C, H, W) held as "
                f"(1, C, H, W), (1, H, W, C) or flattened (1, C*H*W)), got shape {value.shape}"
            )
        if isinstance(value, Opaque):
            self.fail(
                f"its operand {value.target!r} is a tensor the network owns (a parameter, "
                "buffer or constant, or computed from them), which this op does not take as "
                "an operand in cg-ir; use it as the weight of a layer or functional conv, "
                "linear or norm, or as an operand of add/mul/sub/div/concat/matmul"
            )
        if isinstance(value, Zeros):
            self.fail(
                "its operand is a zeros/zeros_like tensor, which cg-ir only folds into add; "
                "use cg_ir.nn.Zero for a zero operation"
            )
        if isinstance(value, (int, float, bool, complex)):
            self.fail(
                f"an operand is the Python scalar {value!r}; cg-ir lowers arithmetic between "
                "two tensors only"
            )
        self.fail(f"an operand is {type(value).__name__}, not a tensor")

    def emit(
        self,
        op: str,
        inputs: Sequence[GraphTensor],
        input_shape: Shape,
        output_shape: Shape,
        layout: Layout,
        **attrs: Any,
    ) -> GraphTensor:
        """Append a node fed by ``inputs`` (in order); its result has the current shape."""
        index = len(self.nodes)
        name = module_path(cast(fx.Node, self.current), self.root_alias)
        self.nodes.append(Node(op, input_shape, output_shape, name=name, **attrs))
        self.edges.extend((t.node, index) for t in inputs)
        return GraphTensor(index, layout, self.out())

    def out_shape(self, layout: Layout) -> Shape:
        """The (C, H, W) of the current result, held in ``layout``."""
        shape = graph_shape(self.out(), layout)
        if shape is None:
            self.fail(f"its result of shape {self.out()} is not a {layout} (C, H, W) tensor")
        return shape

    def unary(self, op: str, value: Any, **attrs: Any) -> GraphTensor:
        """A shape-keeping op (activation, norm) on a tensor in any layout."""
        t = self.tensor(value, ("nchw", "nhwc", "flat", "any"))
        shape = self.cg(t)
        return self.emit(op, [t], shape, shape, t.layout, **attrs)

    def reshape(self, value: Any) -> Any:
        """A reshape (view, flatten, squeeze, ...) to the current result's shape; see ``view``."""
        target = self.out()
        if isinstance(value, Zeros):
            return Zeros(target)
        return self.view(value, target)

    def view(self, value: Any, shape: tuple[int, ...]) -> GraphTensor:
        """``value`` reshaped to torch ``shape`` (same elements in the same order).

        Flatten/unflatten/squeeze/unsqueeze of a (C, H, W) tensor fold away as in v1, as does
        any reshape that keeps the recorded shape. Any other reshape is pending (layout
        ``other``): a consumer that needs the new shape gets one ``reshape`` node, so a chain
        of views costs one node. A channels-last feature map is first transposed to the
        element order torch holds it in (NHWC), except when it is flattened (v1's fold).
        """
        t = self.tensor(value, ALL_LAYOUTS)
        if shape == t.shape:
            return t
        if t.layout == "nhwc" and layout_for(shape) != "flat":
            t = self.recorded(t)
        cg = self.cg(t)
        layout = layout_of(shape, cg) if len(cg) == 3 else None
        if layout in ("nchw", "flat"):
            return GraphTensor(t.node, cast(Layout, layout), shape)
        if recorded_shape(shape) == cg:
            return GraphTensor(t.node, layout_for(shape), shape)
        return GraphTensor(t.node, "other", shape)

    def transpose(self, value: Any, order: Sequence[int]) -> GraphTensor:
        """``value`` with its torch axes permuted to ``order`` (``torch.permute``'s dims).

        NCHW <-> NHWC of a feature map folds (a layout change); a permute that moves only
        axes of size 1 is a reshape (see ``view``); any other emits one ``transpose`` node
        from the recorded shape to the recorded shape of the result.
        """
        t = self.tensor(value, ALL_LAYOUTS)
        rank = len(t.shape)
        axes = tuple(int(d) % rank for d in order)
        if sorted(axes) != list(range(rank)):
            self.fail(f"dims {tuple(order)} are not a permutation of the {rank} axes")
        shape = tuple(t.shape[a] for a in axes)
        if axes == tuple(range(rank)):
            return t
        if t.layout == "other":
            t = self.recorded(t)
        batch_first = rank == 4 and t.shape[0] == 1
        if batch_first and axes == (0, 2, 3, 1) and self.cg(t) == t.shape[1:]:
            if t.layout in ("nchw", "any"):
                return GraphTensor(t.node, "nhwc", shape)
        if batch_first and axes == (0, 3, 1, 2) and t.layout == "nhwc":
            return GraphTensor(t.node, "nchw", shape)
        source = self.recorded(t)
        moved = [a for a in axes if t.shape[a] != 1]
        if moved == sorted(moved):
            return self.view(source, shape)
        return self.append("transpose", [source], self.cg(source), recorded_shape(shape), shape)

    def recorded(self, value: Any) -> GraphTensor:
        """``value`` as torch holds it: its graph shape is ``recorded_shape`` of its torch shape.

        A channels-last feature map gets a ``transpose`` node (C, H, W) -> (H, W, C), a
        pending or v1-folded reshape a ``reshape`` node; NCHW feature maps and vectors are
        recorded already. Conversions are made once per tensor. The result's layout is
        ``any`` (``flat`` for vectors).
        """
        t = self.tensor(value, ALL_LAYOUTS)
        if t in self.recordings:
            return self.recordings[t]
        cg, want = self.cg(t), recorded_shape(t.shape)
        if t.layout == "nhwc":
            c, h, w = cg
            result = self.append("transpose", [t], cg, (h, w, c), t.shape)
        elif cg == want:
            result = GraphTensor(t.node, layout_for(t.shape), t.shape)
        else:
            result = self.append("reshape", [t], cg, want, t.shape)
        self.recordings[t] = result
        return result

    def append(
        self,
        op: str,
        inputs: Sequence[GraphTensor],
        input_shape: Shape,
        output_shape: Shape,
        shape: tuple[int, ...],
        **attrs: Any,
    ) -> GraphTensor:
        """Append a node whose result has torch ``shape`` recorded as ``output_shape``.

        Unlike ``emit``, for results other than the current node's (conversions, the
        primitives a composite call such as attention lowers to). The layout is
        ``layout_for(shape)``, so ``output_shape`` must be ``recorded_shape(shape)``.
        """
        index = len(self.nodes)
        name = module_path(cast(fx.Node, self.current), self.root_alias)
        self.nodes.append(Node(op, input_shape, output_shape, name=name, **attrs))
        self.edges.extend((t.node, index) for t in inputs)
        return GraphTensor(index, layout_for(shape), shape)

    def _convert(self, t: GraphTensor, layouts: Sequence[Layout]) -> GraphTensor | None:
        """``t`` in one of ``layouts`` by a relabel or a conversion node, else None."""
        if t.layout == "other" and ("any" in layouts or "flat" in layouts or "nchw" in layouts):
            t = self.recorded(t)  # the consumer needs the pending reshape's shape
            if t.layout in layouts:
                return t
        rank4 = len(t.shape) == 4 and t.shape[0] == 1 and self.cg(t) == t.shape[1:]
        if t.layout == "any" and "nchw" in layouts and rank4:
            return GraphTensor(t.node, "nchw", t.shape)
        if "any" in layouts and t.layout in ("nchw", "nhwc", "flat"):
            return self.recorded(t)
        return None

    def owned_node(self, value: Opaque) -> int:
        """The node of an owned tensor used as an operand (parameters enter the graph here).

        Each parameter, buffer or constant it was computed from becomes one ``parameter``
        (trainable) or ``constant`` source node, shared by every use so that parameters are
        counted once. A tensor computed from them (``gamma[:, None, None]``, a bias table
        gathered by an index buffer) adds a ``reshape`` (same size, one source) or ``gather``
        node whose output has its shape. Returns the index of the node that holds ``value``.
        """
        shape = value.shape or (1,)
        inputs = []
        for source in value.sources:
            if source.name not in self.owned:
                own = source.shape or (1,)
                op = "parameter" if source.trainable else "constant"
                self.nodes.append(Node(op, own, own, name=source.name))
                self.owned[source.name] = len(self.nodes) - 1
            inputs.append(self.owned[source.name])
        if not inputs:  # a tensor made in forward from nothing (torch.arange, torch.ones)
            self.nodes.append(Node("constant", shape, shape, name=value.target))
            return len(self.nodes) - 1
        first = self.nodes[inputs[0]].output_shape
        if len(inputs) == 1 and first == shape:
            return inputs[0]
        op = "reshape" if len(inputs) == 1 and prod(first) == prod(shape) else "gather"
        index = len(self.nodes)
        name = module_path(cast(fx.Node, self.current), self.root_alias)
        self.nodes.append(Node(op, first, shape, name=name))
        self.edges.extend((i, index) for i in inputs)
        return index

    def _fold(self, node: fx.Node, args: Any, kwargs: Any) -> Any:
        """A call on owned tensors only: its result is owned too (computed once, folded).

        A module called on owned tensors adds its own parameters and buffers to the sources,
        so that they are counted where the result enters the graph.
        """
        sources = {**_sources(args), **_sources(kwargs)}
        if node.op == "call_module":
            module = self.modules[str(node.target)]
            owned = itertools.chain(module.named_parameters(), module.named_buffers())
            for name, tensor in owned:
                path = f"{node.target}.{name}"
                trainable = isinstance(tensor, nn.Parameter) and tensor.requires_grad
                sources[path] = TensorSource(path, tuple(tensor.shape), trainable)
        return _as_opaque(self.results[node], op_name(node, self.modules), tuple(sources.values()))

    def _owned_data(self, node: fx.Node, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The arguments of weighted work on owned tensors, data operands made graph tensors.

        A conv, linear or matrix product of owned tensors alone (Swin V2's MLP over its
        coordinate table, MaxViT's einsum of a bias table) is work the network does in every
        forward pass: it is lowered like any other, on ``parameter``/``constant`` nodes, so its
        FLOPs count. Returns None for other calls, which fold.
        """
        data: tuple[int, ...]
        if node.op == "call_module":
            weighted = isinstance(self.modules[str(node.target)], nn.Linear | nn.Conv2d)
            data = (0,)
        elif node.op == "call_method":
            weighted, data = str(node.target) in _PRODUCT_METHODS, (0, 1)
        else:
            weighted = node.target in _WEIGHTED_FUNCTIONS or node.target in _PRODUCT_FUNCTIONS
            data = (0,) if node.target in _WEIGHTED_FUNCTIONS else tuple(range(len(args)))
        if not weighted:
            return None
        return tuple(
            self._owned_graph_tensor(a) if i in data and isinstance(a, Opaque) else a
            for i, a in enumerate(args)
        )

    def _owned_graph_tensor(self, value: Opaque) -> GraphTensor:
        """An owned tensor as a graph tensor held as torch holds it (a pending view)."""
        shape = value.shape or (1,)
        return GraphTensor(self.owned_node(value), "other", shape)

    def _owned_tensor(self, node: fx.Node) -> Opaque:
        """The Opaque value of a get_attr of a parameter, buffer or tracer constant."""
        target = str(node.target)
        owner_path, _, attr = target.rpartition(".")
        owner = self.modules.get(owner_path)
        tensor = getattr(owner, attr, None) if owner is not None else None
        meta = cast(TensorMeta, self.results[node])
        trainable = isinstance(tensor, nn.Parameter) and tensor.requires_grad
        return Opaque(
            target, meta.shape, (TensorSource(target, meta.shape, trainable),), meta.dtype
        )

    # -- the walk ------------------------------------------------------------------------
    def run(self, input_shape: Shape) -> ComputationGraph:
        from cg_ir.fx._table import call, has_lowering

        self.nodes.append(Node("input", input_shape, input_shape))
        inputs = 0
        for node in self.graph.nodes:
            self.current = node
            result = self.results.get(node)
            if node.op == "placeholder":
                if inputs and _contains_tensor(result):
                    self.fail("from_module feeds the module one input tensor; this is another")
                self.env[node] = GraphTensor(0, "nchw", (1, *input_shape)) if not inputs else result
                inputs += 1
            elif node.op == "output":
                return self._finish(fx.node.map_arg(node.args[0], self.env.__getitem__))
            elif node.op == "get_attr":
                owned = isinstance(result, TensorMeta)
                self.env[node] = self._owned_tensor(node) if owned else result
            elif not _contains_tensor(result) and node.op != "call_module":
                self.env[node] = result  # sizes, devices, flags: only shapes depend on them
            else:
                args = fx.node.map_arg(node.args, self.env.__getitem__)
                kwargs = fx.node.map_arg(node.kwargs, self.env.__getitem__)
                operands = (args, kwargs)
                # computations on owned tensors alone fold (weight standardisation, a gathered
                # bias table), as do tensors made from nothing that no primitive lowers
                owned_only = not _contains(operands, GraphTensor) and (
                    _contains(operands, Opaque) or not has_lowering(self, node)
                )
                lowered = self._owned_data(node, tuple(args)) if owned_only else tuple(args)
                if lowered is None:
                    self.env[node] = self._fold(node, args, kwargs)
                else:
                    self.env[node] = call(self, node, lowered, dict(kwargs))
        raise AssertionError("an fx graph always ends with its output node")

    def _finish(self, value: Any) -> ComputationGraph:
        if isinstance(value, (tuple, list, dict)):
            self.fail(
                f"the module returns a {type(value).__name__} of {len(value)} values, but "
                "from_module needs one output tensor; return a single tensor (or wrap the "
                "module in one that picks the output to convert)"
            )
        t = self.tensor(value, ALL_LAYOUTS)
        if t.layout == "other":  # a reshape still pending: the output has the new shape
            t = self.recorded(t)
        shape = self.cg(t)
        self.nodes.append(Node("output", shape, shape))
        self.edges.append((t.node, len(self.nodes) - 1))
        return ComputationGraph(self.nodes, self.edges)
