"""The contrastive pretraining ablation: the ``contrast-ablation`` experiment.

``contrast-ablation`` pretrains every method's encoder on one unlabeled pool per paired seed,
trains the package's default predictor (``SourceTraining()``, the same for every target, not
each target's selected model) on it and on no encoder (the supervised control with as many
fits), and tabulates SRCC per target (every labelled family) and shot count
(``cg_contrast.ablation.run_ablation``): quick mode is CI's (NB-201, a 1,500-graph pool, 3
paired seeds, two source families; ``AblationConfig.for_mode``), full mode the book's full run
(``AblationConfig()``), which also runs NB-201 again with the encoder frozen during source
training (``<target>-frozen.json``).
Run alone with several workers (``cgnas reproduce --only contrast-ablation --workers 2``), its
paired seeds run in parallel. ``work/`` under its folder keeps the encoders and every seed's
results, so an interrupted run resumes there. ``embedding.png`` projects the retrieval
encoder's embeddings (paired seed 0) of the pool and of NB-201's labelled cells on their first
two principal components.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cg_ir.experiments import Experiment, RunContext
from cg_predict.data import benchmark_files

__all__ = ["CONTRAST_ABLATION", "FROZEN_TARGET"]

FROZEN_TARGET = "nb201"  # the target full mode also runs with a frozen encoder
EMBEDDED_NB201_QUICK = 3000  # NB-201 cells projected in quick mode (full: every labelled one)


def _ablation(ctx: RunContext) -> dict[str, Any]:
    from cg_contrast.ablation import AblationConfig, ablation_rows, run_ablation

    config = AblationConfig.for_mode(ctx.mode)
    ctx.seeds[:] = list(range(config.seeds))
    work = ctx.folder / "work"  # encoders, training states, per-seed results: resumable
    with ctx.executor() as executor:  # the paired seeds in parallel when workers are spare
        options: dict[str, Any] = {
            "data_dir": ctx.data_dir,
            "device": ctx.device,
            "progress": ctx.progress,
            # this run is due (other code or configuration made the folder): redo what other
            # code left in work/, resume what this code did
            "force": True,
            "executor": executor,
        }
        combined = run_ablation(config, work, **options)
        runs = [(config, result) for result in combined.values()]
        if not ctx.quick:  # is unfreezing needed? the same encoders and seeds, frozen (full only)
            frozen = replace(config, targets=(FROZEN_TARGET,), unfreeze_encoder=False)
            runs.append((frozen, run_ablation(frozen, work, **options)[FROZEN_TARGET]))
    records, headline = [], {}
    for run_config, result in runs:
        target = result.config["target"]
        header, rows = ablation_rows(result, config.methods)
        schedule = "unfrozen" if run_config.unfreeze_encoder else "frozen"
        records += [_csv_record(target, schedule, header, row) for row in rows]
        ctx.write_json(f"{target}{run_config.suffix}.json", result.to_json())
        if run_config is config:
            headline[target] = dict(zip(header[1:], rows[-1][1:], strict=True))
    ctx.write_csv("ablation.csv", *_csv_table(records))
    _figure(ctx, combined)
    _embedding_figure(ctx, config, work)
    return headline


_CHOSEN = "chosen on the sources"


def _csv_record(target: str, schedule: str, header: list[str], row: list[str]) -> dict[str, str]:
    """One row of ``ablation.csv``: ``row``'s cells under their names in ``header``.

    Results differ in columns (the frozen run has no two-stage control; each target's chosen
    method names its column), so every run's row is keyed by name and the CSV takes the union:
    the chosen row goes under one column, its method in another.

    Examples:
        >>> record = _csv_record("nb201", "frozen", ["shots", f"{_CHOSEN}: x"], ["50", "0.9"])
        >>> record["shots"], record["chosen method"], record[_CHOSEN]
        ('50', 'x', '0.9')
    """
    record = {"target": target, "encoder during source training": schedule}
    for name, cell in zip(header, row, strict=True):
        if name.startswith(f"{_CHOSEN}: "):
            record["chosen method"] = name.removeprefix(f"{_CHOSEN}: ")
            name = _CHOSEN
        record[name] = cell
    return record


def _csv_table(records: list[dict[str, str]]) -> tuple[list[str], list[list[str]]]:
    """The header (every record's names, in order of first appearance) and the rows ("–": none).

    Examples:
        >>> _csv_table([{"shots": "0", "a": "1", "b": "2"}, {"shots": "0", "b": "3"}])
        (['shots', 'a', 'b'], [['0', '1', '2'], ['0', '–', '3']])
    """
    columns = list(dict.fromkeys(name for record in records for name in record))
    return columns, [[record.get(name, "–") for name in columns] for record in records]


def _figure(ctx: RunContext, combined: Mapping[str, Any]) -> None:
    """SRCC per class against target labels: every fine-tuned model, per target."""
    from cg_contrast.ablation import result_setting

    with ctx.figure("ablation.png", len(combined)) as axes:
        for ax, (target, result) in zip(axes, combined.items(), strict=True):
            tuned = sorted({r.method for r in result.results if r.method.endswith("-fine-tune")})
            for method in tuned:
                rows = [result.find(result_setting(result), method, k) for k in result.shots]
                points = [
                    (k, r.srcc_mean)
                    for k, r in zip(result.shots, rows, strict=True)
                    if r is not None and r.srcc_mean is not None
                ]
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=method)
            ax.set_xlabel("target labels")
            ax.set_ylabel("SRCC per isomorphism class")
            dataset = result.config["dataset"]
            ax.set_title(f"{target} {dataset}, setting {result_setting(result)}", fontsize=9)
            ax.legend(fontsize=7)


def _embedding_figure(ctx: RunContext, config: Any, work: Any) -> None:
    """The retrieval encoder's embedding space: the pool by family, NB-201 by accuracy (PCA)."""
    import numpy as np
    from sklearn.decomposition import PCA

    from cg_contrast.ablation import encoder_path
    from cg_contrast.pools import unlabeled_pool
    from cg_predict.checkpoint import load_encoder
    from cg_predict.data import load_benchmark
    from cg_predict.graphs import family_graphs
    from cg_predict.training import embed

    encoder = load_encoder(encoder_path(work, "retrieval", 0)).encoder
    pool = unlabeled_pool(config.families, config.pool_size, seed=config.pool_seed, progress=False)
    pool_xy = PCA(2, random_state=0).fit_transform(embed(encoder, pool.graphs))
    nb201 = load_benchmark("nb201-200ep", dataset="cifar10", data_dir=ctx.data_dir)
    keys, accuracy = list(nb201.keys), nb201.labels()
    if ctx.quick:  # the sample's seed, 0, is the first paired seed's: ctx.seeds holds it
        pick = np.random.default_rng(0).choice(len(keys), EMBEDDED_NB201_QUICK, replace=False)
        keys, accuracy = [keys[i] for i in pick], accuracy[pick]
    graphs = family_graphs("nb201", keys, progress=False)
    nb201_xy = PCA(2, random_state=0).fit_transform(embed(encoder, graphs))
    with ctx.figure("embedding.png", 2, panel_size=(5.5, 4.5)) as (by_family, by_accuracy):
        for family in config.families:
            members = pool.families == family
            by_family.scatter(pool_xy[members, 0], pool_xy[members, 1], s=3, label=family)
        by_family.legend(markerscale=4)
        by_family.set_title(f"pool ({len(pool):,} graphs), by family")
        points = by_accuracy.scatter(
            nb201_xy[:, 0], nb201_xy[:, 1], s=3, c=accuracy, cmap="viridis",
            vmin=np.percentile(accuracy, 5),
        )  # fmt: skip
        by_accuracy.figure.colorbar(points, ax=by_accuracy, label="CIFAR-10 accuracy (%)")
        by_accuracy.set_title(f"NB-201 ({len(keys):,} cells), by accuracy")
        for axes in (by_family, by_accuracy):  # principal components of embeddings: unitless
            axes.set_xlabel("PC 1 (embedding, unitless)")
            axes.set_ylabel("PC 2 (embedding, unitless)")


CONTRAST_ABLATION = Experiment(
    "contrast-ablation",
    "Contrastive pretraining of the encoder vs the supervised control",
    _ablation,
    code=("cg_ir", "cg_predict", "cg_contrast"),
    data=benchmark_files,  # every benchmark file, checked to exist
    order=40,
    full_minutes=900,
    quick_minutes=10,
)
