"""The ``ofa-mbv3`` family: Once-for-All MobileNetV3-Large subnets at width 1.0.

The space of OFA (Cai et al., ICLR 2020): five elastic stages of MBConv blocks (widths 24,
40, 80, 112, 160; SE in stages 2, 4 and 5; hardswish from stage 3 on), each with four block
slots of which stage ``i`` uses the first ``d[i]`` (2-4); every slot has a depthwise kernel
size ``ks`` (3/5/7) and an expand ratio ``e`` (3/4/6); the input resolution ``r`` is 128-224
in steps of 4. Around the stages sit the fixed stem (3x3 conv, stride 2, 16 channels,
hardswish), a first MBConv block (16->16, expand 1, residual), the final 1x1 expand to 960,
global average pooling, a 1x1 feature-mix conv to 1280 (no BN, no bias) and a 1000-way linear
classifier. The parameter count of every network equals the ``params`` column of
``ofa-mbv3/ofa_mbv3_w10_imagenet_top1.csv``.

Keys: ``"ks=<20 ints>|e=<20 ints>|d=<5 ints>|r=<int>"``, comma-joined, slots stage by stage.
Slots beyond a stage's depth do not change the network, so specs store them (and canonical
keys write them) as the filler ``3`` for both ``ks`` and ``e`` (the smallest choice, which
keeps canonical keys in the data file's form); ``parse`` accepts any valid choice there. Two
keys name the same network exactly when their canonical keys are equal.

Examples:
    >>> from cg_ir.families.ofa_mbv3 import FAMILY
    >>> spec = FAMILY.parse("ks=" + ",".join(["7"] * 20) + "|e=" + ",".join(["6"] * 20)
    ...                     + "|d=2,2,2,2,2|r=224")
    >>> FAMILY.key(spec)[:24]
    'ks=7,7,3,3,7,7,3,3,7,7,3'
    >>> spec.depths, spec.r
    ((2, 2, 2, 2, 2), 224)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cg_ir.errors import InvalidSpecError
from cg_ir.families._base import Family
from cg_ir.families._keys import int_list, key_fields
from cg_ir.families._ofa_layout import STAGES, block_layouts, build_graph

if TYPE_CHECKING:
    import torch

    from cg_ir._graph import ComputationGraph

__all__ = [
    "DEPTHS",
    "EXPAND_RATIOS",
    "FAMILY",
    "FILLER",
    "KERNEL_SIZES",
    "NUM_SLOTS",
    "NUM_STAGES",
    "RESOLUTIONS",
    "SLOTS_PER_STAGE",
    "OfaMbv3Family",
    "OfaMbv3Spec",
]

KERNEL_SIZES = (3, 5, 7)
EXPAND_RATIOS = (3, 4, 6)
DEPTHS = (2, 3, 4)
RESOLUTIONS = tuple(range(128, 225, 4))
SLOTS_PER_STAGE = 4
NUM_STAGES = len(STAGES)
NUM_SLOTS = NUM_STAGES * SLOTS_PER_STAGE
FILLER = 3
"""What unused slots hold in a spec and its canonical key, for ``ks`` and ``e`` alike."""

_KEY_FORM = "ks=<20 ints>|e=<20 ints>|d=<5 ints>|r=<int>"


def _ints(name: str, values: Iterable[object], length: int) -> tuple[int, ...]:
    items = tuple(values)
    if len(items) != length:
        raise InvalidSpecError(
            f"{name} needs {length} entries"
            + (f" ({NUM_STAGES} stages x {SLOTS_PER_STAGE} slots)" if length == NUM_SLOTS else "")
            + f", got {len(items)}: {list(items)}"
        )
    ints = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise InvalidSpecError(f"{name} must hold integers, got {list(items)}")
        ints.append(int(v))
    return tuple(ints)


def _slot(index: int) -> str:
    return f"stage {index // SLOTS_PER_STAGE + 1}, slot {index % SLOTS_PER_STAGE + 1}"


@dataclass(frozen=True)
class OfaMbv3Spec:
    """One subnet: kernel sizes and expand ratios per slot, depths per stage, resolution.

    Construction validates every field and rewrites unused slots to ``FILLER``, so two specs
    are equal exactly when they are the same network.

    Args:
        ks: 20 depthwise kernel sizes (3, 5 or 7), 4 slots per stage.
        e: 20 expand ratios (3, 4 or 6).
        d: 5 depths (2, 3 or 4): stage ``i`` uses slots ``4*i .. 4*i + d[i] - 1``.
        r: input resolution, a multiple of 4 from 128 to 224.

    Raises:
        InvalidSpecError: a field has the wrong length or a value outside its choices; the
            message names the slot and the valid values.
    """

    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    r: int = 224

    def __post_init__(self) -> None:
        ks = _ints("ks", self.ks, NUM_SLOTS)
        e = _ints("e", self.e, NUM_SLOTS)
        d = _ints("d", self.d, NUM_STAGES)
        for i, depth in enumerate(d):
            if depth not in DEPTHS:
                raise InvalidSpecError(
                    f"d[{i}] (stage {i + 1}) = {depth} is not a depth; choose from {DEPTHS}"
                )
        for name, values, choices in (("ks", ks, KERNEL_SIZES), ("e", e, EXPAND_RATIOS)):
            for i, v in enumerate(values):
                if v not in choices:
                    raise InvalidSpecError(
                        f"{name}[{i}] ({_slot(i)}) = {v} is not one of {choices}"
                        " (unused slots too must hold a valid choice)"
                    )
        if isinstance(self.r, bool) or not isinstance(self.r, int | np.integer):
            raise InvalidSpecError(f"r must be an integer resolution, got {self.r!r}")
        if int(self.r) not in RESOLUTIONS:
            raise InvalidSpecError(
                f"r = {self.r} is not a resolution of the space; choose a multiple of 4 "
                f"from {RESOLUTIONS[0]} to {RESOLUTIONS[-1]}"
            )
        used = {s * SLOTS_PER_STAGE + i for s, depth in enumerate(d) for i in range(depth)}
        object.__setattr__(self, "ks", tuple(v if j in used else FILLER for j, v in enumerate(ks)))
        object.__setattr__(self, "e", tuple(v if j in used else FILLER for j, v in enumerate(e)))
        object.__setattr__(self, "d", d)
        object.__setattr__(self, "r", int(self.r))

    @property
    def depths(self) -> tuple[int, ...]:
        """The depths of the five stages (``d``)."""
        return self.d

    def used_slots(self) -> list[int]:
        """Indices (0-19) of the slots the network uses, in order."""
        return [s * SLOTS_PER_STAGE + i for s, depth in enumerate(self.d) for i in range(depth)]


class OfaMbv3Family(Family[OfaMbv3Spec]):
    """The OFA MobileNetV3 space; see the module docstring for the network and the keys.

    Args:
        resolutions: the resolutions ``sample`` and ``mutate`` draw from (default: all 25,
            128-224 step 4; ``(224,)`` keeps every sample at the data file's resolution).
    """

    name = "ofa-mbv3"
    size = None

    def __init__(self, resolutions: Sequence[int] = RESOLUTIONS) -> None:
        bad = [r for r in resolutions if r not in RESOLUTIONS]
        if not resolutions or bad:
            raise InvalidSpecError(
                f"resolutions must be a non-empty subset of {RESOLUTIONS[0]}..{RESOLUTIONS[-1]} "
                f"step 4; not in the space: {bad}"
            )
        self.resolutions = tuple(int(r) for r in resolutions)

    def parse(self, key: str) -> OfaMbv3Spec:
        """The spec of ``key`` (``"ks=..|e=..|d=..|r=.."``; any valid value in unused slots).

        Raises:
            InvalidSpecError: malformed key or invalid spec; the message says which part.
        """
        fields = key_fields(
            "ofa-mbv3", key, ("ks", "e", "d", "r"), _KEY_FORM, "comma-separated ints"
        )
        ks, e, d = (int_list("ofa-mbv3", key, _KEY_FORM, fields[f]) for f in ("ks", "e", "d"))
        try:
            r = int(fields["r"])
        except ValueError as err:
            raise InvalidSpecError(
                f"ofa-mbv3 key {key!r} holds a value that is not an integer ({err}); "
                f"expected {_KEY_FORM!r}"
            ) from None
        return OfaMbv3Spec(tuple(ks), tuple(e), tuple(d), r)

    def key(self, spec: OfaMbv3Spec) -> str:
        """The canonical key: unused slots written as ``FILLER``."""
        join = ",".join
        return (
            f"ks={join(map(str, spec.ks))}|e={join(map(str, spec.e))}"
            f"|d={join(map(str, spec.d))}|r={spec.r}"
        )

    def input_shape(self, spec: OfaMbv3Spec) -> tuple[int, int, int, int]:
        """``(1, 3, r, r)``."""
        return (1, 3, spec.r, spec.r)

    def to_module(self, spec: OfaMbv3Spec) -> torch.nn.Module:
        """The subnet as a freshly initialised torch module (eval() it for inference)."""
        from cg_ir.families._ofa_module import OfaMobileNetV3

        return OfaMobileNetV3(block_layouts(spec.ks, spec.e, spec.d))

    def to_cg(self, spec: OfaMbv3Spec) -> ComputationGraph:
        """The graph built from the block layout, without torch (equal to ``trace_cg``)."""
        return build_graph(block_layouts(spec.ks, spec.e, spec.d), spec.r)

    def sample(self, rng: np.random.Generator) -> OfaMbv3Spec:
        """Uniform over every slot's ``ks`` and ``e``, every depth and ``resolutions``."""
        d = rng.choice(DEPTHS, NUM_STAGES)
        ks = rng.choice(KERNEL_SIZES, NUM_SLOTS)
        e = rng.choice(EXPAND_RATIOS, NUM_SLOTS)
        r = rng.choice(self.resolutions)
        return OfaMbv3Spec(tuple(ks.tolist()), tuple(e.tolist()), tuple(d.tolist()), int(r))

    def mutate(self, spec: OfaMbv3Spec, rng: np.random.Generator) -> OfaMbv3Spec:
        """One change: a used slot's kernel or expand ratio, one stage's depth, or ``r``.

        A stage that grows gets random choices in its new slot. ``r`` only changes when the
        family has more than one resolution. Every change alters the graph.
        """
        kinds = ["ks", "e", "d"] + (["r"] * (len(self.resolutions) > 1))
        kind = kinds[int(rng.integers(len(kinds)))]
        ks, e, d = list(spec.ks), list(spec.e), list(spec.d)
        r = spec.r
        if kind == "r":
            r = int(rng.choice([x for x in self.resolutions if x != spec.r]))
        elif kind == "d":
            stage = int(rng.integers(NUM_STAGES))
            d[stage] = int(rng.choice([x for x in DEPTHS if x != spec.d[stage]]))
            for slot in range(spec.d[stage], d[stage]):  # fresh blocks get random choices
                j = stage * SLOTS_PER_STAGE + slot
                ks[j] = int(rng.choice(KERNEL_SIZES))
                e[j] = int(rng.choice(EXPAND_RATIOS))
        else:
            values, choices = (ks, KERNEL_SIZES) if kind == "ks" else (e, EXPAND_RATIOS)
            slots = spec.used_slots()
            j = slots[int(rng.integers(len(slots)))]
            values[j] = int(rng.choice([x for x in choices if x != values[j]]))
        return OfaMbv3Spec(tuple(ks), tuple(e), tuple(d), r)


FAMILY = OfaMbv3Family()
