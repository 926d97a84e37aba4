"""How a framework tensor holds a feature map: the layout rules both frontends share.

torch.fx and ONNX tensors carry a batch axis and may hold a (C, H, W) feature map channels
first (``nchw``), channels last (``nhwc``) or flattened (``flat``, (1, C*H*W)); the graph
records (C, H, W) in every case. Torch-free, so that the ONNX frontend needs no torch.
"""

from __future__ import annotations

from cg_ir._node import Shape

__all__ = ["channel_axis", "feature_map_shape"]


def feature_map_shape(shape: tuple[int, ...], layout: str) -> Shape | None:
    """The (C, H, W) of a batch-1 tensor of ``shape`` held in ``layout`` (None if it has none).

    Examples:
        >>> feature_map_shape((1, 8, 4, 2), "nchw"), feature_map_shape((1, 4, 2, 8), "nhwc")
        ((8, 4, 2), (8, 4, 2))
        >>> feature_map_shape((1, 10), "flat"), feature_map_shape((1, 3, 5), "other")
        ((10, 1, 1), None)
    """
    if not shape or shape[0] != 1:
        return None
    if layout == "nchw" and len(shape) == 4:
        return shape[1], shape[2], shape[3]
    if layout == "nhwc" and len(shape) == 4:
        return shape[3], shape[1], shape[2]
    if layout == "flat" and len(shape) == 2:
        return shape[1], 1, 1
    return None


def channel_axis(layout: str, cg: Shape) -> int | None:
    """The framework axis holding the channels of a tensor in ``layout`` with graph shape ``cg``.

    None when no single axis does (a flattened map with H or W above 1, tokens).

    Examples:
        >>> channel_axis("nhwc", (8, 4, 4)), channel_axis("flat", (8, 4, 4))
        (3, None)
    """
    if layout == "nchw":
        return 1
    if layout == "nhwc":
        return 3
    if layout == "flat" and cg[1:] == (1, 1):
        return 1
    return None
