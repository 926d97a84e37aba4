"""Functions and Tensor methods: which call lowers to which primitive; ``call`` dispatches."""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable
from math import prod
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from cg_ir.errors import CgIrError, UnsupportedOperatorError
from cg_ir.fx._attention import (
    ATTENTION_FUNCTIONS,
    ATTENTION_METHODS,
    ATTENTION_NAMED_FUNCTIONS,
)
from cg_ir.fx._modules import call_handler, module_handler, named_module_handler
from cg_ir.fx._ops import (
    Handler,
    activation,
    adaptive,
    addcmul,
    arg,
    binary,
    cat,
    clamp,
    conv,
    conv1d,
    elementwise,
    expand,
    getitem,
    hardtanh,
    hashable,
    identity,
    linear,
    norm_function,
    norm_of,
    output_gain,
    owned,
    pad,
    pad_same,
    permute,
    pool,
    power,
    reduce,
    reshape,
    same_shape,
    split,
    square,
    stack,
    transpose,
    truncate,
    upsample,
    variance,
    zeros,
)
from cg_ir.fx._values import Opaque, graph_tensors, is_feature_map

if TYPE_CHECKING:
    from cg_ir.fx._lower import Lowerer

__all__ = ["call", "has_lowering", "timm_notrace"]


def _functional_pool(op: str) -> Handler:
    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        kernel = arg(args, kwargs, 1, "kernel_size", 1)
        stride = arg(args, kwargs, 2, "stride", None)
        padding = arg(args, kwargs, 3, "padding", 0)
        if op == "avg_pool":
            return pool(lw, op, args[0], kernel, stride, padding, None)
        return pool(
            lw,
            op,
            args[0],
            kernel,
            stride,
            padding,
            arg(args, kwargs, 4, "dilation", 1),
            bool(arg(args, kwargs, 6, "return_indices", False)),
        )

    return lower


def _conv_call(
    lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Opaque, tuple[tuple[int, ...], bool, Any, Any, Any, int]]:
    """The owned weight of ``F.conv*d(input, weight, bias, stride, padding, dilation, groups)``.

    Returns the weight and the lowering's arguments that follow the input (weight shape, bias,
    stride, padding, dilation, groups).
    """
    weight = owned(lw, arg(args, kwargs, 1, "weight", None), "weight")
    if weight is None:
        lw.fail("it has no weight")
    return weight, (
        weight.shape,
        owned(lw, arg(args, kwargs, 2, "bias", None), "bias") is not None,
        arg(args, kwargs, 3, "stride", 1),
        arg(args, kwargs, 4, "padding", 0),
        arg(args, kwargs, 5, "dilation", 1),
        int(arg(args, kwargs, 6, "groups", 1)),
    )


def _conv2d(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    weight, conv_args = _conv_call(lw, args, kwargs)
    result = conv(lw, args[0], *conv_args, fixed=weight.trainable_numel == 0)
    return output_gain(lw, weight, result)


def _conv1d(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return conv1d(lw, args[0], *_conv_call(lw, args, kwargs)[1])


def _linear(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    weight = owned(lw, arg(args, kwargs, 1, "weight", None), "weight")
    if weight is None or len(weight.shape) != 2:
        lw.fail("its weight is not a (out_features, in_features) matrix")
    bias = owned(lw, arg(args, kwargs, 2, "bias", None), "bias") is not None
    return linear(lw, args[0], weight.shape[1], weight.shape[0], bias)


def _prelu(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    weight = owned(lw, arg(args, kwargs, 1, "weight", None), "weight")
    slopes = 1 if weight is None else max(1, prod(weight.shape))
    return elementwise(lw, "prelu", args[0], in_channels=slopes)


def _gelu(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    tanh = arg(args, kwargs, 1, "approximate", "none") == "tanh"
    return elementwise(lw, "gelu_tanh" if tanh else "gelu", args[0])


def _pad(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    pads = arg(args, kwargs, 1, "pad", ())
    return pad(lw, args[0], pads, arg(args, kwargs, 2, "mode", "constant"))


def _pad_same(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # timm.layers.padding.pad_same(x, kernel_size, stride, dilation=(1, 1), value=0)
    return pad_same(
        lw,
        args[0],
        arg(args, kwargs, 1, "kernel_size", 1),
        arg(args, kwargs, 2, "stride", 1),
        arg(args, kwargs, 3, "dilation", 1),
    )


_ADD, _MUL, _SUB, _DIV = binary("add"), binary("mul"), binary("sub"), binary("div")
_MAXIMUM, _MINIMUM = binary("maximum"), binary("minimum")
_SUM, _MEAN, _MAX = reduce("sum"), reduce("mean"), reduce("max")
_CHUNK, _SPLIT, _UNBIND = split("chunk"), split("split"), split("unbind")
_UNARY = (
    "relu",
    "sigmoid",
    "tanh",
    "exp",
    "log",
    "sqrt",
    "rsqrt",
    "abs",
    "neg",
    "reciprocal",
)
_FUNCTIONS: dict[Any, Handler] = {
    operator.add: _ADD,
    operator.iadd: _ADD,
    torch.add: _ADD,
    operator.sub: _SUB,
    operator.isub: _SUB,
    torch.sub: _SUB,
    torch.subtract: _SUB,
    operator.mul: _MUL,
    operator.imul: _MUL,
    torch.mul: _MUL,
    torch.multiply: _MUL,
    operator.truediv: _DIV,
    operator.itruediv: _DIV,
    torch.div: _DIV,
    torch.true_divide: _DIV,
    torch.maximum: _MAXIMUM,
    torch.minimum: _MINIMUM,
    operator.neg: activation("neg"),
    operator.pow: power,
    torch.pow: power,
    torch.square: square,
    torch.var: variance(root=False),
    torch.std: variance(root=True),
    torch.norm: norm_of,
    torch.addcmul: addcmul,
    torch.cat: cat,
    torch.concat: cat,
    torch.concatenate: cat,
    torch.stack: stack,
    operator.getitem: getitem,
    torch.flatten: reshape,
    torch.reshape: reshape,
    torch.squeeze: reshape,
    torch.unsqueeze: reshape,
    torch.permute: permute,
    torch.transpose: transpose,
    torch.swapaxes: transpose,
    torch.chunk: _CHUNK,
    torch.split: _SPLIT,
    torch.unbind: _UNBIND,
    torch.sum: _SUM,
    torch.mean: _MEAN,
    torch.amax: _MAX,
    torch.max: _MAX,
    torch.zeros_like: zeros,
    torch.zeros: zeros,
    **{getattr(torch, name): activation(name) for name in _UNARY},
    torch.relu_: activation("relu"),
    torch.clamp: clamp,
    torch.clip: clamp,
    torch.softmax: activation("softmax"),
    torch.log_softmax: activation("log_softmax"),
    F.relu: activation("relu"),
    F.relu_: activation("relu"),
    F.relu6: activation("relu6"),
    F.hardtanh: lambda lw, a, k: hardtanh(
        lw, a[0], arg(a, k, 1, "min_val", -1.0), arg(a, k, 2, "max_val", 1.0)
    ),
    F.hardswish: activation("hardswish"),
    F.hardsigmoid: activation("hardsigmoid"),
    F.sigmoid: activation("sigmoid"),
    F.silu: activation("silu"),
    F.gelu: _gelu,
    F.tanh: activation("tanh"),
    F.leaky_relu: activation("leaky_relu"),
    F.leaky_relu_: activation("leaky_relu"),
    F.prelu: _prelu,
    F.elu: activation("elu"),
    F.elu_: activation("elu"),
    F.selu: activation("selu"),
    torch.selu: activation("selu"),
    F.celu: activation("celu"),
    F.mish: activation("mish"),
    F.softplus: activation("softplus"),
    F.softsign: activation("softsign"),
    F.softmax: activation("softmax"),
    F.log_softmax: activation("log_softmax"),
    F.conv2d: _conv2d,
    F.conv1d: _conv1d,
    F.linear: _linear,
    F.pad: _pad,
    F.max_pool2d: _functional_pool("max_pool"),
    F.avg_pool2d: _functional_pool("avg_pool"),
    F.adaptive_avg_pool2d: lambda lw, a, k: adaptive(lw, "avg", a[0]),
    F.adaptive_max_pool2d: lambda lw, a, k: adaptive(lw, "max", a[0]),
    F.interpolate: lambda lw, a, k: upsample(lw, a[0], arg(a, k, 3, "mode", "nearest")),
    F.dropout: identity,
    F.dropout1d: identity,
    F.dropout2d: identity,
    F.dropout3d: identity,
    F.alpha_dropout: identity,
    F.feature_alpha_dropout: identity,
    torch.dropout: identity,
    torch.feature_dropout: identity,
    torch.alpha_dropout: identity,
    F.batch_norm: norm_function("batch_norm"),
    F.instance_norm: norm_function("instance_norm"),
    F.layer_norm: norm_function("layer_norm"),
    F.group_norm: norm_function("group_norm"),
    F.rms_norm: norm_function("rms_norm"),
}
# functions of optional packages, matched by module and name so that cg-ir does not import them
_NAMED_FUNCTIONS: dict[tuple[str, str], Handler] = {
    ("nasbench_pytorch.model.model", "truncate"): truncate,
    # stochastic depth / drop path: the identity at inference
    ("torchvision.ops.stochastic_depth", "stochastic_depth"): identity,
    ("timm.layers.drop", "drop_path"): identity,
    ("timm.layers.padding", "pad_same"): _pad_same,
}
_METHODS: dict[str, Handler] = {
    "add": _ADD,
    "add_": _ADD,
    "sub": _SUB,
    "sub_": _SUB,
    "mul": _MUL,
    "mul_": _MUL,
    "div": _DIV,
    "div_": _DIV,
    "maximum": _MAXIMUM,
    "minimum": _MINIMUM,
    "neg": activation("neg"),
    "pow": power,
    "square": square,
    "var": variance(root=False),
    "std": variance(root=True),
    "norm": norm_of,
    "addcmul": addcmul,
    "view": reshape,
    "reshape": reshape,
    "flatten": reshape,
    "squeeze": reshape,
    "unsqueeze": reshape,
    "view_as": reshape,
    "reshape_as": reshape,
    "permute": permute,
    "transpose": transpose,
    "swapaxes": transpose,
    "chunk": _CHUNK,
    "split": _SPLIT,
    "unbind": _UNBIND,
    "sum": _SUM,
    "mean": _MEAN,
    "amax": _MAX,
    "max": _MAX,
    **{name: activation(name) for name in _UNARY},
    **{f"{name}_": activation(name) for name in _UNARY},
    "clamp": clamp,
    "clamp_": clamp,
    "clip": clamp,
    "softmax": activation("softmax"),
    "log_softmax": activation("log_softmax"),
    "to": same_shape,
    "type": same_shape,
    "float": same_shape,
    "contiguous": same_shape,
    "clone": same_shape,
    "detach": same_shape,
    "new_zeros": zeros,
    "expand": expand,
    "expand_as": expand,
}


def _by_layout(feature_maps: Handler, tokens: Handler) -> Handler:
    """One handler for a call that both lowerings know: by the layout of its operands.

    Calls on feature maps and vectors (the v1 layouts) keep the CNN lowering of ``_ops``,
    which folds what v1 folded (``x * 1``, unused chunks, global pooling); calls that involve
    tensors recorded as torch holds them (tokens, heads) go to ``_attention``.
    """

    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not all(is_feature_map(t) for t in graph_tensors((args, kwargs))):
            return tokens(lw, args, kwargs)
        return first_that_takes(lw, feature_maps, tokens, args, kwargs)

    return lower


def first_that_takes(
    lw: Lowerer, first: Handler, second: Handler, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``first``'s lowering, or ``second``'s where ``first`` rejects the call outright.

    A handler that rejects its operands (a pad of a channels-last map, which the CNN lowering
    takes only in NCHW) fails before it adds a node; a failure after that is a real one.
    """
    size = len(lw.nodes)
    try:
        return first(lw, args, kwargs)
    except UnsupportedOperatorError:
        if len(lw.nodes) != size:
            raise
    return second(lw, args, kwargs)


def _merged(cnn: dict[Any, Handler], attention: dict[Any, Handler]) -> dict[Any, Handler]:
    """``cnn`` with ``attention``'s handlers added; keys both define dispatch by layout."""
    shared = {k: _by_layout(cnn[k], h) for k, h in attention.items() if k in cnn}
    return {**cnn, **attention, **shared}


_FUNCTIONS = _merged(_FUNCTIONS, ATTENTION_FUNCTIONS)
_METHODS = _merged(_METHODS, ATTENTION_METHODS)
_NAMED_FUNCTIONS = _merged(_NAMED_FUNCTIONS, ATTENTION_NAMED_FUNCTIONS)


def has_lowering(lw: Lowerer, node: fx.Node) -> bool:
    """Whether a call_module / call_function / call_method node has a handler."""
    if node.op == "call_module":
        module = lw.modules[str(node.target)]
        return module_handler(module) is not None or call_handler(module) is not None
    if node.op == "call_method":
        return str(node.target) in _METHODS
    return _function_handler(node.target) is not None


def _function_handler(target: Any) -> Handler | None:
    function = _FUNCTIONS.get(target) if hashable(target) else None
    if function is None:
        key = (getattr(target, "__module__", ""), getattr(target, "__name__", ""))
        function = _NAMED_FUNCTIONS.get(key)
    return function


def call(lw: Lowerer, node: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Lower one call_module / call_function / call_method node; returns its value.

    A handler that meets arguments of a form it does not expect fails as an
    UnsupportedOperatorError naming the op and module path, never as a raw Python exception.
    """
    try:
        return _dispatch(lw, node, args, kwargs)
    except CgIrError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, ZeroDivisionError) as e:
        lw.fail(
            f"its arguments are not in a form cg-ir lowers ({type(e).__name__}: {e}); "
            "rewrite the call with plain tensors and Python numbers, or pass the submodule "
            "that makes it as leaf_modules only if it is a supported torch.nn layer"
        )


def _dispatch(lw: Lowerer, node: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if node.op == "call_module":
        module = lw.modules[str(node.target)]
        several = call_handler(module)  # attention layers, blocks lowered by running them
        if several is not None:
            return several(lw, module, args, kwargs)
        handler = module_handler(module)
        if handler is None or len(args) != 1 or kwargs:
            lw.fail("it is not a supported layer called on one tensor")
        return handler(lw, module, args[0])
    if node.op == "call_method":
        method = _METHODS.get(str(node.target))
        if method is None:
            lw.fail("this Tensor method is not lowered to a cg-ir primitive")
        return method(lw, args, kwargs)
    function = _function_handler(node.target)
    if function is None:
        lw.fail("this function is not lowered to a cg-ir primitive")
    return function(lw, args, kwargs)


def timm_notrace(
    every_function: bool = False,
) -> tuple[tuple[type[nn.Module], ...], tuple[Callable[..., Any], ...]]:
    """Timm's fx registrations that cg-ir honours: leaf module classes and functions to wrap.

    timm registers the layers and helpers that torch.fx cannot trace through (TensorFlow
    'SAME' padding computed from the input size, ...). Those with a lowering are kept whole;
    the rest are traced through, unless ``every_function``: then every registered function
    is wrapped (a call on the network's own tensors alone, such as resampling a position
    embedding, folds without a lowering). Empty when timm has not been imported (cg-ir never
    imports it), i.e. when the module being converted is not a timm model.

    Examples:
        >>> leaves, functions = timm_notrace()
        >>> isinstance(leaves, tuple) and isinstance(functions, tuple)
        True
    """
    registry = sys.modules.get("timm.layers._fx")
    if registry is None:
        return (), ()
    leaves = tuple(
        cls
        for cls in getattr(registry, "_leaf_modules", ())
        if isinstance(cls, type) and named_module_handler(cls) is not None
    )
    functions = [
        f
        for f in getattr(registry, "_autowrap_functions", ())
        if callable(f) and (every_function or _function_handler(f) is not None)
    ]
    padding = sys.modules.get("timm.layers.padding")
    if padding is not None and callable(getattr(padding, "pad_same", None)):
        functions.append(padding.pad_same)  # not registered by timm: it sizes from the input
    return leaves, tuple(functions)
