"""Patterns of several ONNX nodes that one cg-ir op stands for, and dead-code removal.

Exporters write some torch layers as small subgraphs: SiLU as ``x * Sigmoid(x)``, Hardswish
(before opset 14) as ``x * HardSigmoid(x)``, GELU (before opset 20) with ``Erf``, GroupNorm
(torch's TorchScript exporter) as ``Reshape -> InstanceNormalization -> Reshape -> Mul -> Add``.
``fuse`` rewrites each such subgraph into one node of the domain ``cg_ir`` (``SiLU``,
``HardSwish``, ``Gelu``, ``GroupNorm``) that ``_table`` lowers like the torch layer, then drops
the nodes whose outputs reach no graph output. (The bias ``Add`` after a ``MatMul`` folds into
the linear node while lowering.)
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx
from onnx import helper

__all__ = ["DOMAIN", "fuse"]

DOMAIN = "cg_ir"


class _Graph:
    """The nodes with who produces and who consumes each value."""

    def __init__(self, nodes: Sequence[onnx.NodeProto], outputs: set[str]) -> None:
        self.nodes = list(nodes)
        self.outputs = outputs
        self.producer = {name: n for n in self.nodes for name in n.output if name}
        self.users: dict[str, list[onnx.NodeProto]] = {}
        for n in self.nodes:
            for i, name in enumerate(n.input):
                if n.op_type == "CastLike" and i == 1:
                    continue  # it reads only the dtype of its second input
                self.users.setdefault(name, []).append(n)

    def only_user(self, name: str) -> onnx.NodeProto | None:
        """The single consumer of value ``name`` (None if several, none, or a graph output)."""
        users = self.users.get(name, [])
        return users[0] if len(users) == 1 and name not in self.outputs else None

    def made_by(self, name: str, op_type: str) -> onnx.NodeProto | None:
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None


def _gated(g: _Graph, mul: onnx.NodeProto, gate: str) -> onnx.NodeProto | None:
    """``x * Gate(x)`` (either order) with the gate used only here: the gate node."""
    if mul.op_type != "Mul" or len(mul.input) != 2:
        return None
    for x, s in (mul.input, mul.input[::-1]):
        node = g.made_by(s, gate)
        if node is not None and list(node.input) == [x] and g.only_user(s) is mul:
            if gate == "HardSigmoid" and not _is_torch_hardsigmoid(node):
                return None
            return node
    return None


def _is_torch_hardsigmoid(node: onnx.NodeProto) -> bool:
    attrs = {a.name: float(helper.get_attribute_value(a)) for a in node.attribute}
    return abs(attrs.get("alpha", 0.2) - 1 / 6) < 1e-6 and abs(attrs.get("beta", 0.5) - 0.5) < 1e-6


def _erf_gelu(g: _Graph, erf: onnx.NodeProto) -> list[onnx.NodeProto] | None:
    """GELU written out before opset 20: ``x * 0.5 * (1 + Erf(x / sqrt(2)))`` in any order.

    Returns the nodes it is made of (the ``Erf``'s input scaling first, the output node last).
    """
    if erf.op_type != "Erf":
        return None
    scaled = g.producer.get(erf.input[0])
    if (
        scaled is None
        or scaled.op_type not in ("Div", "Mul")
        or g.only_user(scaled.output[0]) is not erf
    ):
        return None
    x = scaled.input[0]
    chain, tail, saw_x = [scaled, erf], erf.output[0], False
    while len(chain) < 5:
        node = g.only_user(tail)
        if node is None or node.op_type not in ("Add", "Mul"):
            return None
        other = node.input[1] if node.input[0] == tail else node.input[0]
        half = g.made_by(other, "Mul")
        if half is not None and x in half.input and g.only_user(other) is node:
            chain.append(half)  # (x * 0.5) * (1 + erf)
            saw_x = True
        saw_x = saw_x or other == x
        chain.append(node)
        tail = node.output[0]
    return chain if saw_x else None


def _group_norm(
    g: _Graph, norm: onnx.NodeProto, shapes: dict[str, tuple[int, ...]]
) -> tuple[list[onnx.NodeProto], onnx.NodeProto] | None:
    """Torch's GroupNorm export around ``norm``: (nodes it replaces, its cg_ir node)."""
    if norm.op_type != "InstanceNormalization":
        return None
    before = g.made_by(norm.input[0], "Reshape")
    after = g.only_user(norm.output[0])
    if before is None or after is None or after.op_type != "Reshape":
        return None
    x = before.input[0]
    restored = g.made_by(after.input[1], "Shape") if len(after.input) > 1 else None
    if restored is not None and list(restored.input) == [x] and x not in shapes:
        # shape inference stopped before x (at pads computed from a shape, as BiT's
        # ConstantPad2d exports): the exporter's Reshape back to Shape(x) says the shapes agree
        shape = None
    elif shapes.get(x) is None or shapes.get(x) != shapes.get(after.output[0]):
        return None
    else:
        shape = shapes[x]
        if len(shape) != 4:
            return None
    chain, tail, params = [before, norm, after], after.output[0], [x]
    for op_type in ("Mul", "Add"):
        node = g.only_user(tail)
        if node is None or node.op_type != op_type:
            break
        if node.output[0] in shapes and shapes[node.output[0]] != shape:
            break
        other = node.input[1] if node.input[0] == tail else node.input[0]
        # (an operand computed by Unsqueeze/CastLike may have no inferred shape)
        if other in shapes and not _per_channel(shapes[other], shape):
            break
        chain.append(node)
        cast = g.made_by(other, "CastLike")
        params.append(cast.input[0] if cast is not None else other)
        tail = node.output[0]
    fused = helper.make_node("GroupNorm", params, [tail], name=norm.name, domain=DOMAIN)
    fused.metadata_props.extend(norm.metadata_props)
    return chain, fused


def _per_channel(operand: tuple[int, ...], shape: tuple[int, ...] | None) -> bool:
    """Whether ``operand`` holds one value per channel of a map of ``shape`` (None: unknown)."""
    if len(operand) not in (3, 4) or any(d != 1 for d in operand[-2:]):
        return False
    return shape is None or operand[-3] == shape[1] and operand[:-3] in ((), (1,))


def _replace(
    g: _Graph, old: Sequence[onnx.NodeProto], new: onnx.NodeProto, at: onnx.NodeProto
) -> _Graph:
    """The graph with ``new`` where ``at`` was and ``old`` (``at`` among them) dropped."""
    dropped = {id(n) for n in old}
    nodes = [new if n is at else n for n in g.nodes if id(n) not in dropped or n is at]
    return _Graph(nodes, g.outputs)


def fuse(
    nodes: Sequence[onnx.NodeProto],
    graph: onnx.GraphProto,
    shapes: dict[str, tuple[int, ...]],
) -> list[onnx.NodeProto]:
    """``nodes`` with each known pattern replaced by one ``cg_ir`` node, dead nodes dropped."""
    outputs = {v.name for v in graph.output}
    g = _Graph(nodes, outputs)
    for node in list(g.nodes):
        for gate, op in (("Sigmoid", "SiLU"), ("HardSigmoid", "HardSwish")):
            found = _gated(g, node, gate)
            if found is not None:
                fused = helper.make_node(
                    op, [found.input[0]], [node.output[0]], name=node.name, domain=DOMAIN
                )
                fused.metadata_props.extend(node.metadata_props)
                g = _replace(g, [found, node], fused, node)
        gelu = _erf_gelu(g, node)
        if gelu is not None:
            fused = helper.make_node(
                "Gelu", [gelu[0].input[0]], [gelu[-1].output[0]], name=node.name, domain=DOMAIN
            )
            fused.metadata_props.extend(node.metadata_props)
            g = _replace(g, gelu, fused, gelu[-1])
        group = _group_norm(g, node, shapes)
        if group is not None:
            g = _replace(g, group[0], group[1], group[0][-1])
    return _live(g.nodes, outputs)


def _live(nodes: list[onnx.NodeProto], outputs: set[str]) -> list[onnx.NodeProto]:
    """The nodes some graph output depends on, in their order."""
    needed = set(outputs)
    keep: list[onnx.NodeProto] = []
    for node in reversed(nodes):
        if any(name in needed for name in node.output):
            keep.append(node)
            needed.update(name for name in node.input if name)
    return keep[::-1]
