"""``az_nas_aggregate``: AZ-NAS's non-linear rank aggregation over a set of networks.

Lee & Ham (CVPR 2024) score a set of ``N`` networks by ranking them on each component
(``az_expressivity``, ``az_progressivity``, ``az_trainability`` and complexity, i.e. ``flops``)
and summing ``log(rank / N)`` over the components: rank ``N`` (the best) adds 0, a low rank a
large negative number, so a network must do well on *every* component to score high. The score
of a network depends on the others in the set, which is why it is a function over a table and
not a per-network proxy.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from cg_predict.errors import InvalidArgumentError

__all__ = ["AZ_NAS_COMPONENTS", "az_nas_aggregate"]

AZ_NAS_COMPONENTS = ("az_expressivity", "az_progressivity", "az_trainability", "flops")
"""The paper's aggregate: the three network proxies and complexity (FLOPs)."""


def az_nas_aggregate(scores: Mapping[str, npt.ArrayLike]) -> list[float]:
    """AZ-NAS's aggregate of each network: ``sum_k log(rank_k / N)`` over the components ``k``.

    ``rank_k`` ranks the ``N`` networks by component ``k`` in ascending order (1 = the lowest
    score, ``N`` = the highest; tied networks share their average rank, as ``scipy``'s
    ``rankdata`` in the authors' code), so higher = better for every component, as for all
    proxies here; ``-inf`` ranks lowest. The paper's aggregate uses
    ``az_expressivity, az_progressivity, az_trainability, flops``; any columns can be given.

    Args:
        scores: component name -> its score for each of the ``N`` networks (same order).

    Returns:
        The aggregate of each network, in the order of the columns; higher = better, at most 0.

    Raises:
        InvalidArgumentError: no columns, no networks, columns of different lengths, or a NaN.

    Examples:
        >>> table = {"az_expressivity": [1.0, 3.0, 2.0], "flops": [30.0, 10.0, 20.0]}
        >>> [round(v, 4) for v in az_nas_aggregate(table)]
        [-1.0986, -1.0986, -0.8109]
    """
    if not scores:
        raise InvalidArgumentError("az_nas_aggregate: needs at least one column of scores")
    columns = {
        name: np.asarray(column, dtype=np.float64).ravel() for name, column in scores.items()
    }
    lengths = {name: len(column) for name, column in columns.items()}
    n = next(iter(lengths.values()))
    if n == 0 or any(length != n for length in lengths.values()):
        raise InvalidArgumentError(
            f"az_nas_aggregate: every column needs the same, non-zero number of networks; got "
            f"{lengths}"
        )
    total = np.zeros(n, dtype=np.float64)
    for name, values in columns.items():
        if np.isnan(values).any():
            raise InvalidArgumentError(
                f"az_nas_aggregate: column {name!r} has NaN at network(s) "
                f"{np.flatnonzero(np.isnan(values)).tolist()}; NaN has no rank"
            )
        total += np.log(rankdata(values) / n)
    return [float(v) for v in total]
