"""The gain a computed conv kernel was scaled by (shared by the torch.fx and ONNX frontends).

Scaled weight standardisation (NFNet's ``ScaledStdConv2d``) multiplies the standardised kernel
by a learned gain of one value per output channel: ``conv(x, g * w) = g * conv(x, w)``, so both
frontends keep the kernel's parameters in the conv node and multiply its output by the gain, a
``parameter`` node of graph shape ``(channels, 1, 1)`` with its own parameters counted.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["gain_problem"]


def gain_problem(names: Sequence[str], sizes: Sequence[int], channels: int) -> str | None:
    """Why the learned tensors besides the kernel are not one gain per output channel.

    Args:
        names: how each learned tensor the kernel was computed from (besides itself) is named.
        sizes: their numbers of elements.
        channels: the conv's output channels.

    Returns:
        None when there is exactly one tensor of ``channels`` elements (the gain), else the
        reason, for the frontend's conversion error.

    Examples:
        >>> gain_problem(["gain"], [64], 64) is None
        True
        >>> gain_problem(["a", "b"], [64, 64], 64)  # doctest: +ELLIPSIS
        "its weight is computed from learned tensors ['a', 'b'] besides the kernel; only one ..."
    """
    if len(sizes) == 1 and sizes[0] == channels:
        return None
    return (
        f"its weight is computed from learned tensors {list(names)} besides the kernel; only one "
        "gain per output channel is lowered (as a mul)"
    )
