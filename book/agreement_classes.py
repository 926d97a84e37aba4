"""Proxy agreement per isomorphism class, from a run's cells (book/agreement_classes.py).

A proxy agreement run (the ``proxy-agreement`` experiment, ``cgnas proxy-agreement``) scores
every sampled NAS-Bench-Suite-Zero cell; cells whose computation graphs are isomorphic (NB-101's
and NB-201's twins) are one architecture, counted here once with their mean label and score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cg_predict import metrics
from cg_predict.evaluate import graphs_with_costs


def per_class(cells: dict[str, Any], family: str) -> dict[str, tuple[float, float | None, int]]:
    """Per proxy of a run's ``cells``: SRCC with the accuracy of ours and of theirs (None: no
    reference score) on one row per isomorphism class, and the number of classes.

    Cells where ours (or, for a proxy with a reference, theirs) is NaN are left out, as the run's
    own per-cell correlations leave them out.
    """
    graphs, _, _ = graphs_with_costs(family, tuple(cells), progress=False)
    classes = np.asarray(graphs.hashes)
    labels = np.array([c["label"] for c in cells.values()], dtype=float)
    scores = {}
    for name in next(iter(cells.values()))["ours"]:
        ours = np.array([float(c["ours"][name]["value"]) for c in cells.values()])
        theirs = np.array([float(c["theirs"].get(name, np.nan)) for c in cells.values()])
        reference = not np.isnan(theirs).all()
        keep = ~np.isnan(ours) & (~np.isnan(theirs) if reference else True)
        by_class = (classes[keep], labels[keep])
        scores[name] = (
            class_srcc(*by_class, ours[keep]),
            class_srcc(*by_class, theirs[keep]) if reference else None,
            len(set(classes[keep])),
        )
    return scores


def class_srcc(classes: np.ndarray, labels: np.ndarray, values: np.ndarray) -> float:
    """SRCC of ``values`` with ``labels`` on the class means (``metrics.class_means``)."""
    return metrics.spearman(*metrics.class_means(classes, labels, values))
