"""PyTorch modules that cg-ir lowers to primitives of its own (imported only when torch is).

``Zero`` is the "none"/"zero" operation of cell-based search spaces (NAS-Bench-201, DARTS): its
output is all zeros, whatever the input. Written as a module (a torch.fx leaf) it lowers to one
``zero`` node fed by its input, so a cell whose output is cut off from its input still keeps the
graph connected: one input node, one output node, and the layers after it stay in the graph.
"""

from __future__ import annotations

import torch
from torch import nn

from cg_ir.errors import InvalidArgumentError

__all__ = ["Zero"]


class Zero(nn.Module):
    """Zeros instead of the input: the ``zero`` op of a NAS-Bench-201 / DARTS edge or cell.

    ``Zero()`` keeps the input's shape (a zero edge inside a cell, or a whole zero cell).
    ``Zero(out_channels, stride)`` is DARTS' zero on a reduction edge: ``out_channels`` channels
    and every ``stride``-th row and column, i.e. ``ceil(H / stride) x ceil(W / stride)``, the
    shape of DARTS' ``x[:, :, ::stride, ::stride].mul(0.)``. ``cg_ir.fx.from_module`` lowers it to
    one ``zero`` node (input shape = its input, output shape = its output; no parameters, no
    FLOPs). It holds no parameters and its output does not depend on the input's values.

    Args:
        out_channels: output channels; None keeps the input's channels.
        stride: spatial stride (1 keeps H and W).

    Examples:
        >>> import torch
        >>> Zero()(torch.ones(1, 4, 8, 8)).abs().sum().item()
        0.0
        >>> Zero(8, stride=2)(torch.ones(2, 4, 7, 7)).shape
        torch.Size([2, 8, 4, 4])
    """

    def __init__(self, out_channels: int | None = None, stride: int = 1) -> None:
        super().__init__()
        if out_channels is not None and out_channels < 1:
            raise InvalidArgumentError(
                f"Zero: out_channels must be positive or None, got {out_channels}"
            )
        if stride < 1:
            raise InvalidArgumentError(f"Zero: stride must be a positive int, got {stride}")
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Zeros of the output shape, on ``x``'s device and dtype."""
        n, c, h, w = x.shape
        s = self.stride
        channels = c if self.out_channels is None else self.out_channels
        return x.new_zeros((n, channels, -(-h // s), -(-w // s)))

    def extra_repr(self) -> str:
        """The constructor arguments, for ``repr``."""
        return f"out_channels={self.out_channels}, stride={self.stride}"
