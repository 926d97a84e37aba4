"""Hypothesis strategies and settings profiles for cg-ir users' own tests (``testing`` extra).

Every family ships a strategy of valid specs in ``cg_ir.testing.strategies``, e.g.
``nb201_specs()``; ``computation_graphs()`` draws random valid graphs directly, to
property-test code that consumes graphs (converters, encoders); ``load_profile("ci")`` selects
reproducible hypothesis settings. Feed the strategies to ``hypothesis.given``.
"""

from cg_ir.testing import strategies
from cg_ir.testing._examples import attention_graph
from cg_ir.testing.profiles import PROFILES, load_profile
from cg_ir.testing.strategies import computation_graphs, reordered_graphs

__all__ = [
    "PROFILES",
    "attention_graph",
    "computation_graphs",
    "load_profile",
    "reordered_graphs",
    "strategies",
]
