"""The ``resnet`` family: a small ResNet-style space on 32x32 CIFAR-10 inputs.

Every network is a 3x3 conv stem (16 channels, BN, ReLU), four stages of residual blocks
(strides 1, 2, 2, 2; 32 -> 32 -> 16 -> 8 -> 4 pixels), global average pooling and a
10-way linear classifier. A spec chooses

- ``block``: ``basic`` (two 3x3 convs) or ``bottleneck`` (1x1, 3x3, 1x1 to four times the
  width, stride on the 3x3 as in torchvision);
- ``depths``: blocks per stage, each 1-4;
- ``widths``: the block width of each stage from a per-stage menu, ``WIDTH_CHOICES`` =
  (16, 24, 32), (32, 48, 64), (64, 96, 128), (128, 192, 256).

A block's shortcut is the identity when stride and channels stay, else a 1x1 conv + BN.
The space holds 2 x 4^4 x 3^4 = 41,472 networks, all distinct; ``enumerate`` lists them.
``to_cg`` builds the graph from the spec without torch (well under a millisecond); it equals
``trace_cg``, the graph traced from ``to_module``.

Keys: ``"block=<basic|bottleneck>|depths=<4 ints>|widths=<4 ints>"``, comma-joined, e.g.
``"block=basic|depths=1,2,2,1|widths=32,64,128,256"``.

Examples:
    >>> from cg_ir.families.resnet import FAMILY
    >>> spec = FAMILY.parse("block=basic|depths=1,2,2,1|widths=32,64,128,256")
    >>> spec.depths, FAMILY.key(spec) == "block=basic|depths=1,2,2,1|widths=32,64,128,256"
    ((1, 2, 2, 1), True)
    >>> FAMILY.size
    41472
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cg_ir.errors import InvalidSpecError
from cg_ir.families._base import Family
from cg_ir.families._builder import GraphBuilder
from cg_ir.families._keys import int_list, key_fields

if TYPE_CHECKING:
    import torch

    from cg_ir._graph import ComputationGraph

__all__ = [
    "BLOCKS",
    "CLASSES",
    "DEPTHS",
    "FAMILY",
    "NUM_STAGES",
    "RESOLUTION",
    "STEM",
    "STRIDES",
    "WIDTH_CHOICES",
    "ResNetFamily",
    "ResNetSpec",
]

BLOCKS = ("basic", "bottleneck")
DEPTHS = (1, 2, 3, 4)
WIDTH_CHOICES = ((16, 24, 32), (32, 48, 64), (64, 96, 128), (128, 192, 256))
STRIDES = (1, 2, 2, 2)
STEM = 16
RESOLUTION = 32
CLASSES = 10
NUM_STAGES = len(WIDTH_CHOICES)

_KEY_FORM = "block=<basic|bottleneck>|depths=<4 ints>|widths=<4 ints>"


def _four_ints(name: str, values: object) -> tuple[int, ...]:
    items = tuple(values) if isinstance(values, tuple | list) else None
    if items is None or len(items) != NUM_STAGES:
        raise InvalidSpecError(f"{name} needs one integer per stage ({NUM_STAGES}), got {values!r}")
    ints = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise InvalidSpecError(f"{name} must hold integers, got {values!r}")
        ints.append(int(v))
    return tuple(ints)


@dataclass(frozen=True)
class ResNetSpec:
    """One network of the space.

    Args:
        block: ``"basic"`` or ``"bottleneck"``.
        depths: blocks in each of the 4 stages, each 1-4.
        widths: block width of each stage, ``widths[i]`` from ``WIDTH_CHOICES[i]``.

    Raises:
        InvalidSpecError: an unknown block type, or a depth or width outside its choices.
    """

    block: str
    depths: tuple[int, ...]
    widths: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.block not in BLOCKS:
            raise InvalidSpecError(
                f"block {self.block!r} is not a block type; choose from {BLOCKS}"
            )
        depths = _four_ints("depths", self.depths)
        widths = _four_ints("widths", self.widths)
        for i, depth in enumerate(depths):
            if depth not in DEPTHS:
                raise InvalidSpecError(
                    f"depths[{i}] (stage {i + 1}) = {depth} is not a depth; choose from {DEPTHS}"
                )
        for i, (width, choices) in enumerate(zip(widths, WIDTH_CHOICES, strict=True)):
            if width not in choices:
                raise InvalidSpecError(
                    f"widths[{i}] (stage {i + 1}) = {width} is not a width of that stage; "
                    f"choose from {choices}"
                )
        object.__setattr__(self, "depths", depths)
        object.__setattr__(self, "widths", widths)


class ResNetFamily(Family[ResNetSpec]):
    """The ResNet-style space of the module docstring."""

    name = "resnet"
    size = len(BLOCKS) * len(DEPTHS) ** NUM_STAGES * int(np.prod([len(c) for c in WIDTH_CHOICES]))

    def parse(self, key: str) -> ResNetSpec:
        """The spec of ``key`` (``"block=..|depths=..|widths=.."``).

        Raises:
            InvalidSpecError: malformed key or invalid spec; the message says which part.
        """
        fields = key_fields("resnet", key, ("block", "depths", "widths"), _KEY_FORM)
        depths, widths = (
            int_list("resnet", key, _KEY_FORM, fields[f]) for f in ("depths", "widths")
        )
        return ResNetSpec(fields["block"], tuple(depths), tuple(widths))

    def key(self, spec: ResNetSpec) -> str:
        """The key ``"block=..|depths=..|widths=.."`` of ``spec``."""
        join = ",".join
        return (
            f"block={spec.block}|depths={join(map(str, spec.depths))}"
            f"|widths={join(map(str, spec.widths))}"
        )

    def input_shape(self, spec: ResNetSpec) -> tuple[int, int, int, int]:
        """One 32x32 RGB image: ``(1, 3, 32, 32)``."""
        return (1, 3, RESOLUTION, RESOLUTION)

    def to_module(self, spec: ResNetSpec) -> torch.nn.Module:
        """The network as a freshly initialised torch module."""
        from cg_ir.families._resnet_module import CifarResNet

        return CifarResNet(spec.block, spec.depths, spec.widths, STEM, STRIDES, CLASSES)

    def to_cg(self, spec: ResNetSpec) -> ComputationGraph:
        """The graph built from the spec without torch (equal to ``trace_cg``)."""
        return _build_graph(spec)

    def sample(self, rng: np.random.Generator) -> ResNetSpec:
        """Uniform over the 41,472 networks."""
        block = BLOCKS[int(rng.integers(len(BLOCKS)))]
        depths = tuple(int(d) for d in rng.choice(DEPTHS, NUM_STAGES))
        widths = tuple(int(rng.choice(choices)) for choices in WIDTH_CHOICES)
        return ResNetSpec(block, depths, widths)

    def mutate(self, spec: ResNetSpec, rng: np.random.Generator) -> ResNetSpec:
        """One change: the block type, one stage's depth or one stage's width."""
        kind = int(rng.integers(3))
        if kind == 0:
            block = BLOCKS[1 - BLOCKS.index(spec.block)]
            return ResNetSpec(block, spec.depths, spec.widths)
        stage = int(rng.integers(NUM_STAGES))
        depths, widths = list(spec.depths), list(spec.widths)
        if kind == 1:
            depths[stage] = int(rng.choice([d for d in DEPTHS if d != depths[stage]]))
        else:
            widths[stage] = int(rng.choice([w for w in WIDTH_CHOICES[stage] if w != widths[stage]]))
        return ResNetSpec(spec.block, tuple(depths), tuple(widths))

    def enumerate(self) -> Iterator[ResNetSpec]:
        """All 41,472 specs: block type, then depths, then widths, each in menu order."""
        for block, depths, widths in itertools.product(
            BLOCKS, itertools.product(DEPTHS, repeat=NUM_STAGES), itertools.product(*WIDTH_CHOICES)
        ):
            yield ResNetSpec(block, depths, widths)


def _block(b: GraphBuilder, x: int, spec: ResNetSpec, width: int, stride: int, name: str) -> int:
    c_in = b.shape(x)[0]
    if spec.block == "basic":
        c_out = width
        out = b.conv_bn(x, f"{name}.body", width, 3, stride)
        out = b.unary(out, "relu", f"{name}.body.2")
        # the body's second conv-bn pair sits at Sequential indices 3 and 4
        out = b.conv(out, f"{name}.body.3", width, 3)
        out = b.unary(out, "batch_norm", f"{name}.body.4", affine=True)
    else:
        c_out = 4 * width
        out = b.conv_bn(x, f"{name}.body", width, 1)
        out = b.unary(out, "relu", f"{name}.body.2")
        out = b.conv(out, f"{name}.body.3", width, 3, stride)
        out = b.unary(out, "batch_norm", f"{name}.body.4", affine=True)
        out = b.unary(out, "relu", f"{name}.body.5")
        out = b.conv(out, f"{name}.body.6", c_out, 1)
        out = b.unary(out, "batch_norm", f"{name}.body.7", affine=True)
    shortcut = x
    if stride != 1 or c_in != c_out:
        shortcut = b.conv_bn(x, f"{name}.shortcut", c_out, 1, stride)
    return b.unary(b.elementwise("add", name, out, shortcut), "relu", f"{name}.act")


def _build_graph(spec: ResNetSpec) -> ComputationGraph:
    b = GraphBuilder((3, RESOLUTION, RESOLUTION))
    x = b.unary(b.conv_bn(0, "stem", STEM, 3), "relu", "stem.2")
    for s, (depth, width, stride) in enumerate(zip(spec.depths, spec.widths, STRIDES, strict=True)):
        for i in range(depth):
            x = _block(b, x, spec, width, stride if i == 0 else 1, f"stages.{s}.{i}")
    x = b.global_avg_pool(x, "pool")
    return b.finish(b.linear(x, "classifier", CLASSES))


FAMILY = ResNetFamily()
