"""The proxy-agreement experiment of ``cgnas reproduce``, and proxy agreement per class.

Registered in the entry-point group ``cgnas.experiments`` (``cg_ir.experiments``):
``proxy-agreement``, cg-predict's live zero-cost proxies against NAS-Bench-Suite-Zero's and
against accuracy, on a seeded sample of each target's cells (``proxy_agreement``), per
sampled cell and per isomorphism class.

``agreement_per_class`` turns a proxy agreement run's cells into correlations on one row per
isomorphism class: cells whose computation graphs are isomorphic (NB-101's and NB-201's
twins) are one architecture, counted once with their mean label and score, as the project's
correlations are. It lives here, not in ``cg_predict.proxies``, because it needs the cells'
graphs, not the proxies' code (whose digest keys every cached proxy score).

Quick mode is CI's (NB-201 CIFAR-10, 12 cells), full mode the reported one (every target,
100 cells).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from cg_ir.experiments import Experiment, RunContext
from cg_predict import metrics
from cg_predict.data import benchmark_files

__all__ = ["PROXY_AGREEMENT", "ClassAgreement", "agreement_per_class"]

# (family, dataset) of the quick run; full mode runs every one the package knows
_QUICK_AGREEMENT = (("nb201", "cifar10"),)


@dataclass(frozen=True)
class ClassAgreement:
    """One proxy's SRCC with accuracy on one row per isomorphism class.

    Attributes:
        ours: our live proxy's SRCC.
        theirs: the reference (NAS-Bench-Suite-Zero) score's SRCC; None without a reference.
        classes: isomorphism classes of the cells both scores are finite on.
    """

    ours: float
    theirs: float | None
    classes: int


def agreement_per_class(
    cells: Mapping[str, Mapping[str, Any]], family: str, *, progress: bool = False
) -> dict[str, ClassAgreement]:
    """Per proxy of a run's ``cells`` (its JSON's ``"cells"``): SRCC per isomorphism class.

    Cells where ours (or, for a proxy with a reference, theirs) is NaN are left out, as the
    run's per-cell correlations leave them out. The cells' graphs are built (and cached, as
    ``graphs_with_costs`` caches them) to find their classes.
    """
    from cg_predict.evaluate import graphs_with_costs

    graphs, _, _ = graphs_with_costs(family, tuple(cells), progress=progress)
    classes = np.asarray(graphs.hashes)
    labels = np.array([float(c["label"]) for c in cells.values()])
    first = next(iter(cells.values()))
    agreement = {}
    for name in first["ours"]:
        ours = np.array([float(c["ours"][name]["value"]) for c in cells.values()])
        theirs = np.array([float(c["theirs"].get(name, np.nan)) for c in cells.values()])
        reference = not np.isnan(theirs).all()
        keep = ~np.isnan(ours) & (~np.isnan(theirs) if reference else True)
        agreement[name] = ClassAgreement(
            ours=_class_srcc(classes[keep], labels[keep], ours[keep]),
            theirs=_class_srcc(classes[keep], labels[keep], theirs[keep]) if reference else None,
            classes=len(set(classes[keep])),
        )
    return agreement


def _class_srcc(
    classes: npt.NDArray[Any], labels: npt.NDArray[np.float64], scores: npt.NDArray[np.float64]
) -> float:
    return metrics.spearman(*metrics.class_means(classes, labels, scores))


def _agreement(ctx: RunContext) -> dict[str, Any]:
    from cg_predict.proxies import TARGETS, proxy_agreement

    targets = _QUICK_AGREEMENT if ctx.quick else tuple(TARGETS)
    n_cells = 12 if ctx.quick else 100
    ctx.seeds.append(0)
    rows, headline = [], {}
    for family, dataset in targets:
        result = proxy_agreement(
            n_cells,
            seed=0,
            data_dir=ctx.data_dir,
            family=family,
            dataset=dataset,
            device=ctx.device,
            out=ctx.path(f"{family}-{dataset}.json"),
            progress=ctx.progress,
        )
        proxies = result["proxies"]
        by_class = agreement_per_class(result["cells"], family)
        for name, row in proxies.items():
            rows.append(
                [
                    family,
                    dataset,
                    name,
                    row["srcc_ours_theirs"],
                    row["srcc_ours_acc"],
                    row["srcc_theirs_acc"],
                    by_class[name].ours,
                    by_class[name].theirs,
                    row["mean_seconds"],
                    row["n"],
                    by_class[name].classes,
                ]
            )
        # the project's correlations are per isomorphism class; per cell where it differs
        best = max(proxies, key=lambda n: _finite(by_class[n].ours))
        headline[f"{family} {dataset}"] = {
            "best_proxy": best,
            "srcc_per_class": by_class[best].ours,
            "classes": by_class[best].classes,
            "srcc_per_cell": proxies[best]["srcc_ours_acc"],
        }
    ctx.write_csv(
        "agreement.csv",
        [
            "family",
            "dataset",
            "proxy",
            "srcc_ours_theirs",
            "srcc_ours_accuracy",
            "srcc_theirs_accuracy",
            "srcc_ours_accuracy_per_class",
            "srcc_theirs_accuracy_per_class",
            "seconds_per_network",
            "cells",
            "classes",
        ],
        rows,
    )
    _agreement_figure(ctx, rows)
    return headline


def _finite(value: float) -> float:
    return value if value == value else float("-inf")  # NaN last


def _agreement_figure(ctx: RunContext, rows: list[list[Any]]) -> None:
    """Each proxy's SRCC with accuracy per isomorphism class, per target."""
    targets = sorted({(r[0], r[1]) for r in rows})
    with ctx.figure("agreement.png", len(targets)) as axes:
        for ax, (family, dataset) in zip(axes, targets, strict=True):
            mine = [r for r in rows if (r[0], r[1]) == (family, dataset)]
            ax.barh([r[2] for r in mine], [r[6] for r in mine], color="tab:blue")
            ax.set_xlabel("SRCC with accuracy per isomorphism class (our live proxy)")
            cells, classes = mine[0][9], max(r[10] for r in mine)
            ax.set_title(f"{family} {dataset}: {cells} cells, {classes} classes", fontsize=9)
            ax.axvline(0, color="black", lw=0.5)


PROXY_AGREEMENT = Experiment(
    "proxy-agreement",
    "Zero-cost proxies: ours vs NAS-Bench-Suite-Zero's, and vs accuracy",
    _agreement,
    # besides the proxies, the per-class correlations read the cells' graphs (built, hashed
    # and cached by cg-ir, cg_predict.graphs and graphs_with_costs) and cg_predict.metrics
    code=(
        "cg_ir",
        "cg_predict.proxies",
        "cg_predict.graphs",
        "cg_predict.evaluate._targets",
        "cg_predict.metrics",
    ),
    data=partial(benchmark_files, names=("zc-nb101", "zc-nb201", "zc-nb301")),
    order=20,
    full_minutes=120,
    quick_minutes=1,
)
