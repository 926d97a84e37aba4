"""Cost budgets: the search only considers architectures whose costs are under every limit.

Costs are named: ``flops`` and ``params`` come from the architecture's computation graph
(cg-ir's counts, any family); ``macs`` and ``latency`` come from the benchmark table where it
has such a column (OFA-MobileNetV3's published MACs). A limit is a number with an optional
``K``/``M``/``G``/``T`` suffix (powers of 1000), or ``median``: the median of that cost over
the space, so that "the best network under the space's median FLOPs" needs no number typed.

Examples:
    >>> b = Budget.parse(max_flops="100M", max_params=None)
    >>> b.limits
    {'flops': 100000000.0}
    >>> import numpy as np
    >>> b.mask({"flops": np.array([5e7, 2e8]), "params": np.array([1.0, 2.0])}).tolist()
    [True, False]
    >>> Budget.parse(max_params="median").resolve({"params": np.array([1.0, 2.0, 3.0])}).limits
    {'params': 2.0}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cg_evo.errors import InvalidSearchError

__all__ = ["COSTS", "Budget", "parse_amount"]

COSTS = ("flops", "params", "macs", "latency")
_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
MEDIAN = "median"


def parse_amount(text: str | float) -> float:
    """``"100M"`` -> 1e8; plain numbers pass through. Raises InvalidSearchError otherwise.

    Examples:
        >>> parse_amount("2.5G"), parse_amount(300)
        (2500000000.0, 300.0)
    """
    if isinstance(text, int | float):
        value = float(text)
    else:
        found = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKmMgGtT]?)\s*", text)
        if not found:
            raise InvalidSearchError(
                f"budget {text!r} is not a number with an optional K/M/G/T suffix (e.g. 100M) "
                "or 'median'"
            )
        value = float(found.group(1)) * _SUFFIX[found.group(2).upper()]
    if not math.isfinite(value) or value <= 0:
        raise InvalidSearchError(f"budget {text!r} must be a positive, finite amount")
    return value


@dataclass(frozen=True)
class Budget:
    """Upper limits on named costs (inclusive); no limit means the whole space.

    Attributes:
        limits: ``{cost: maximum}`` with numbers, or the string ``"median"`` before ``resolve``.
    """

    limits: dict[str, float | str] = field(default_factory=dict)

    @classmethod
    def parse(cls, **max_costs: str | float | None) -> Budget:
        """A budget from ``max_<cost>=amount`` keywords (None: no limit on that cost)."""
        limits: dict[str, float | str] = {}
        for name, amount in max_costs.items():
            cost = name.removeprefix("max_")
            if cost not in COSTS:
                raise InvalidSearchError(f"unknown cost {cost!r}; costs: {', '.join(COSTS)}")
            if amount is None:
                continue
            is_median = isinstance(amount, str) and amount.strip().lower() == MEDIAN
            limits[cost] = MEDIAN if is_median else parse_amount(amount)
        return cls(limits)

    def resolve(self, costs: Mapping[str, npt.NDArray[np.float64]]) -> Budget:
        """The budget with ``median`` replaced by the median of that cost over ``costs``.

        Raises:
            InvalidSearchError: a limit names a cost the space does not have.
        """
        missing = [c for c in self.limits if c not in costs]
        if missing:
            raise InvalidSearchError(
                f"this space has no {', '.join(missing)} cost (no such table column); costs "
                f"available: {', '.join(sorted(costs))}"
            )
        return Budget(
            {
                c: float(np.median(costs[c])) if v == MEDIAN else float(v)
                for c, v in self.limits.items()
            }
        )

    def mask(self, costs: Mapping[str, npt.NDArray[np.float64]]) -> npt.NDArray[np.bool_]:
        """Which architectures fit every limit (``costs`` holds one array per cost)."""
        resolved = self.resolve(costs)
        size = len(next(iter(costs.values())))
        keep = np.ones(size, dtype=bool)
        for cost, limit in resolved.limits.items():
            keep &= np.asarray(costs[cost], dtype=float) <= float(limit)
        return keep

    def describe(self) -> str:
        """``"flops <= 1e+08, params <= 2e+06"``, or ``"none"``."""
        if not self.limits:
            return "none"
        return ", ".join(
            f"{c} <= {v}" if isinstance(v, str) else f"{c} <= {v:.4g}"
            for c, v in sorted(self.limits.items())
        )

    def to_dict(self) -> dict[str, float | str]:
        """JSON-able limits."""
        return dict(sorted(self.limits.items()))
