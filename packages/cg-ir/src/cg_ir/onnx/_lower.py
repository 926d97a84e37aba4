"""Lowering an ONNX graph (shapes inferred, patterns fused) to a computation graph.

The ``Lowerer`` walks the ONNX nodes in order, keeps each value (see ``_values``) and appends one
computation-graph node per primitive op; ``_ops`` and ``_layers`` hold the per-op handlers. A
node whose inputs are all constants is evaluated with ONNX's reference implementation instead.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from math import prod
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from cg_ir._graph import ComputationGraph
from cg_ir._node import DATA_MOVEMENT_OPS, Node, Shape
from cg_ir.errors import GraphSerializationError, UnsupportedOperatorError
from cg_ir.onnx._fuse import DOMAIN
from cg_ir.onnx._values import Const, Layout, Tensor, graph_shape, layout_after_reshape

__all__ = ["Lowerer", "Value", "node_name"]

Value = Tensor | Const | None
"""An ONNX value while lowering; None for an omitted optional input."""

_FLOAT_TYPES = frozenset(
    {
        onnx.TensorProto.FLOAT,
        onnx.TensorProto.FLOAT16,
        onnx.TensorProto.BFLOAT16,
        onnx.TensorProto.DOUBLE,
    }
)


def node_name(node: onnx.NodeProto) -> str:
    """A readable module path for ``node``: the torch scope the exporter recorded, if any.

    Examples:
        >>> from onnx import helper
        >>> node_name(helper.make_node("Conv", [], [], name="/layer1/layer1.0/conv1/Conv"))
        'layer1.0.conv1'
        >>> node_name(helper.make_node("Relu", [], [], name="relu_3"))
        'relu_3'
    """
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":  # torch.export-based exporter
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                break
            return _module_path([str(s) for s in scopes[:-1] if s])
    if not node.name.startswith("/"):
        return node.name
    return _module_path(node.name.split("/")[1:-1])  # TorchScript exporter: /a/a.0/Conv


def _module_path(scopes: list[str]) -> str:
    """Join nested scopes where each may repeat its parent: [a, a.0, b, b.1] -> a.0.b.1."""
    path: list[str] = []
    for scope in scopes:
        if path and scope.startswith(path[-1] + "."):
            path[-1] = scope
        else:
            path.append(scope)
    return ".".join(path)


def _initializer(tensor: onnx.TensorProto, base_dir: str) -> Const:
    def load() -> npt.NDArray[Any]:
        try:
            return numpy_helper.to_array(tensor, base_dir)
        except (OSError, ValueError) as error:  # external data missing or malformed
            raise GraphSerializationError(
                f"cannot read the values of initializer {tensor.name!r}: {error}"
            ) from error

    const = Const(
        load, tuple(int(d) for d in tensor.dims), trainable=tensor.data_type in _FLOAT_TYPES
    )
    const.roots = (const,)
    return const


class Lowerer:
    """Builds the computation graph of one ONNX model; one instance per conversion."""

    def __init__(
        self,
        model: onnx.ModelProto,
        nodes: Sequence[onnx.NodeProto],
        shapes: dict[str, tuple[int, ...]],
        base_dir: str,
    ) -> None:
        self.model = model
        self.onnx_nodes = nodes
        self.shapes = shapes
        self.nodes: list[Node] = []
        self.edges: list[tuple[int, int]] = []
        self.env: dict[str, Value] = {"": None}
        self.current: onnx.NodeProto | None = None
        self.uses: dict[str, int] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in nodes:
            for name in node.input:
                self.uses[name] = self.uses.get(name, 0) + 1
                self.consumers.setdefault(name, []).append(node)
        for value in model.graph.output:
            self.uses[value.name] = self.uses.get(value.name, 0) + 1
        self._recorded: dict[int, Tensor] = {}
        self._roots: dict[int, Tensor] = {}
        self.producers = {name: node for node in nodes for name in node.output}
        self.opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
        for tensor in model.graph.initializer:
            self.env[tensor.name] = _initializer(tensor, base_dir)

    # -- what handlers use ---------------------------------------------------------------
    @property
    def opset(self) -> int:
        """The default-domain opset version of the model."""
        return int(self.opsets.get("ai.onnx", 1))

    def fail(self, hint: str) -> NoReturn:
        """Raise UnsupportedOperatorError for the node being lowered."""
        node = self.current
        op = node.op_type if node is not None else "graph"
        raise UnsupportedOperatorError(op, node_name(node) if node is not None else "", hint)

    def attr(self, name: str, default: Any = None) -> Any:
        """The value of the current node's attribute ``name`` (``default`` if absent)."""
        assert self.current is not None
        for a in self.current.attribute:
            if a.name == name:
                value = onnx.helper.get_attribute_value(a)
                return value.decode() if isinstance(value, bytes) else value
        return default

    def out(self, index: int = 0) -> tuple[int, ...]:
        """The ONNX shape of the current node's output ``index`` (batch axis 1)."""
        assert self.current is not None
        name = self.current.output[index]
        if name not in self.shapes:
            self._run_for_shapes()
        if name not in self.shapes:
            self.fail(
                f"ONNX shape inference leaves the shape of its output {name!r} unknown; give the "
                "model static input shapes (or run onnx.shape_inference / onnxsim first)"
            )
        return self.shapes[name]

    def cg(self, t: Tensor) -> Shape:
        """The cg-ir shape of a graph tensor."""
        return self.nodes[t.node].output_shape

    def tensor(self, value: Value, layouts: Sequence[Layout] = ("nchw", "nhwc", "flat")) -> Tensor:
        """``value`` as a graph tensor in one of ``layouts``; otherwise say why not."""
        if isinstance(value, Tensor):
            if value.layout in layouts:
                return value
            self.fail(
                f"it needs a tensor laid out as {' or '.join(layouts)}, got shape {value.shape}"
            )
        if isinstance(value, Const):
            self.fail(
                f"an operand is a constant of shape {value.shape} where a tensor computed "
                "from the network's input is needed"
            )
        self.fail("a required input is missing")

    def const(self, value: Value, what: str) -> Const:
        """``value`` as a constant (a weight, a shape, axes); otherwise say why not."""
        if isinstance(value, Const):
            return value
        self.fail(f"its {what} must be a constant (an initializer), got a computed tensor")

    def ints(self, value: Value, what: str) -> list[int]:
        """A constant's values as a list of ints (axes, pads, sizes)."""
        return [int(v) for v in self.const(value, what).array().reshape(-1)]

    def emit(
        self,
        op: str,
        inputs: Sequence[Tensor],
        input_shape: Shape,
        output_shape: Shape,
        layout: Layout,
        shape: tuple[int, ...] | None = None,
        **attrs: Any,
    ) -> Tensor:
        """Append a node fed by ``inputs`` (in order); its result has ONNX ``shape``.

        ``shape`` defaults to the current node's first output.
        """
        index = len(self.nodes)
        name = node_name(self.current) if self.current is not None else ""
        self.nodes.append(Node(op, input_shape, output_shape, name=name, **attrs))
        self.edges.extend((t.node, index) for t in inputs)
        return Tensor(index, layout, self.out() if shape is None else shape)

    def out_shape(self, layout: Layout, index: int = 0) -> Shape:
        """The cg-ir shape of the current node's output ``index``, held in ``layout``."""
        shape = graph_shape(self.out(index), layout)
        if shape is None:
            self.fail(f"its result of shape {self.out(index)} is not a {layout} tensor")
        return shape

    def unary(self, op: str, value: Value, **attrs: Any) -> Tensor:
        """A shape-keeping op (activation, norm) on a tensor in any layout."""
        t = self.tensor(value, ("nchw", "nhwc", "flat", "other", "raw"))
        shape = self.cg(t)
        return self.emit(op, [t], shape, shape, t.layout, **attrs)

    def source(self, c: Const, like: Tensor | None = None) -> Tensor:
        """A ``parameter`` (float initializer) or ``constant`` node holding ``c``, as it is.

        Used as an operand of ``like`` whose layout holds it differently (a per-channel
        ``(C,)`` scale of a channels-last map is ``(C, 1, 1)`` in cg-ir shapes), a ``reshape``
        node follows, as in the torch.fx path.
        """
        own: Shape = c.shape or (1,)
        if like is not None and like.layout in ("other", "raw") and len(own) <= len(like.shape):
            # as torch.fx: leading size-1 axes beyond the rank of the other operand's graph
            # shape are its batch axis ((1, L, C) pos-embed, (1, 1, C) class token): viewed
            # without them; (C,) broadcasts as it is. A tensor computed here (Swin's mask and
            # bias) is made in that shape.
            padded = (1,) * (len(like.shape) - len(own)) + own
            mapped = own
            while len(mapped) > len(self.cg(like)) and mapped[0] == 1:
                mapped = mapped[1:]
            if c.roots != (c,):  # computed from initializers (viewed, gathered)
                return self._node_of(c, mapped, like.layout, padded)
            t = self._node_of(c, own, like.layout, padded)
            if mapped == own:
                return t
            return self.emit("reshape", [t], own, mapped, like.layout, padded)
        t = self._node_of(c, own, "other", c.shape)
        if like is None or len(c.shape) > len(like.shape):
            return t
        padded = (1,) * (len(like.shape) - len(c.shape)) + c.shape
        image = graph_shape(padded, like.layout)
        if image is None:
            return t
        if _broadcasts_to(own, self.cg(like)):
            # as torch.fx: an operand that broadcasts against the graph shape as it is stays so
            return Tensor(t.node, like.layout, padded)
        return self.emit("reshape", [t], own, image, like.layout, padded)

    def _node_of(self, c: Const, shape: Shape, layout: Layout, onnx_shape: Shape) -> Tensor:
        """The node that makes ``c`` with graph shape ``shape``.

        A constant computed from learned initializers is their shared source nodes, then a
        ``reshape`` (one source) or ``gather``; anything else is a source node of its own.
        """
        # (a weight viewed before use, ``scale.view(C, 1, 1)``, is its parameter and a reshape)
        learned = c.roots != (c,) and any(r.trainable for r in c.roots)
        if not learned:
            op = "parameter" if c.trainable else "constant"
            name = node_name(self.current) if self.current else ""
            self.nodes.append(Node(op, shape, shape, name=name))
            return Tensor(len(self.nodes) - 1, layout, onnx_shape)
        # an index buffer gathers flattened (``table[index.view(-1)]``, MaxViT's and Swin's
        # relative-position index), as torch.fx records it
        sources = [self.root_node(r, flat=len(c.roots) > 1 and _is_index(r)) for r in c.roots]
        first = self.cg(sources[0])
        if len(sources) == 1 and first == shape:
            return Tensor(sources[0].node, layout, onnx_shape)
        op = "reshape" if len(sources) == 1 and prod(first) == prod(shape) else "gather"
        return self.emit(op, sources, first, shape, layout, onnx_shape)

    def recorded(self, t: Tensor) -> Tensor:
        """A channels-last map as torch holds it, ``(H, W, C)``: a ``transpose`` node.

        As in the torch.fx path, where a map leaves layout tracking (Swin's windows, a residual
        sum with tokens) it is recorded in the element order of its ONNX shape. Other tensors are
        returned as they are.
        """
        if t.layout != "nhwc":
            return t
        if t.node not in self._recorded:
            c, h, w = self.cg(t)
            self._recorded[t.node] = self.emit("transpose", [t], (c, h, w), (h, w, c), "other")
        return Tensor(self._recorded[t.node].node, "other", t.shape)

    def root_node(self, root: Const, *, flat: bool = False) -> Tensor:
        """The ``parameter``/``constant`` node of initializer ``root``, made once and shared.

        ``flat``: its graph shape is its number of elements (an index buffer).
        """
        if id(root) not in self._roots:
            shape: Shape = (prod(root.shape),) if flat else root.shape or (1,)
            op = "parameter" if root.trainable else "constant"
            name = node_name(self.current) if self.current else ""
            self.nodes.append(Node(op, shape, shape, name=name))
            self._roots[id(root)] = Tensor(len(self.nodes) - 1, "other", root.shape)
        return self._roots[id(root)]

    def reshape(self, value: Value, target: tuple[int, ...]) -> Tensor:
        """Fold a reshape to ONNX shape ``target`` when it keeps the cg-ir shape, else a node."""
        t = self.tensor(value, ("nchw", "nhwc", "flat", "other", "raw"))
        if target == t.shape:
            return t
        if len(target) not in (2, 4):
            t = self.recorded(t)
        cg = self.cg(t)
        if t.layout != "nhwc":
            kept = layout_after_reshape(target, cg)
            if kept is not None:
                return Tensor(t.node, kept, target)
            if target[1:] == cg and t.layout == "other":
                return Tensor(t.node, "other", target)
        layout: Layout = "nchw" if len(target) == 4 else "flat" if len(target) == 2 else "other"
        if (target[0] != 1 or t.layout == "raw") and t.layout in ("other", "raw"):
            layout = "raw"  # the batch axis moved or merged (see _values)
        out = graph_shape(target, layout)
        if out is None:
            self.fail(f"reshaping {t.shape} to {target}: cg-ir graphs are at batch size 1")
        if out == cg:
            return Tensor(t.node, layout, target)
        return self._view(t, out, layout, target)

    def _view(self, t: Tensor, shape: Shape, layout: Layout, target: tuple[int, ...]) -> Tensor:
        """A ``reshape`` node of ``t`` to graph ``shape``; a reshape of a reshape is one.

        torch.fx composes views until a tensor is used (a permute uses it): a ``reshape`` node
        that fed only the current view is retargeted (and dropped when the views undo each
        other).
        """
        assert self.current is not None
        node = self.nodes[t.node]
        only_use = self.uses.get(self.current.input[0], 0) == 1 and not any(
            src == t.node for src, _ in self.edges
        )
        producer = self.producers.get(self.current.input[0])
        # only a view of a view composes: a Transpose moving size-1 axes in between records
        # the first view, as torch.fx's permute does (Swin's last-stage window partition)
        chained = (
            node.op == "reshape"
            and self.current.op_type in _VIEW_OPS
            and producer is not None
            and producer.op_type in _VIEW_OPS
        )
        if not chained or not only_use or t.node != len(self.nodes) - 1:
            return self.emit("reshape", [t], self.cg(t), shape, layout, target)
        if node.input_shape == shape:
            self.nodes.pop()
            source = next(src for src, dst in self.edges if dst == t.node)
            self.edges.remove((source, t.node))
            return Tensor(source, layout, target)
        self.nodes[t.node] = node._replace(output_shape=shape)
        return Tensor(t.node, layout, target)

    # -- the walk ------------------------------------------------------------------------
    def run(self) -> ComputationGraph:
        from cg_ir.onnx._table import lower_node

        self._input()
        for node in self.onnx_nodes:
            self.current = node
            args = [
                self.env[name] if name in self.env else self._missing(name) for name in node.input
            ]
            if all(isinstance(a, Const) or a is None for a in args):
                results: Sequence[Value] = self._evaluate(node, args)
            else:
                results = lower_node(self, node, args)
            for name, value in zip(node.output, results, strict=False):
                self.env[name] = value
        self.current = None
        return self._finish()

    def _missing(self, name: str) -> NoReturn:
        self.fail(f"its input {name!r} is produced by no node, initializer or graph input")

    def _input(self) -> None:
        graph = self.model.graph
        initializers = {t.name for t in graph.initializer}
        inputs = [v for v in graph.input if v.name not in initializers]
        if len(inputs) != 1:
            self.fail(
                f"the model has {len(inputs)} inputs ({[v.name for v in inputs]}); cg-ir graphs "
                "take one input tensor"
            )
        name = inputs[0].name
        shape = self.shapes.get(name)
        if shape is None:
            self.fail(f"its input {name!r} has no static shape besides the batch axis")
        layout = self._input_layout(name, shape)
        cg = graph_shape(shape, layout)
        if cg is None:
            self.fail(f"its input {name!r} of shape {shape} is not a batch of one")
        self.nodes.append(Node("input", cg, cg))
        self.env[name] = Tensor(0, layout, shape)

    def _input_layout(self, name: str, shape: tuple[int, ...]) -> Layout:
        """NHWC when every consumer of a 4-D input moves its last axis to the channels."""
        if len(shape) == 2:
            return "flat"
        if len(shape) != 4:
            return "other"
        users = [n for n in self.onnx_nodes if name in n.input]
        nhwc = bool(users) and all(
            n.op_type == "Transpose" and list(self.attr_of(n, "perm")) == [0, 3, 1, 2]
            for n in users
        )
        return "nhwc" if nhwc else "nchw"

    @staticmethod
    def attr_of(node: onnx.NodeProto, name: str) -> Any:
        """The value of ``node``'s attribute ``name`` (``()`` if absent)."""
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return ()

    def _run_for_shapes(self) -> None:
        """Run the current node on zeros to get the output shapes inference left open.

        (Sizes computed by constant subgraphs, e.g. the scales of a Resize.)
        """
        node = self.current
        assert node is not None
        args = [self.env.get(name) for name in node.input]
        first = args[0] if args else None
        if node.domain == DOMAIN and isinstance(first, Tensor):
            # the patterns fused into cg_ir ops (SiLU, GroupNorm, ...) keep their input's shape
            self.shapes[node.output[0]] = first.shape
            return
        feeds = {
            name: np.zeros(a.shape, np.float32) if isinstance(a, Tensor) else a.array()
            for name, a in zip(node.input, args, strict=True)
            if a is not None
        }
        for name, value in zip(node.output, self._run(node, feeds), strict=False):
            self.shapes[name] = tuple(int(d) for d in np.shape(value))

    def _run(self, node: onnx.NodeProto, feeds: dict[str, npt.NDArray[Any]]) -> list[Any]:
        """``node``'s outputs on ``feeds`` by ONNX's reference implementation."""
        graph = onnx.helper.make_graph(
            [node],
            "fold",
            [
                onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None)
                for n in feeds
            ],
            [
                onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None)
                for n in node.output
            ],
        )
        model = onnx.helper.make_model(graph, opset_imports=self.model.opset_import)
        try:
            return list(ReferenceEvaluator(model).run(None, feeds))
        except Exception as error:  # noqa: BLE001 - any failure of the reference code
            self.fail(f"ONNX's reference implementation fails on it: {error}")

    def _evaluate(self, node: onnx.NodeProto, args: list[Value]) -> list[Const]:
        """Constant folding: run ``node`` on its constant inputs."""
        feeds = {
            name: a.array()
            for name, a in zip(node.input, args, strict=True)
            if isinstance(a, Const)
        }
        values = self._run(node, feeds)
        origin = next((a.shape_of for a in args if isinstance(a, Const) and a.shape_of), None)
        trainable = any(isinstance(a, Const) and a.trainable for a in args)
        if node.op_type == "Expand":  # keeps a weight only when it copies nothing (batch 1)
            trainable = trainable and np.shape(values[0]) == np.shape(feeds[node.input[0]])
        roots = tuple({id(r): r for a in args if isinstance(a, Const) for r in a.roots}.values())
        results = [
            Const(
                np.asarray(v),
                trainable=trainable and node.op_type in _KEEP_TRAINABLE,
                shape_of=origin,
                roots=roots,
            )
            for v in values
        ]
        first = args[0] if args else None
        if node.op_type == "Identity" and isinstance(first, Const) and first.roots == (first,):
            # the exporter shares one initializer among equal tensors (Swin's index buffers)
            # through Identity nodes: each name is a tensor of its own, as in torch
            results[0].trainable = first.trainable
            results[0].roots = (results[0],)
        return results

    def _finish(self) -> ComputationGraph:
        outputs = list(self.model.graph.output)
        if len(outputs) != 1:
            self.fail(
                f"the model has {len(outputs)} outputs; cg-ir graphs have one (cut the model to "
                "the output to convert, e.g. with onnx.utils.extract_model)"
            )
        t = self.tensor(self.env.get(outputs[0].name), ("nchw", "nhwc", "flat", "other", "raw"))
        shape = self.cg(t)
        self.nodes.append(Node("output", shape, shape))
        self.edges.append((t.node, len(self.nodes) - 1))
        return ComputationGraph(*_without_dead_ends(self.nodes, self.edges))


def _is_index(c: Const) -> bool:
    """Whether ``c`` is a fixed integer tensor (indices), not a weight."""
    return not c.trainable and np.issubdtype(c.array().dtype, np.integer)


def _without_dead_ends(
    nodes: list[Node], edges: list[tuple[int, int]]
) -> tuple[list[Node], list[tuple[int, int]]]:
    """Drop data-movement and ``scale`` nodes nothing consumes and renumber the rest.

    (Handlers that fuse a chain of reshapes and transposes into one slice, or move two scales
    after a matmul, leave them behind.)
    """
    dead: set[int] = set()
    while True:
        used = {src for src, dst in edges if dst not in dead}
        more = {
            i for i, n in enumerate(nodes) if i not in dead and i not in used and n.op in _DROPPABLE
        }
        if not more:
            break
        dead |= more
    index = {old: new for new, old in enumerate(i for i in range(len(nodes)) if i not in dead)}
    kept = [n for i, n in enumerate(nodes) if i not in dead]
    return kept, [(index[s], index[d]) for s, d in edges if s not in dead and d not in dead]


def _broadcasts_to(shape: Shape, target: Shape) -> bool:
    """Whether ``shape`` broadcasts against ``target`` (torch's right-aligned rule)."""
    extra = len(shape) - len(target)
    if extra > 0 and any(d != 1 for d in shape[:extra]):
        return False
    return all(a in (b, 1) for a, b in zip(shape[::-1], target[::-1], strict=False))


_DROPPABLE = DATA_MOVEMENT_OPS | {"scale"}

_VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze"})

_KEEP_TRAINABLE = frozenset(
    {"Identity", "Transpose", "Reshape", "Cast", "Squeeze", "Unsqueeze", "Expand"}
)
"""Folded ops that pass a weight on unchanged (a weight stays a parameter through them)."""
