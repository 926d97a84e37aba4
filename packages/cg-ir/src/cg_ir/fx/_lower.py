"""Lowering a cleaned, shape-propagated fx graph to a computation graph.

The ``Lowerer`` walks the fx nodes in graph order, keeps each node's value (see ``_values``) and
appends one computation-graph node per primitive op; ``_table`` holds the per-op handlers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn, cast

from torch import fx, nn

from cg_ir._graph import ComputationGraph
from cg_ir._node import Node, Shape
from cg_ir.errors import UnsupportedOperatorError
from cg_ir.fx._trace import AutogradFunctionCall
from cg_ir.fx._values import GraphTensor, Layout, Opaque, TensorMeta, Zeros, graph_shape, layout_of

__all__ = ["Lowerer", "check_supported"]


def _contains_tensor(value: Any) -> bool:
    if isinstance(value, TensorMeta):
        return True
    if isinstance(value, (tuple, list)):
        return any(_contains_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_tensor(v) for v in value.values())
    return False


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
    from cg_ir.fx._modules import module_handler

    for node in graph.nodes:
        unsupported = (
            node.op == "call_module" and module_handler(modules[node.target]) is None
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
            self.fail(
                f"it needs a tensor laid out as {' or '.join(layouts)} ((C, H, W) held as "
                f"(1, C, H, W), (1, H, W, C) or flattened (1, C*H*W)), got shape {value.shape}"
            )
        if isinstance(value, Opaque):
            self.fail(
                f"its operand {value.target!r} is a parameter, buffer or constant tensor read "
                "with get_attr; cg-ir lowers only ops on tensors computed from the input "
                "(put the weights in a torch.nn layer)"
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
        t = self.tensor(value)
        shape = self.cg(t)
        return self.emit(op, [t], shape, shape, t.layout, **attrs)

    def reshape(self, value: Any) -> Any:
        """Fold a reshape (view, flatten, squeeze, ...) to the current result's shape."""
        target = self.out()
        if isinstance(value, Zeros):
            return Zeros(target)
        t = self.tensor(value, ("nchw", "nhwc", "flat", "other"))
        if target == t.shape:
            return t
        layout = layout_of(target, self.cg(t))
        if layout is None:
            self.fail(
                f"reshaping {t.shape} to {target} changes the tensor's (C, H, W) {self.cg(t)}; "
                "cg-ir folds only flatten/unflatten/squeeze/unsqueeze of a (C, H, W) tensor"
            )
        return GraphTensor(t.node, layout, target)

    # -- the walk ------------------------------------------------------------------------
    def run(self, input_shape: Shape) -> ComputationGraph:
        from cg_ir.fx._table import call

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
                self.env[node] = Opaque(str(node.target)) if _contains_tensor(result) else result
            elif not _contains_tensor(result) and node.op != "call_module":
                self.env[node] = result  # sizes, devices, flags: only shapes depend on them
            else:
                args = fx.node.map_arg(node.args, self.env.__getitem__)
                kwargs = fx.node.map_arg(node.kwargs, self.env.__getitem__)
                self.env[node] = call(self, node, tuple(args), dict(kwargs))
        raise AssertionError("an fx graph always ends with its output node")

    def _finish(self, value: Any) -> ComputationGraph:
        if isinstance(value, (tuple, list, dict)):
            self.fail(
                f"the module returns a {type(value).__name__} of {len(value)} values, but "
                "from_module needs one output tensor; return a single tensor (or wrap the "
                "module in one that picks the output to convert)"
            )
        t = self.tensor(value, ("nchw", "nhwc", "flat", "other"))
        shape = self.cg(t)
        self.nodes.append(Node("output", shape, shape))
        self.edges.append((t.node, len(self.nodes) - 1))
        return ComputationGraph(self.nodes, self.edges)
