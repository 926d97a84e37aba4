"""Rank transforms: z-scored ranks, and blends of several rankings of one set.

A source-trained predictor ranks a family it never saw from what the other families taught it;
FLOPs rank it from size alone, a zero-cost proxy from one look at the untrained network.
``rank_blend`` mixes such orderings on the set being ranked (ranks, so no scale matters) and
``flops_blend`` is its two-way case, the network and FLOPs; how much each weighs is chosen
without the target's labels (nested leave-one-family-out on the labelled families).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from cg_predict.errors import InvalidArgumentError

__all__ = ["flops_blend", "rank_blend", "z_ranks"]

FloatArray = npt.NDArray[np.float64]


def z_ranks(values: npt.ArrayLike) -> FloatArray:
    """Ranks of ``values`` (ties averaged), standardised to mean 0 and standard deviation 1.

    A constant input ranks every value alike: all zeros.

    Examples:
        >>> z_ranks([10.0, 30.0, 20.0]).round(3).tolist()
        [-1.225, 1.225, 0.0]
    """
    ranks = rankdata(np.asarray(values, dtype=np.float64))
    spread = ranks.std()
    return (ranks - ranks.mean()) / spread if spread > 0 else np.zeros_like(ranks)


def rank_blend(columns: Mapping[str, npt.ArrayLike], weights: Mapping[str, float]) -> FloatArray:
    """``sum(weights[c] * z_ranks(columns[c]))`` over the weighted columns: higher is better.

    Every column scores the same items (higher = better); a column without a weight (or with
    weight 0) is not read. The weights are non-negative and sum to 1.

    Raises:
        InvalidArgumentError: a negative weight, weights that do not sum to 1, a weighted
            column that is missing, or columns of different lengths.

    Examples:
        >>> rank_blend({"network": [0.1, 0.3, 0.2], "flops": [3.0, 1.0, 2.0]},
        ...            {"network": 0.75, "flops": 0.25}).round(3).tolist()
        [-0.612, 0.612, 0.0]
    """
    used = {name: float(w) for name, w in weights.items() if w != 0}
    if any(w < 0 for w in used.values()) or not np.isclose(sum(used.values()), 1.0):
        raise InvalidArgumentError(
            f"rank_blend needs non-negative weights that sum to 1; got {dict(weights)}"
        )
    missing = sorted(set(used) - set(columns))
    if missing:
        raise InvalidArgumentError(
            f"rank_blend weighs {missing} but has only the columns {sorted(columns)}"
        )
    arrays = {name: np.asarray(columns[name], dtype=np.float64) for name in used}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) > 1:
        raise InvalidArgumentError(f"rank_blend needs columns of one length; got {sorted(shapes)}")
    blend = np.zeros(next(iter(shapes)), dtype=np.float64)
    for name, w in used.items():
        blend += w * z_ranks(arrays[name])
    return blend


def flops_blend(scores: npt.ArrayLike, flops: npt.ArrayLike, weight: float) -> FloatArray:
    """``(1 - weight) * z_ranks(scores) + weight * z_ranks(flops)``: higher is better.

    Raises:
        InvalidArgumentError: ``weight`` outside [0, 1], or inputs of different lengths.

    Examples:
        >>> flops_blend([0.1, 0.3, 0.2], [3.0, 1.0, 2.0], 0.25).round(3).tolist()
        [-0.612, 0.612, 0.0]
    """
    s, f = np.asarray(scores, dtype=np.float64), np.asarray(flops, dtype=np.float64)
    if not 0.0 <= weight <= 1.0 or s.shape != f.shape:
        raise InvalidArgumentError(
            f"flops_blend needs a weight in [0, 1] and inputs of one length; got {weight}, "
            f"{s.shape} and {f.shape}"
        )
    return rank_blend({"network": s, "flops": f}, {"network": 1.0 - weight, "flops": weight})
