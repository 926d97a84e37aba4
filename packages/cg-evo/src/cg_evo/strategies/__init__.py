"""Search strategies, by name; packages add theirs through the entry-point group below.

Built in: ``predictor-ea``, ``predictor-topk``, ``predictor-ls``, ``rea``, ``random``,
``cost-order``, ``proxy-order``, ``local-search`` and ``cost-local-search``. A third-party
strategy is a class with ``name``, ``uses_predictor`` and ``run(ctx)`` (see ``Strategy``),
registered under ``[project.entry-points."cg_evo.strategies"]``.

Examples:
    >>> from cg_evo.strategies import get, names
    >>> names()[:3], get("rea").uses_predictor
    (['cost-local-search', 'cost-order', 'local-search'], False)
"""

from __future__ import annotations

from importlib.metadata import entry_points

from cg_evo.errors import UnknownStrategyError
from cg_evo.names import ENTRY_POINT_GROUP
from cg_evo.strategies._base import Context, Strategy, StrategySettings
from cg_evo.strategies.evolution import PredictorEvolution, RegularizedEvolution
from cg_evo.strategies.local import CostLocalSearch, LocalSearch, PredictorLocalSearch
from cg_evo.strategies.orderings import CostOrder, ProxyOrder, RandomOrder
from cg_evo.strategies.topk import PredictorTopK

__all__ = ["ENTRY_POINT_GROUP", "Context", "Strategy", "StrategySettings", "get", "names"]

_BUILTIN: dict[str, type] = {
    cls.name: cls
    for cls in (
        PredictorEvolution,
        PredictorTopK,
        PredictorLocalSearch,
        RegularizedEvolution,
        RandomOrder,
        CostOrder,
        ProxyOrder,
        LocalSearch,
        CostLocalSearch,
    )
}


def names() -> list[str]:
    """Every strategy name: built in or installed through entry points."""
    return sorted(set(_BUILTIN) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def get(name: str) -> Strategy:
    """A new instance of the strategy ``name``.

    Raises:
        UnknownStrategyError: no such strategy; the message lists them.
    """
    if name in _BUILTIN:
        strategy: Strategy = _BUILTIN[name]()
        return strategy
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == name:
            loaded: Strategy = point.load()()
            return loaded
    raise UnknownStrategyError(f"no strategy named {name!r}; strategies: {', '.join(names())}")
