"""The transfer experiment of ``cgnas reproduce``.

Registered in the entry-point group ``cgnas.experiments`` (``cg_ir.experiments``):

- ``transfer``: the leave-one-family-out protocol (``cgnas evaluate``) on every target: SRCC at
  0/10/20/50 labels of the fine-tuned GNN, its baselines (target-only GNN, GBM on FLOPs,
  params and proxies) and every proxy on the same test cells.

Quick mode is CI's (few cells, seeds and targets; ``ProtocolConfig.quick``), full mode the
reported one (``ProtocolConfig.full``, every target and dataset).
"""

from __future__ import annotations

from typing import Any

from cg_ir.experiments import Experiment, RunContext
from cg_predict.data import benchmark_files

__all__ = ["TRANSFER"]

# (family, dataset) of the quick runs; full mode runs every one the package knows
_QUICK_TRANSFER = (("nb201", "cifar10"), ("nb301", "cifar10"))
_SHOTS_SHOWN = 50


def _transfer(ctx: RunContext) -> dict[str, Any]:
    from cg_predict.evaluate import DATASETS, FAMILIES, ProtocolConfig, evaluate, settings_of

    if ctx.quick:
        configs = [
            ProtocolConfig.quick(t, dataset=d, settings="a" if "a" in settings_of(t) else "b")
            for t, d in _QUICK_TRANSFER
        ]
    else:
        configs = [ProtocolConfig.full(t, dataset=d) for t in FAMILIES for d in DATASETS[t]]
    rows, headline = [], {}
    for config in configs:
        name = f"{config.target}-{config.dataset}"
        ctx.seeds[:] = sorted({*ctx.seeds, *config.runs})
        result = evaluate(
            config,
            data_dir=ctx.data_dir,
            out=ctx.path(f"{name}.json"),
            device=ctx.device,
            progress=ctx.progress,
        )
        for row in result.results:
            rows.append(
                [
                    config.target,
                    config.dataset,
                    row.setting,
                    row.method,
                    row.shots,
                    row.unit,
                    row.srcc_mean,
                    row.srcc_std,
                    row.test_size,
                ]
            )
        setting = result.settings[0]
        tuned = result.find(setting, "gnn-fine-tune", max(result.shots))
        flops = result.find(setting, "proxy:flops", 0)
        headline[name] = {
            "setting": setting,
            f"gnn_fine_tune_{max(result.shots)}": None if tuned is None else tuned.srcc_mean,
            "flops": None if flops is None else flops.srcc_mean,
        }
    _scatter_figure(ctx, configs)
    ctx.write_csv(
        "transfer.csv",
        [
            "target",
            "dataset",
            "setting",
            "method",
            "shots",
            "unit",
            "srcc_mean",
            "srcc_std",
            "test_units",
        ],
        rows,
    )
    _transfer_figure(ctx, rows)
    return headline


def _scatter_figure(ctx: RunContext, configs: list[Any]) -> None:
    """Predicted against true accuracy per target: zero-shot (top), after 50 labels (bottom).

    Each target's protocol source model of run 0 (cached by ``evaluate``, read back) scores
    the test cells of its first setting before and after fine-tuning the whole network on
    ``_SHOTS_SHOWN`` labelled cells of distinct isomorphism classes (one split, drawn as the
    protocol draws run 0's); the per-class and per-cell SRCC of each panel go to
    ``predicted-against-true.json``.
    """
    import copy

    import numpy as np

    from cg_predict import Predictor, metrics
    from cg_predict.evaluate import few_shot_split, target_cells, train_source_model

    srcc: dict[str, dict[str, dict[str, float]]] = {}
    with ctx.figure("predicted-against-true.png", len(configs), (3.3, 3.2), rows=2) as axes:
        for column, config in enumerate(configs):
            name = f"{config.target}-{config.dataset}"
            cells = target_cells(
                config.target,
                config.dataset,
                config.settings[0],
                ctx.data_dir,
                limit=config.test_cells,
                sample_seed=config.test_sample_seed,
                progress=False,
            )
            assert cells.graphs.hashes is not None  # target_cells always records them
            split = few_shot_split(cells.graphs.hashes, [_SHOTS_SHOWN], np.random.default_rng(0))
            labelled, test = split.labelled[_SHOTS_SHOWN], split.test
            model, _ = train_source_model(
                config.target,
                config.source_for(0),
                sources=config.sources,
                data_dir=ctx.data_dir,
                device=ctx.device,
                progress=False,
            )
            tuned = Predictor(copy.deepcopy(model)).fine_tune(
                cells.graphs.subset(labelled),
                cells.labels[labelled],
                **config.fine_tune_arguments(),
            )
            truth, classes = cells.labels[test], cells.graphs.hashes[test]
            stages = (("zero-shot", Predictor(copy.deepcopy(model))), ("50 labels", tuned))
            srcc[name] = {}
            for row, (stage, predictor) in enumerate(stages):
                predicted = predictor.predict(cells.graphs.subset(test))
                truth_class, predicted_class = metrics.class_means(classes, truth, predicted)
                scores = {
                    "per_class": metrics.spearman(predicted_class, truth_class),
                    "per_cell": metrics.spearman(predicted, truth),
                }
                srcc[name][stage] = scores
                ax = axes[row * len(configs) + column]
                ax.scatter(truth, predicted, s=4, alpha=0.4, color="tab:blue" if row else "grey")
                ax.set_title(
                    f"{config.target} {config.dataset}, {stage}\nSRCC per class "
                    f"{scores['per_class']:+.3f} (per cell {scores['per_cell']:+.3f})",
                    fontsize=9,
                )
                ax.set_xlabel(f"true accuracy (%), {len(test):,} test cells")
                ax.set_ylabel("predicted score (standardised)")
    ctx.write_json("predicted-against-true.json", {"shots": _SHOTS_SHOWN, "srcc": srcc})


def _transfer_figure(ctx: RunContext, rows: list[list[Any]]) -> None:
    """SRCC against labels per target: learned methods as lines, FLOPs and params as levels."""
    panels = sorted({(r[0], r[1], r[2]) for r in rows if r[2] != "b-live"})
    panels = [p for p in panels if p[2] == min(q[2] for q in panels if q[:2] == p[:2])]
    with ctx.figure("transfer.png", len(panels), (4.2, 3.4)) as axes:
        for ax, panel in zip(axes, panels, strict=True):
            _transfer_panel(ax, panel, [r for r in rows if tuple(r[:3]) == panel])
        axes[0].legend(fontsize=7)


def _transfer_panel(ax: Any, panel: tuple[str, str, str], rows: list[list[Any]]) -> None:
    per_class = [r for r in rows if r[5] == "class"]
    for method, color in (
        ("gnn-fine-tune", "tab:blue"),
        ("gnn-target-only", "tab:orange"),
        ("gbm-flops-params-proxies", "tab:green"),
    ):
        points = sorted(
            (r[4], r[6], r[7] or 0.0) for r in per_class if r[3] == method and r[6] is not None
        )
        if points:
            ax.errorbar(
                [p[0] for p in points],
                [p[1] for p in points],
                yerr=[p[2] for p in points],
                marker="o",
                ms=3,
                capsize=2,
                color=color,
                label=method,
            )
    last = max(r[4] for r in per_class)
    for method, style in (("proxy:flops", ":"), ("proxy:params", "--")):
        level = [r[6] for r in per_class if r[3] == method and r[4] == last]
        if level and level[0] is not None:
            ax.axhline(level[0], color="grey", ls=style, label=method[6:])
    target, dataset, setting = panel
    ax.set_xlabel("target labels")
    ax.set_ylabel("SRCC per isomorphism class")
    ax.set_title(f"{target} {dataset}, setting {setting}", fontsize=9)


TRANSFER = Experiment(
    "transfer",
    "Leave-one-family-out transfer: SRCC at 0/10/20/50 target labels",
    _transfer,
    code=("cg_ir", "cg_predict"),
    data=benchmark_files,  # every benchmark file, checked to exist
    order=30,
    full_minutes=150,
    quick_minutes=5,
)
