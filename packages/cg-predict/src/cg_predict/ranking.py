"""Rank transforms: z-scored ranks, and a prediction blended with the FLOPs ranking.

A source-trained predictor ranks a family it never saw from what the other families taught it;
FLOPs rank it from size alone. ``flops_blend`` mixes the two orderings on the set being ranked
(ranks, so neither's scale matters); how much FLOPs weigh is chosen without the target's labels
(``tools/select_zero_shot.py``: nested leave-one-family-out on the labelled families).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from cg_predict.errors import InvalidArgumentError

__all__ = ["flops_blend", "z_ranks"]

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
    return (1.0 - weight) * z_ranks(s) + weight * z_ranks(f)
