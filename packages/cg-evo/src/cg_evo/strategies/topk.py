"""``predictor-topk``: no evolution; query the best-predicted unqueried candidates, refit, repeat.

The predictor ranks every candidate (after the zero-shot warm start of ``predictor-ea``); each
round queries the ``per_generation`` best-predicted candidates whose class is not known yet,
and the predictor is fine-tuned on the ``FineTuneConfig.growth`` schedule.
"""

from __future__ import annotations

import numpy as np

from cg_evo.strategies._base import Context, query_first
from cg_evo.strategies.evolution import refit_if_due, warm_start

__all__ = ["PredictorTopK"]


class PredictorTopK:
    """Greedy top-k querying by the fine-tuned predictor."""

    name = "predictor-topk"
    uses_predictor = True

    def run(self, ctx: Context) -> None:
        """Warm start, then rounds of the best-predicted unknown candidates."""
        assert ctx.predictor is not None
        warm_start(ctx)
        everything = np.arange(len(ctx.space))
        while True:
            refit_if_due(ctx)
            ranked = np.argsort(-ctx.predictor.scores(everything), kind="stable")
            if not query_first(ranked, ctx, ctx.settings.per_generation):
                return  # every class is known: the space is exhausted
