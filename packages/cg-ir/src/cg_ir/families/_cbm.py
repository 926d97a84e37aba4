"""What the two Channel-Bench-Macro families share: the 7-digit spec, its key and the search.

Channel-Bench-Macro (Su et al., the channel-number companion of NAS-Bench-Macro) trains every
width configuration of two fixed CIFAR-10 networks. A configuration is 7 digits ``d_i`` in
1-4; layer ``i`` has ``c_i = d_i * b_i / 4`` channels for the space's base widths ``b``
(multiples of 4, so widths are exact). The key is the digit string, as in the benchmark's
``Results_*.json`` files. ``cbm_mobilenet`` and ``cbm_resnet`` say which network the widths
go into.
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cg_ir.errors import InvalidSpecError
from cg_ir.families._base import Family
from cg_ir.families._builder import GraphBuilder

if TYPE_CHECKING:
    from cg_ir._graph import ComputationGraph

__all__ = [
    "CLASSES",
    "DIGITS",
    "NUM_LAYERS",
    "RESOLUTION",
    "Block",
    "CbmFamily",
    "CbmSpec",
    "classifier_graph",
    "conv_bn_at",
    "stem_graph",
]

DIGITS = (1, 2, 3, 4)
"""The width choices of every layer: quarters of the layer's base width."""
NUM_LAYERS = 7
RESOLUTION = 32
CLASSES = 10

Block = tuple[int, int, int, int]
"""``(c_in, mid, c_out, stride)`` of one block; it adds its input when stride 1 keeps channels."""

_KEY_FORM = "7 digits 1-4, e.g. '4432214'"


@dataclass(frozen=True)
class CbmSpec:
    """One width configuration: the digit of each of the 7 layers.

    Args:
        digits: 7 integers in 1-4; layer ``i`` gets ``digits[i] / 4`` of its base width.

    Raises:
        InvalidSpecError: not 7 digits, or a digit that is not an integer in 1-4.

    Examples:
        >>> CbmSpec((4, 4, 3, 2, 2, 1, 4)).digits
        (4, 4, 3, 2, 2, 1, 4)
    """

    digits: tuple[int, ...]

    def __post_init__(self) -> None:
        digits = self.digits
        if isinstance(digits, str) or not isinstance(digits, Sequence):
            raise InvalidSpecError(
                f"a Channel-Bench-Macro spec holds {NUM_LAYERS} digits in 1-4, got {digits!r}"
            )
        if len(digits) != NUM_LAYERS:
            raise InvalidSpecError(
                f"a Channel-Bench-Macro spec holds {NUM_LAYERS} digits (one per layer), "
                f"got {len(digits)}: {list(digits)}"
            )
        for i, d in enumerate(digits):
            if isinstance(d, bool) or not isinstance(d, int | np.integer):
                raise InvalidSpecError(
                    f"digits[{i}] = {d!r} is not an integer; choose from {DIGITS}"
                )
            if d not in DIGITS:
                raise InvalidSpecError(f"digits[{i}] (layer {i + 1}) = {d} is not one of {DIGITS}")
        object.__setattr__(self, "digits", tuple(int(d) for d in digits))


class CbmFamily(Family[CbmSpec]):
    """A Channel-Bench-Macro space: keys, widths and search; subclasses build the network.

    Subclasses set ``name`` and ``bases`` (the base width of each layer) and implement
    ``to_module`` and ``to_cg`` (a structural builder that must equal ``trace_cg``).
    """

    size = len(DIGITS) ** NUM_LAYERS
    bases: tuple[int, ...] = ()
    """Base width ``b_i`` of each layer; digit ``d`` gives ``d * b_i / 4`` channels."""

    def widths(self, spec: CbmSpec) -> tuple[int, ...]:
        """The channel count ``c_i = d_i * b_i / 4`` of each layer."""
        return tuple(d * b // 4 for d, b in zip(spec.digits, self.bases, strict=True))

    def parse(self, key: str) -> CbmSpec:
        """The spec of a 7-digit key such as ``"4432214"`` (surrounding spaces ignored).

        Raises:
            InvalidSpecError: not a string, not 7 characters, or a character other than 1-4.
        """
        if not isinstance(key, str):
            raise InvalidSpecError(f"a {self.name} key is a string of {_KEY_FORM}, got {key!r}")
        text = key.strip()
        if len(text) != NUM_LAYERS:
            raise InvalidSpecError(
                f"{self.name} key {key!r} has {len(text)} characters; expected {_KEY_FORM}"
            )
        for i, char in enumerate(text):
            if char not in "1234":
                raise InvalidSpecError(
                    f"{self.name} key {key!r}: character {i + 1} is {char!r}, not a digit 1-4; "
                    f"expected {_KEY_FORM}"
                )
        return CbmSpec(tuple(int(char) for char in text))

    def key(self, spec: CbmSpec) -> str:
        """The digits as one string, the benchmark files' key (e.g. ``"4432214"``)."""
        return "".join(map(str, spec.digits))

    def input_shape(self, spec: CbmSpec) -> tuple[int, int, int, int]:
        """One 32x32 RGB image: ``(1, 3, 32, 32)``."""
        return (1, 3, RESOLUTION, RESOLUTION)

    @abstractmethod
    def to_cg(self, spec: CbmSpec) -> ComputationGraph:
        """The graph built from the widths without torch (equal to ``trace_cg``)."""

    def sample(self, rng: np.random.Generator) -> CbmSpec:
        """Uniform over the 16,384 configurations."""
        return CbmSpec(tuple(int(d) for d in rng.choice(DIGITS, NUM_LAYERS)))

    def mutate(self, spec: CbmSpec, rng: np.random.Generator) -> CbmSpec:
        """One layer gets another width (which always changes the graph's shapes)."""
        layer = int(rng.integers(NUM_LAYERS))
        digits = list(spec.digits)
        digits[layer] = int(rng.choice([d for d in DIGITS if d != digits[layer]]))
        return CbmSpec(tuple(digits))

    def enumerate(self) -> Iterator[CbmSpec]:
        """All 16,384 specs in lexicographic order of their keys (``1111111`` first)."""
        for digits in itertools.product(DIGITS, repeat=NUM_LAYERS):
            yield CbmSpec(digits)


def stem_graph(width: int) -> tuple[GraphBuilder, int]:
    """A builder holding the input and the stem (3x3 conv stride 2, BN, ReLU), and its tip.

    Examples:
        >>> b, x = stem_graph(32)
        >>> b.shape(x), b.nodes[x].name
        ((32, 16, 16), 'stem.2')
    """
    b = GraphBuilder((3, RESOLUTION, RESOLUTION))
    return b, b.unary(b.conv_bn(0, "stem", width, 3, stride=2), "relu", "stem.2")


def conv_bn_at(
    b: GraphBuilder,
    src: int,
    prefix: str,
    index: int,
    c_out: int,
    kernel: int,
    stride: int = 1,
    depthwise: bool = False,
) -> int:
    """Conv then BN at Sequential indices ``index`` and ``index + 1`` of ``prefix``.

    Examples:
        >>> b, x = stem_graph(8)
        >>> y = conv_bn_at(b, x, "blocks.0.body", 3, 8, 3, depthwise=True)
        >>> [(n.op, n.name) for n in b.nodes[-2:]]
        [('depthwise_conv', 'blocks.0.body.3'), ('batch_norm', 'blocks.0.body.4')]
    """
    x = b.conv(src, f"{prefix}.{index}", c_out, kernel, stride, depthwise)
    return b.unary(x, "batch_norm", f"{prefix}.{index + 1}", affine=True)


def classifier_graph(b: GraphBuilder, src: int) -> ComputationGraph:
    """Global average pooling and the linear classifier after ``src``; the finished graph.

    Examples:
        >>> b, x = stem_graph(8)
        >>> graph = classifier_graph(b, x)
        >>> graph.output_shape, graph.params
        ((10, 1, 1), 322)
    """
    return b.finish(b.linear(b.global_avg_pool(src, "pool"), "classifier", CLASSES))
