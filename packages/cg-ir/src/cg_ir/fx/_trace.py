"""Tracing a module with torch.fx, cleaning the graph, and propagating shapes.

The user's module is not changed. It is traced and run in eval mode (``evaluation_mode``
restores every submodule's training flag afterwards), so code that depends on ``self.training``
takes its inference path and batch norm accepts a batch of one; the tracer keeps the constant
tensors it meets to itself instead of storing them on the module, as plain fx would. Shapes are
propagated on meta tensors: known layers by formula (``_shapes``), others on meta copies of
themselves. Only when an op has no meta kernel is the module run for real, on zeros, under
``torch.no_grad()`` and still in eval mode, so batch-norm statistics stay as they are.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import operator
import os
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, cast

import torch
from torch import fx, nn

import cg_ir
from cg_ir.errors import UntraceableModuleError
from cg_ir.fx._shapes import function_shape, module_shape
from cg_ir.fx._values import TensorMeta
from cg_ir.nn import Zero

__all__ = [
    "AutogradFunctionCall",
    "clean_graph",
    "evaluation_mode",
    "is_leaf",
    "propagate",
    "trace",
]

_FIX = (
    "Code that branches on, iterates over or converts a traced value (if/while on a tensor or "
    "its shape, len(), numpy calls) cannot be traced symbolically. To fix it, pass the helper "
    "function that does it as autowrap_functions=(fn,) (it is then kept as one call; cg-ir "
    "lowers the calls it knows, such as nasbench_pytorch's truncate), pass the submodule class "
    "that contains it as leaf_modules=(cls,) (only subclasses of supported torch.nn layers "
    "lower as leaves), or fix the Python arguments that drive the branch with "
    "concrete_args={'name': value}."
)
_INPLACE_OPERATORS = frozenset(
    {operator.iadd, operator.isub, operator.imul, operator.itruediv, operator.ifloordiv}
)


class AutogradFunctionCall:
    """A call of a custom ``torch.autograd.Function``, recorded whole by the tracer."""

    def __init__(self, function: type[torch.autograd.Function]) -> None:
        self.function = function
        self.__name__ = f"{function.__qualname__}.apply"
        self.__qualname__ = self.__name__
        self.__module__ = function.__module__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function.apply(*args, **kwargs)  # type: ignore[no-untyped-call]


class _Tracer(fx.Tracer):
    """torch.nn layers, ``cg_ir.nn.Zero`` and the user's leaf classes are leaves."""

    def __init__(
        self, leaf_modules: tuple[type[nn.Module], ...], autowrap: tuple[Callable[..., Any], ...]
    ) -> None:
        super().__init__(autowrap_functions=autowrap)
        self.leaf_classes: tuple[type[nn.Module], ...] = (Zero, *leaf_modules)
        self.constants: dict[str, torch.Tensor] = {}
        self.buffer_ids: set[int] | None = None
        self.tensor_names: dict[int, str] | None = None

    def create_arg(self, a: Any) -> Any:
        # fx would store a constant tensor (e.g. torch.tensor(3) made in forward) on the user's
        # module; keep it here instead
        if isinstance(a, torch.Tensor) and not isinstance(a, nn.Parameter):
            if self.buffer_ids is None:
                self.buffer_ids = {id(b) for b in self.root.buffers()}
            if a not in self.tensor_attrs and id(a) not in self.buffer_ids:
                name = f"_cg_constant_{len(self.constants)}"
                self.constants[name] = a
                return self.create_node("get_attr", name, (), {})
        return super().create_arg(a)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
        # as fx's, but finds a parameter's name in a dictionary instead of scanning the module
        if not isinstance(attr_val, torch.Tensor):
            return attr_val
        if self.tensor_names is None:
            named = itertools.chain(self.root.named_parameters(), self.root.named_buffers())
            self.tensor_names = {}
            for qualified, t in named:
                self.tensor_names.setdefault(id(t), qualified)
        name = self.tensor_names.get(id(attr_val))
        proxied = isinstance(attr_val, nn.Parameter) or self.proxy_buffer_attributes
        if name is None or not proxied:
            return attr_val
        if name not in parameter_proxy_cache:
            parameter_proxy_cache[name] = self.create_proxy("get_attr", name, (), {})
        return parameter_proxy_cache[name]

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if isinstance(m, self.leaf_classes):
            return True
        return super().is_leaf_module(m, module_qualified_name)

    @contextmanager
    def _record_autograd_functions(self) -> Iterator[None]:
        # A custom autograd Function would otherwise be traced through its forward, losing the
        # fact that it is one opaque operator: record its calls on traced values as one node.
        original = inspect.getattr_static(torch.autograd.Function, "apply")
        tracer = self

        def apply(cls: type[torch.autograd.Function], *args: Any, **kwargs: Any) -> Any:
            leaves = itertools.chain(args, kwargs.values())
            if any(isinstance(a, fx.Proxy) for a in leaves):
                return tracer.create_proxy("call_function", AutogradFunctionCall(cls), args, kwargs)
            return original.__get__(None, cls)(*args, **kwargs)

        torch.autograd.Function.apply = classmethod(apply)  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            torch.autograd.Function.apply = original  # type: ignore[method-assign]


@contextmanager
def evaluation_mode(module: nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode for the block, then restore every submodule's flag."""
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in flags:
            m.training = training


def _meta_module(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` whose parameters and buffers are meta tensors."""
    memo: dict[int, Any] = {}
    for t in itertools.chain(module.parameters(), module.buffers()):
        meta = torch.empty_like(t, device="meta")
        memo[id(t)] = nn.Parameter(meta, t.requires_grad) if isinstance(t, nn.Parameter) else meta
    return copy.deepcopy(module, memo)


def is_leaf(module: nn.Module, leaf_modules: Sequence[type[nn.Module]]) -> bool:
    """Whether the tracer keeps ``module`` whole (a torch.nn layer, Zero or a user leaf)."""
    return _Tracer(tuple(leaf_modules), ()).is_leaf_module(module, "")


def _user_frame(error: BaseException) -> str:
    """``file:line in function`` of the innermost traceback frame outside torch and cg-ir."""
    skip = (os.path.dirname(torch.__file__), os.path.dirname(cg_ir.__file__))
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(skip)
    ]
    if not frames:
        return ""
    f = frames[-1]
    return f" at {f.filename}:{f.lineno} in {f.name}"


def trace(
    root: nn.Module,
    leaf_modules: Sequence[type[nn.Module]],
    autowrap_functions: Sequence[Callable[..., Any]],
    concrete_args: Mapping[str, Any] | None,
) -> tuple[fx.Graph, dict[str, torch.Tensor]]:
    """The fx graph of ``root`` and the constant tensors it reads.

    Any failure of symbolic execution becomes an UntraceableModuleError saying how to fix it.
    """
    tracer = _Tracer(tuple(leaf_modules), tuple(autowrap_functions))
    name = type(root).__name__
    try:
        with tracer._record_autograd_functions():
            graph = tracer.trace(root, dict(concrete_args) if concrete_args else None)
    except Exception as error:  # any failure of symbolic execution is a tracing failure
        # fx leaves the submodules it was inside on its stack when their code raises
        inside = [kind for _, kind in tracer.module_stack.values() if kind is not type(root)]
        raise UntraceableModuleError(
            f"torch.fx cannot trace {name}{_user_frame(error)}: {type(error).__name__}: {error}. "
            + _FIX,
            inside[-1] if inside else None,
        ) from error
    return graph, tracer.constants


@cache
def _inplace_parameter(target: Callable[..., Any]) -> inspect.Signature | None:
    """The signature of a Python function that takes an ``inplace`` flag, else None."""
    if not inspect.isfunction(target):
        return None
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    return signature if "inplace" in signature.parameters else None


def _is_inplace(node: fx.Node, modules: Mapping[str, nn.Module]) -> bool:
    """Whether ``node`` overwrites its first argument (``x.add_(y)``, ``ReLU(inplace=True)``)."""
    if node.op == "call_method":
        name = str(node.target)
        return name.endswith("_") and not name.startswith("_")
    if node.op == "call_module":
        return getattr(modules[str(node.target)], "inplace", False) is True
    if node.op != "call_function":
        return False
    target = cast(Callable[..., Any], node.target)
    if target in _INPLACE_OPERATORS or getattr(target, "__name__", "").endswith("_"):
        return True
    signature = _inplace_parameter(target)
    if signature is None:
        return False
    try:
        bound = signature.bind(*node.args, **node.kwargs)
    except TypeError:
        return False
    return bound.arguments.get("inplace") is True


def clean_graph(graph: fx.Graph, modules: Mapping[str, nn.Module]) -> None:
    """Make in-place updates explicit, then drop the nodes the output does not depend on.

    After ``y = x.add_(z)`` (or an in-place activation) every later reader of ``x`` sees the
    updated tensor, so later uses of ``x`` are redirected to ``y``; then a node is dead unless
    the output depends on it. Placeholders stay (they map positional arguments).
    """
    position = {n: i for i, n in enumerate(graph.nodes)}
    for node in list(graph.nodes):
        first = node.args[0] if node.args else None
        if isinstance(first, fx.Node) and _is_inplace(node, modules):
            for user in list(first.users):
                if user is not node and position[user] > position[node]:
                    user.replace_input_with(first, node)
    live: set[fx.Node] = set()
    stack = [n for n in graph.nodes if n.op == "output"]
    while stack:
        node = stack.pop()
        if node not in live:
            live.add(node)
            stack.extend(node.all_input_nodes)
    for node in reversed(list(graph.nodes)):
        if node not in live and node.op != "placeholder":
            graph.erase_node(node)


def _summarize(value: Any) -> Any:
    """What lowering needs of a result: tensor shapes, and Python values as they are."""
    if isinstance(value, torch.Tensor):
        return TensorMeta(tuple(value.shape), value.dtype)
    if isinstance(value, torch.Size):
        return value
    if isinstance(value, (tuple, list)):
        return tuple(_summarize(v) for v in value)
    if isinstance(value, dict):
        return {k: _summarize(v) for k, v in value.items()}
    return value


class _Recorder(fx.Interpreter):
    """Runs the graph, recording results; on meta tensors, known layers go by formula."""

    def __init__(
        self, module: nn.Module, graph: fx.Graph, constants: dict[str, torch.Tensor], meta: bool
    ) -> None:
        super().__init__(module, graph=graph)
        self.constants = constants
        self.meta = meta
        self.meta_modules: dict[str, nn.Module] = {}
        self.results: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        self.results[n] = _summarize(result)
        return result

    def get_attr(self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if target in self.constants:
            return self.constants[target]  # real, as code may branch on it (nasbench's truncate)
        value = super().get_attr(target, args, kwargs)
        if self.meta and isinstance(value, torch.Tensor):
            return torch.empty_like(value, device="meta")
        return value

    def _by_formula(self, shape: tuple[int, ...] | None, args: tuple[Any, ...]) -> Any:
        first = args[0] if args else None
        if isinstance(first, (list, tuple)) and first:
            first = first[0]
        dtype = first.dtype if isinstance(first, torch.Tensor) else torch.float32
        return torch.empty(shape, dtype=dtype, device="meta") if shape is not None else None

    def call_module(self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not self.meta:
            return super().call_module(target, args, kwargs)
        module = self.fetch_attr(str(target))
        if not kwargs and len(args) == 1 and isinstance(args[0], torch.Tensor):
            result = self._by_formula(module_shape(module, tuple(args[0].shape)), args)
            if result is not None:
                return result
        if target not in self.meta_modules:
            self.meta_modules[target] = _meta_module(module)
        return self.meta_modules[target](*args, **kwargs)

    def call_function(self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.meta:
            result = self._by_formula(function_shape("call_function", target, args, kwargs), args)
            if result is not None:
                return result
        return super().call_function(target, args, kwargs)

    def call_method(self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.meta:
            result = self._by_formula(function_shape("call_method", target, args, kwargs), args)
            if result is not None:
                return result
        return super().call_method(target, args, kwargs)


def propagate(
    module: nn.Module,
    graph: fx.Graph,
    constants: dict[str, torch.Tensor],
    shape: tuple[int, int, int, int],
) -> dict[fx.Node, Any]:
    """Run ``graph`` on zeros of ``shape`` and record every node's result (tensors as shapes).

    Call it in ``evaluation_mode(module)``.
    """
    with torch.no_grad():
        try:
            recorder = _Recorder(module, graph, constants, meta=True)
            recorder.run(torch.zeros(shape, device="meta"))
            return recorder.results
        except Exception:  # noqa: BLE001 - whatever it is, the real run below says it
            pass  # an op without a meta kernel (or one that reads values): run it for real
        recorder = _Recorder(module, graph, constants, meta=False)
        device = next(
            itertools.chain(module.parameters(), module.buffers()), torch.zeros(())
        ).device
        try:
            recorder.run(torch.zeros(shape, device=device))
        except Exception as error:
            # a TypeError means a traced size reached code that needs a Python number
            fix = _FIX if isinstance(error, TypeError) else "check input_shape"
            raise UntraceableModuleError(
                f"running {type(module).__name__} on zeros of shape {tuple(shape)} failed"
                f"{_user_frame(error)}: {type(error).__name__}: {error}; {fix}"
            ) from error
    return recorder.results
