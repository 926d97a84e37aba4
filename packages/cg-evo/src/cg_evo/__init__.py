"""cg-evo: predictor-guided evolutionary search over cg-ir families, against honest baselines.

Examples:
    >>> import cg_evo
    >>> cg_evo.Budget.parse(max_flops="100M").describe()
    'flops <= 1e+08'
    >>> "predictor-ea" in cg_evo.strategies.names()
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cg_evo.budget import Budget, parse_amount
from cg_evo.errors import (
    CgEvoError,
    InvalidSearchError,
    MissingResultError,
    NoCandidatesError,
    SearchStateError,
    UnknownArchitectureError,
    UnknownStrategyError,
)
from cg_ir.lazy import lazy_attributes

if TYPE_CHECKING:  # the same names, for type checkers (at run time they come from _LAZY)
    from cg_evo import strategies
    from cg_evo.oracle import ORACLES, Oracle, load_oracle
    from cg_evo.predicted import search_predicted
    from cg_evo.search import SearchConfig, run_search, summarize
    from cg_evo.space import Queries, SearchSpace
    from cg_evo.strategies import StrategySettings
    from cg_evo.surrogate import SOURCE_MODELS, FineTuneConfig, SearchPredictor, source_predictor

__version__ = "0.1.0"

__all__ = [
    "strategies",
    # search
    "SearchConfig",
    "run_search",
    "summarize",
    "search_predicted",
    "StrategySettings",
    "FineTuneConfig",
    # spaces, oracles, budgets
    "SearchSpace",
    "Queries",
    "Oracle",
    "ORACLES",
    "load_oracle",
    "Budget",
    "parse_amount",
    # predictor
    "SOURCE_MODELS",
    "SearchPredictor",
    "source_predictor",
    # errors
    "CgEvoError",
    "InvalidSearchError",
    "MissingResultError",
    "NoCandidatesError",
    "SearchStateError",
    "UnknownArchitectureError",
    "UnknownStrategyError",
]

# public name -> the module defining it (a submodule itself where the name is the module's);
# torch loads with the first of them used, so `cgnas --help` and `import cg_evo` stay cheap
_LAZY = {
    "strategies": "cg_evo.strategies",
    "ORACLES": "cg_evo.oracle",
    "Oracle": "cg_evo.oracle",
    "load_oracle": "cg_evo.oracle",
    "search_predicted": "cg_evo.predicted",
    "SearchConfig": "cg_evo.search",
    "run_search": "cg_evo.search",
    "summarize": "cg_evo.search",
    "Queries": "cg_evo.space",
    "SearchSpace": "cg_evo.space",
    "StrategySettings": "cg_evo.strategies",
    "FineTuneConfig": "cg_evo.surrogate",
    "SOURCE_MODELS": "cg_evo.surrogate",
    "SearchPredictor": "cg_evo.surrogate",
    "source_predictor": "cg_evo.surrogate",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
