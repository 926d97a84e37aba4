"""cg-evo: predictor-guided evolutionary search over cg-ir families, against honest baselines.

Examples:
    >>> import cg_evo
    >>> cg_evo.Budget.parse(max_flops="100M").describe()
    'flops <= 1e+08'
    >>> "predictor-ea" in cg_evo.strategies.names()
    True
"""

from cg_evo import strategies
from cg_evo.budget import Budget, parse_amount
from cg_evo.errors import (
    CgEvoError,
    InvalidSearchError,
    NoCandidatesError,
    SearchStateError,
    UnknownArchitectureError,
    UnknownStrategyError,
)
from cg_evo.oracle import ORACLES, Oracle, load_oracle
from cg_evo.predicted import search_predicted
from cg_evo.search import SearchConfig, run_search, summarize
from cg_evo.space import Queries, SearchSpace
from cg_evo.strategies import StrategySettings
from cg_evo.surrogate import FineTuneConfig, SearchPredictor, source_predictor

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
    "SearchPredictor",
    "source_predictor",
    # errors
    "CgEvoError",
    "InvalidSearchError",
    "NoCandidatesError",
    "SearchStateError",
    "UnknownArchitectureError",
    "UnknownStrategyError",
]
