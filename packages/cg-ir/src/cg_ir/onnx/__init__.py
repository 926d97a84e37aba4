"""``from_onnx``: an ONNX model, from any exporter, to its computation graph.

ONNX shape inference gives every tensor's shape at batch size 1; each ONNX node is lowered to
the primitive op the torch.fx path (``cg_ir.from_module``) makes of the torch layer it came
from, with the same attributes and shapes. Constant subgraphs (shape arithmetic, reshaped
weights) are evaluated with ONNX's reference implementation; initializers feeding a conv, norm
or linear layer are its weights; any other initializer used as an operand is a ``parameter``
node (a ``Constant`` node's value a ``constant`` node).

Exporting torch models so that ``from_onnx(export).same_structure(from_module(model))``: use the
torch.export-based exporter as ``torch.onnx.export(model.eval(), (x,), path, dynamo=True,
optimize=False)`` (needs ``onnxscript``), or the TorchScript one, about ten times faster, as
``torch.onnx.export(model.eval(), (x,), path, dynamo=False,
training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)``. Both keep every layer
as its own ONNX node. What the ONNX file no longer shows cannot come back, so these graphs differ
from ``from_module``'s by design:

- BatchNormalization fused into the preceding Conv (the defaults of both exporters:
  ``dynamo=True`` with ``optimize=True``; ``dynamo=False`` in eval mode with constant folding):
  one ``conv`` with ``bias=True`` and no ``batch_norm`` node.
- The TorchScript exporter merges identical ops on one tensor (common subexpression
  elimination): DARTS/NAS-Bench-201 cells whose edges each apply ReLU to the same node keep one
  ``relu`` (and one pooling of a kind per tensor), as do timm's NASNet and PNASNet cells (fewer
  FLOPs, same params), NAS-Bench-101 cells one channel ``slice`` per tensor and width. The
  torch.export-based exporter keeps them (it cannot export nasbench_pytorch's networks, which
  assert on a buffer).
- ``cg_ir.nn.Zero`` (``new_zeros``) exports as constant zeros with no edge from its input. When
  the exporter kept the ``Shape`` the zeros were made from (``Shape -> ConstantOfShape``), the
  ``zero`` node is fed by that tensor as in ``from_module``; otherwise ``x + zeros`` folds to
  ``x`` (as ``from_module`` folds ``zeros_like``), and the ``zero`` node and its ``add`` are
  missing. NAS-Bench-201's ``none`` edges vanish in either path; ``x * 0`` is a ``zero`` node.
- ``AdaptiveAvgPool2d``/``AdaptiveMaxPool2d`` to a size other than 1 export as ``AveragePool``/
  ``MaxPool``. The TorchScript exporter writes the average one with only ``kernel_shape`` and
  ``strides`` (``AvgPool2d`` always gets ``pads`` and ``ceil_mode``): ``adaptive_avg_pool`` as
  in ``from_module`` (VGG's ``AdaptiveAvgPool2d((7, 7))``); from other exporters, and for
  ``AdaptiveMaxPool2d``, whose export looks like a ``MaxPool2d``'s, it is ``avg_pool``/
  ``max_pool``. Conversely a pooling window that covers the whole map without padding (how
  ``AdaptiveMaxPool2d(1)`` exports) is ``global_*_pool``, also for a
  ``MaxPool2d(kernel_size=H)`` that ``from_module`` records as ``max_pool``.
- Concatenations nested along one axis (Inception-v3's ``torch.cat`` of a ``torch.cat`` in
  ``Mixed_7b/7c``): the TorchScript exporter merges them into one ``Concat``, one ``concat``
  node where ``from_module`` records two; which inputs were grouped is not in the file.
- A zero ``Pad`` before a ``Conv`` (timm's dynamic "same" padding, ``pad_same``, of an even
  total, as in ``dm_nfnet_f0``): the TorchScript exporter folds it into the conv's ``pads``,
  ``conv(padding=p)`` where ``from_module`` records ``pad_constant`` + ``conv(padding=(0, 0))``.
- ONNX does not tell buffers from parameters. A conv kernel is fixed (a ``filter`` node, as
  ``from_module`` records a conv with a buffer kernel) when it comes from ``Constant`` nodes, or
  when an initializer repeats one kernel over every channel of a conv with one input channel per
  group (timm's ``BlurPool2d`` and anti-aliasing filters: learned kernels are never all equal);
  a buffer kernel that differs between channels is read as learned (``conv``, its size in
  ``params``).
- Constant subgraphs are evaluated: layers applied to buffers and parameters alone (Swin V2's
  continuous position-bias MLP on its coordinate table) are folded into constants, so their
  ``linear``/``relu``/``sigmoid`` nodes are missing and their output is a ``parameter`` node;
  a bias computed from parameters (Swin V2's ``cat(q_bias, zeros, v_bias)``) is an ``add`` of a
  ``parameter`` after a ``linear`` without bias, whose parameters include the zeros.
- ``Conv2d(padding_mode="reflect")`` exports as ``Pad`` + ``Conv``: ``pad_reflect`` +
  ``conv(padding=(0, 0))``, where ``from_module`` records ``conv(padding=p)``.
- Uneven padding (TensorFlow's ``SAME`` with an odd total) becomes a ``pad_constant`` node before
  the conv or pool with ``padding=(0, 0)``; ``from_module`` has no such case.
- Norm layers are ``affine`` when their scale or shift is an initializer (learned), not when they
  come from ``Constant`` nodes (how exporters write ``affine=False``); a float initializer used as
  an operand is a ``parameter`` node, a ``Constant`` a ``constant`` node. A learned scale with a
  zero constant shift (``LayerNorm(bias=False)``, timm's ``GroupNorm1NoBias``) is the norm
  without affine and a ``mul`` by a ``parameter``, as in ``from_module``.
- timm's EvoNorm divides a map by its group statistics reshaped back from a 5-D view
  (``x / std.expand_as(g).reshape(B, C, H, W)``). ``from_module`` records the quotient as no
  longer a feature map: the weight multiplied in next is viewed as ``(C, 1, 1)`` and a spatial
  mean after it is ``reduce_mean``; the ONNX import keeps the map, ``(1, C, 1, 1)`` and
  ``global_avg_pool``, as for any other map. The ``*_evos`` models differ in these alone.

Transformers (torchvision's ``vit_b_32``, ``swin_t`` and ``maxvit_t`` give ``same_structure``,
checked by the slow tests) follow the torch.fx conventions: tokens are recorded as torch holds them
without the batch axis, owned tensors are ``parameter``/``constant`` nodes (a tensor computed from
them, such as Swin's relative-position bias, is their source nodes then a ``gather``), attention is
linear projections, reshapes/transposes to heads, ``matmul``, ``scale``, ``softmax``, ``matmul``.
What the TorchScript exporter writes differently and is mapped back: ``nn.MultiheadAttention`` works
on ``(L, N, E)`` with the batch axis moved (tensors whose batch axis moved or merged are recorded
without their size-1 axes); it unpacks q, k, v by ``Reshape``/``Transpose``/``Gather`` (one
``slice`` each, as torch.fx); ``scaled_dot_product_attention`` scales q and k^T by ``sqrt(scale)``
each (one ``scale`` after the ``matmul``); two ``Transpose`` nodes in a row are one ``transpose``;
``torch.roll`` is ``Slice`` + ``Concat`` per axis (one ``roll``); a strided slice of two axes is one
``Slice`` per axis (one ``slice``); the exporter shares one initializer among equal buffers through
``Identity`` nodes (a ``constant`` node each, as in torch); ``Einsum`` of two operands is a
``matmul`` between transposes and views; an integer index buffer gathered from a table is a
``constant`` node of its flattened shape (MaxViT's ``(49, 49)`` relative-position index, viewed as
``(2401,)``); reshapes in a row (MaxViT's window and grid partitions) are one ``reshape``.
Differences that remain:

- A ``Transpose`` that moves only size-1 axes of a tensor whose batch axis moved may stay a
  ``transpose`` node; an integer index buffer gathered without being flattened is recorded
  flattened all the same.
- ``torch.unbind`` / ``q, k, v = qkv`` (``Split`` on a tensor whose batch axis merged into the
  first) is not lowered; index it (``qkv[0]``), as torchvision does.

Exporters also split layers into patterns that are fused back here: SiLU (``x * Sigmoid(x)``),
Hardswish before opset 14 (``x * HardSigmoid(x)``), GELU before opset 20 (``Erf``), GroupNorm
(``Reshape -> InstanceNormalization -> Reshape -> Mul -> Add``, also where shape inference
stopped before it, as after BiT's ``ConstantPad2d``), a Linear on a channels-last map or on
tokens (``MatMul`` + ``Add``), a conv without bias given a computed zero bias (``dynamo=True,
optimize=False``), weights deduplicated through ``Identity`` nodes or transposed by a
``Transpose`` node, ``Clip(0, 6)`` (``relu6``), ``Gemm`` with ``transB``.

What timm's CNNs export and is mapped back to ``from_module``'s graph: a 1-D ``Conv`` (ECA
attention) is a ``(1, k)`` conv of the ``(C, 1, L)`` image after one ``reshape``; ``Expand``
folds into the add/mul/sub/div that use it, else is an ``expand`` node; ``Pow`` by 2, 0.5, -0.5,
-1 is ``mul(x, x)``, ``sqrt``, ``rsqrt``, ``reciprocal``; ``Reciprocal(Sqrt(x))`` and
``1 / Sqrt(x)`` are one ``rsqrt``; ``ReduceL2`` (``torch.norm``, ``F.normalize``) is
``mul(x, x)``, ``reduce_sum``, ``sqrt`` (``F.normalize``'s ``Clip`` to ``eps`` is dropped, as in
``from_module``); ``torch.var``'s correction, a ``Mul`` and a ``Div`` by sizes read from the
tensor's shape, is one ``scale``; a kernel computed from a learned kernel and a per-output-channel
gain (NFNet's ``ScaledStdConv2d``) is the conv then a ``mul`` by the gain's ``parameter``; a
learned scalar (NFNet's ``skipinit_gain``) is a ``parameter`` node, not a ``scale``; a ``Pad``
with negative pads (NASNet's ``F.pad(x, (-1, 1, -1, 1))``) is a ``pad_constant`` then a
``slice``; reshapes in a row are one ``reshape`` (a ``Transpose`` moving size-1 axes of a 4-D
view is a ``reshape``), and a weight viewed before use is its ``parameter`` and a ``reshape``;
the exporter merges ``k.transpose(1, 2)`` with SDPA's ``k^T`` (CLIP's attention pool) into one
``Transpose``, two ``transpose`` nodes here; a sum over stacked maps (SKNet) is a feature map.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cg_ir._graph import ComputationGraph

if TYPE_CHECKING:
    import onnx as onnx_lib

__all__ = ["from_onnx"]


def from_onnx(
    model: str | os.PathLike[str] | bytes | onnx_lib.ModelProto, *, name: str = ""
) -> ComputationGraph:
    """The computation graph of an ONNX model at batch size 1.

    Args:
        model: a path to an ``.onnx`` file, its bytes, or a loaded ``onnx.ModelProto``.
        name: what error messages call the model (default: the file name or "the model").

    Returns:
        The validated computation graph; node names are the torch module paths the exporter
        recorded (else the ONNX node names).

    Raises:
        ModelFileNotFoundError: the file does not exist.
        GraphSerializationError: the file is truncated or not ONNX, or ONNX shape inference
            rejects the model.
        UnsupportedOperatorError: an ONNX op has no cg-ir primitive, or its input shapes are
            unknown; the message names the op, the node and what to do.

    Examples:
        >>> from onnx import TensorProto, helper, numpy_helper
        >>> import numpy as np
        >>> x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
        >>> y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
        >>> w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
        >>> graph = helper.make_graph(
        ...     [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        ...      helper.make_node("Relu", ["c"], ["y"])], "net", [x], [y], [w])
        >>> g = from_onnx(helper.make_model(graph))
        >>> [n.op for n in g.nodes], g.params
        (['input', 'conv', 'relu', 'output'], 108)
    """
    from cg_ir.errors import CgIrError
    from cg_ir.onnx._fuse import fuse
    from cg_ir.onnx._load import load_model, value_shapes
    from cg_ir.onnx._lower import Lowerer

    proto, base_dir = load_model(model)
    inferred, shapes = value_shapes(proto)
    nodes = fuse(inferred.graph.node, inferred.graph, shapes)
    try:
        return Lowerer(inferred, nodes, shapes, base_dir).run()
    except CgIrError as error:
        label = name or (os.fspath(model) if isinstance(model, (str, os.PathLike)) else "")
        if label:
            error.add_note(f"while converting the ONNX model {label!r}")
        raise
