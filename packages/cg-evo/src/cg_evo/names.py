"""Names the command line offers while it parses, without importing torch.

The strategy classes (``cg_evo.strategies``) import numpy, cg-predict and torch; ``cgnas
--help`` and a mistyped ``--strategy`` must not wait for them. The built-in strategies are named
here once (``cg_evo.strategies`` registers a class under each, a test checks), third-party ones
come from their entry points' names, which reading the installed metadata gives without loading
them.

Examples:
    >>> "predictor-ea" in strategy_names() and "local-search" in BUILTIN_STRATEGIES
    True
"""

from __future__ import annotations

from importlib.metadata import entry_points

__all__ = [
    "BUILTIN_STRATEGIES",
    "ENTRY_POINT_GROUP",
    "LOCAL_OPTIMUM_MOVES",
    "WARM_DESIGNS",
    "strategy_names",
]

# the entry-point group under which other packages register their strategies
ENTRY_POINT_GROUP = "cg_evo.strategies"
# the predictor searches first, then the baselines (the order of --help and of the search
# experiment's runs)
BUILTIN_STRATEGIES = (
    "predictor-ea",
    "predictor-topk",
    "predictor-ls",
    "rea",
    "random",
    "cost-order",
    "proxy-order",
    "local-search",
    "cost-local-search",
)
# how the predictor strategies choose their first queries (StrategySettings.warm_design)
WARM_DESIGNS = ("zero-shot", "cost", "proxy", "ensemble", "portfolio")
# what the local searches do once every nearest network of their centre is queried
# (StrategySettings.at_local_optimum)
LOCAL_OPTIMUM_MOVES = ("widen", "restart")


def strategy_names() -> tuple[str, ...]:
    """The built-in strategies, then those installed through entry points (not loaded)."""
    installed = (point.name for point in entry_points(group=ENTRY_POINT_GROUP))
    return tuple(dict.fromkeys((*BUILTIN_STRATEGIES, *installed)))
