"""The shipped default checkpoint, trained reproducibly: the ``default-checkpoint`` experiment.

``CheckpointRecipe`` trains the predictor on every family with labels: NB-201 CIFAR-10
(200-epoch test accuracy; AnalogNAS-Bench when no data folder is set), an NB-101 sample of the
30k CSV, NB-301 (NAS-Bench-Suite-Zero's 725 cells), OFA-MobileNetV3 (ImageNet, 2,223 subnets)
and samples of both Channel-Bench-Macro spaces (CIFAR-10). A validation split of each family,
grouped by isomorphism class (``canonical_hash``), drives early stopping and gives the
in-family SRCC. The head reads graph-level cost features (log FLOPs, log params, depth, fixed
scaling): the nested leave-one-family-out selection chose them
(``results/selection/selection-heads.json``), which is how the checkpoint meets a family it
has never seen.

What a user ranking a new family gets is measured by training the same recipe without each
family in turn, with ``held_out_seeds`` training seeds, and ranking that family zero-shot: SRCC
per isomorphism class (mean and sample std over the seeds) beside FLOPs, params and the network
blended with FLOPs (``cg_predict.ranking.flops_blend``) at the weight chosen without scoring on
that family (``chosen_flops_weight``), all on the same seeded sample of the family. On the
family's ``b-live`` cells (the transfer protocol's live sample, ``held_out_live`` of them, where
every network proxy is computed on the untrained module) the zero-shot rank ensemble chosen
without that family (``chosen_zero_shot_ensemble``: the network, FLOPs, params and live proxies)
is scored beside the network, FLOPs and params on those cells. The shipped checkpoint ranks a
family without labels by the ensemble chosen for an unseen family (``UNSEEN_FAMILY_BLEND``, its
``zero_shot_blend`` metadata).

Full mode is the shipped checkpoint: ``tools/train_default_checkpoint.py`` copies the
``default.pt`` and ``default.md`` that ``cgnas reproduce --full`` wrote into the package.
Quick mode trains the same recipe on small samples for a few epochs. Training runs on one
torch thread, so the same seed and data give the same weights on any CPU.

The checkpoint has seen labels of every family it lists: never use it to measure transfer.

Examples:
    >>> CheckpointRecipe.quick().epochs, CheckpointRecipe().graph_features
    (3, 'log_flops,log_params,depth')
    >>> CheckpointRecipe.from_metadata({"seed": 1, "threads": 1}).seed  # old keys are dropped
    1
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cg_ir import atomic_output
from cg_ir.experiments import Experiment, RunContext
from cg_predict.data import BenchmarkTable, benchmark_files, data_dir_configured, load_benchmark

__all__ = ["DEFAULT_CHECKPOINT", "CheckpointRecipe", "sampled_cells"]

BLEND_WEIGHTS = (0.25, 0.5, 0.75)  # the blends scored on a held-out family, for the table
# (benchmark, dataset, the recipe field giving how many of its cells to sample)
_LABELLED = (
    ("nb101-30k", "cifar10", "nb101"),
    ("zc-nb301", "cifar10", "nb301"),
    ("ofa-mbv3", "imagenet", "ofa"),
    ("cbm-mobilenet", "cifar10", "cbm"),
    ("cbm-resnet", "cifar10", "cbm"),
)
_SCORE = (
    "within-family rank score: accuracy standardised per family (z-score); not an accuracy, "
    "comparable only within a family"
)


@dataclass(frozen=True)
class CheckpointRecipe:
    """How the default checkpoint is trained (defaults: the shipped one).

    Attributes:
        seed: seeds the cell samples, the validation split and training.
        nb201, nb101, nb301, ofa: cells sampled from each family (at most all).
        cbm: cells sampled from each Channel-Bench-Macro space.
        val: the validation fraction of each family's isomorphism classes.
        epochs, patience, lr, batch_size, loss: ``cg_predict.training.fit``'s.
        gnn, activation, layers, dim, readout, reverse_edges: the encoder's
            (``EncoderConfig``; its operator embedding has ``dim // 2`` dimensions).
        graph_features: the head's cost features, comma-separated ('' for none).
        held_out: families the recipe is also trained without, one at a time, and ranks
            zero-shot ('all': every family it trains on; '' for none).
        held_out_cells: the seeded sample of a held-out family that is ranked.
        held_out_seeds: training seeds of each held-out model (``seed``, ``seed + 1``, ...);
            the cells trained on stay the recipe's.
        held_out_live: cells of a held-out family's ``b-live`` sample on which the zero-shot
            ensemble is scored (0: not scored; the proxies cost up to ~80 s per network).
    """

    seed: int = 0
    nb201: int = 3000
    nb101: int = 2500
    nb301: int = 725
    ofa: int = 2223
    cbm: int = 3000
    val: float = 0.1
    epochs: int = 12
    patience: int = 4
    lr: float = 2e-3
    batch_size: int = 64
    loss: str = "mse+rank"
    gnn: str = "graphconv"
    activation: str = "relu"
    layers: int = 6
    dim: int = 32
    readout: str = "mean-sum"
    reverse_edges: bool = False
    graph_features: str = "log_flops,log_params,depth"
    held_out: str = "all"
    held_out_cells: int = 3000
    held_out_seeds: int = 3
    held_out_live: int = 200

    @classmethod
    def quick(cls) -> CheckpointRecipe:
        """Quick mode's: 300 cells a family (NB-301: 200), 3 epochs, 300 held-out cells.

        No live sample: its proxies would take minutes per family.
        """
        return cls(
            nb201=300,
            nb101=300,
            nb301=200,
            ofa=300,
            cbm=300,
            epochs=3,
            held_out_cells=300,
            held_out_live=0,
        )

    @classmethod
    def from_metadata(cls, training: Mapping[str, Any]) -> CheckpointRecipe:
        """The recipe a checkpoint's ``metadata["training"]`` records (other keys dropped)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in training.items() if k in names})


def _sources(recipe: CheckpointRecipe, data_dir: Path | None) -> list[tuple[str, str, int]]:
    """(benchmark, dataset, max count) of every source, NB-201 from the data folder if set."""
    have_data = data_dir_configured(data_dir)
    nb201 = ("nb201-200ep", "cifar10") if have_data else ("analognas-nb201", "cifar10")
    sources = [(*nb201, recipe.nb201)]
    if have_data:
        sources += [(name, dataset, getattr(recipe, field)) for name, dataset, field in _LABELLED]
    return sources


def sampled_cells(
    recipe: CheckpointRecipe, data_dir: Path | None = None
) -> list[tuple[BenchmarkTable, npt.NDArray[np.int64]]]:
    """Every source's table and the sorted indices of its cells ``recipe`` trains on.

    One seeded draw over the sources in order: the same cells for the same recipe, so that a
    reader can leave out the cells a checkpoint saw
    (``CheckpointRecipe.from_metadata(predictor.metadata["training"])``).
    """
    rng = np.random.default_rng(recipe.seed)
    picked = []
    for name, dataset, count in _sources(recipe, data_dir):
        table = load_benchmark(name, data_dir, dataset=dataset)
        pick = np.sort(rng.permutation(len(table))[: min(count, len(table))])
        picked.append((table, pick.astype(np.int64)))
    return picked


@dataclass(frozen=True)
class _Data:
    """Every source's sampled cells: graphs, labels, family and isomorphism class of each."""

    graphs: Any  # cg_predict.graphs.GraphSet (imported with torch, when run)
    labels: npt.NDArray[np.float64]
    groups: list[str]
    hashes: list[str]
    trained_on: list[dict[str, Any]]
    tables: dict[str, BenchmarkTable]  # family -> the table its cells were drawn from

    def without(self, family: str) -> _Data:
        keep = [i for i, g in enumerate(self.groups) if g != family]
        return _Data(
            self.graphs.subset(keep),
            self.labels[keep],
            [self.groups[i] for i in keep],
            [self.hashes[i] for i in keep],
            [t for t in self.trained_on if t["family"] != family],
            {f: t for f, t in self.tables.items() if f != family},
        )


def _load(recipe: CheckpointRecipe, data_dir: Path | None, progress: bool) -> _Data:
    from cg_predict.graphs import GraphSet, family_graphs

    parts, labels, groups, hashes, trained_on, tables = [], [], [], [], [], {}
    for table, pick in sampled_cells(recipe, data_dir):
        tables[table.family] = table
        records = [table[int(i)] for i in pick]
        graphs = family_graphs(table.family, [r.key for r in records], progress=progress)
        assert graphs.hashes is not None  # family_graphs records them
        parts.append(graphs)
        labels += [r.label for r in records]
        groups += [table.family] * len(records)
        hashes += [table.family + str(h) for h in graphs.hashes]
        trained_on.append(
            {
                "family": table.family,
                "benchmark": table.name,
                "dataset": table.dataset,
                "label": table.label_name,
                "count": len(records),
                "of": len(table),
            }
        )
    return _Data(GraphSet.concat(parts), np.asarray(labels), groups, hashes, trained_on, tables)


def _hash_split(
    hashes: Sequence[str], fraction: float, rng: np.random.Generator
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(train, val) indices with whole isomorphism classes on one side."""
    classes = sorted(set(hashes))
    val_classes = set(rng.permutation(classes)[: round(fraction * len(classes))].tolist())
    is_val = np.array([h in val_classes for h in hashes])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _train(
    data: _Data, recipe: CheckpointRecipe, progress: bool
) -> tuple[Any, Any, dict[str, dict[str, float]]]:
    """The recipe on ``data``: the network, its fit, its in-family ``_val_srcc``."""
    import torch

    from cg_predict.encoder import EncoderConfig
    from cg_predict.head import HeadConfig
    from cg_predict.model import PredictorNet
    from cg_predict.training import fit, predict

    train_idx, val_idx = _hash_split(data.hashes, recipe.val, np.random.default_rng(recipe.seed))
    torch.manual_seed(recipe.seed)
    encoder = EncoderConfig(
        gnn=recipe.gnn,
        num_layers=recipe.layers,
        dim=recipe.dim,
        op_dim=recipe.dim // 2,
        activation=recipe.activation,
        readout=recipe.readout,
        reverse_edges=recipe.reverse_edges,
    )
    features = tuple(f for f in recipe.graph_features.split(",") if f)
    head = HeadConfig(hidden=(recipe.dim, recipe.dim), graph_features=features)
    model = PredictorNet(encoder, head)
    y, val_groups = data.labels, [data.groups[i] for i in val_idx]
    result = fit(
        model,
        data.graphs.subset(train_idx),
        y[train_idx],
        [data.groups[i] for i in train_idx],
        val=(data.graphs.subset(val_idx), y[val_idx], val_groups),
        epochs=recipe.epochs,
        lr=recipe.lr,
        batch_size=recipe.batch_size,
        loss=recipe.loss,
        patience=recipe.patience,
        seed=recipe.seed,
        progress=progress,
    )
    pred = predict(model, data.graphs.subset(val_idx))
    val_classes = [data.hashes[i] for i in val_idx]
    return model, result, _val_srcc(y[val_idx], pred, val_groups, val_classes)


def _val_srcc(
    labels: npt.NDArray[np.float64],
    scores: npt.NDArray[np.float64],
    groups: Sequence[str],
    classes: Sequence[str],
) -> dict[str, dict[str, float]]:
    """Each family's validation SRCC per isomorphism class (class-mean label) and per cell.

    Examples:
        >>> _val_srcc(np.array([1.0, 2.0, 3.0, 2.5]), np.array([0.1, 0.2, 0.3, 0.3]),
        ...           ["a", "a", "a", "a"], ["x", "y", "z", "z"])
        {'a': {'per_class': 1.0, 'per_cell': 0.9487, 'classes': 3}}
    """
    from cg_predict.metrics import class_means, spearman

    family, twins = np.asarray(groups), np.asarray(classes)
    srcc = {}
    for g in sorted(set(groups)):
        mask = family == g
        class_labels, class_scores = class_means(twins[mask], labels[mask], scores[mask])
        srcc[g] = {
            "per_class": round(spearman(class_labels, class_scores), 4),
            "per_cell": round(spearman(labels[mask], scores[mask]), 4),
            "classes": int(class_labels.size),
        }
    return srcc


@dataclass(frozen=True)
class _HeldOutSample:
    """A seeded sample of a held-out family: its graphs, costs, labels and classes."""

    table: BenchmarkTable
    graphs: Any  # cg_predict.graphs.GraphSet
    flops: npt.NDArray[np.float64]
    params: npt.NDArray[np.float64]
    labels: list[float]
    classes: list[str]
    proxies: Mapping[str, npt.NDArray[np.float64]] = dataclasses.field(default_factory=dict)

    @classmethod
    def draw(cls, table: BenchmarkTable, recipe: CheckpointRecipe) -> _HeldOutSample:
        from cg_predict.evaluate import graphs_with_costs

        rng = np.random.default_rng(recipe.seed)
        pick = np.sort(rng.permutation(len(table))[: min(recipe.held_out_cells, len(table))])
        records = [table[int(i)] for i in pick]
        graphs, flops, params = graphs_with_costs(
            table.family, tuple(r.key for r in records), progress=False
        )
        assert graphs.hashes is not None  # graphs_with_costs records them
        return cls(table, graphs, flops, params, [r.label for r in records], list(graphs.hashes))

    @classmethod
    def live(
        cls, table: BenchmarkTable, recipe: CheckpointRecipe, data_dir: Path | None, progress: bool
    ) -> _HeldOutSample:
        """The family's ``b-live`` cells (``recipe.held_out_live`` of them), live proxies and all.

        The transfer protocol's sample of the same size, so its cached proxies are reused.
        """
        from cg_predict.evaluate import DATASETS, ProtocolConfig, live_cells

        family, dataset = table.family, DATASETS[table.family][0]
        config = ProtocolConfig.full(family, live_sample_size=recipe.held_out_live)
        cells = live_cells(family, dataset, config, data_dir, progress=progress)
        assert cells.graphs.hashes is not None  # target cells record their classes
        proxies = cells.proxies
        classes = list(cells.graphs.hashes)
        labels = cells.labels.tolist()
        return cls(
            table, cells.graphs, proxies["flops"], proxies["params"], labels, classes, proxies
        )

    def srcc(self, scores: npt.NDArray[np.float64]) -> float:
        """SRCC per isomorphism class (class means) of ``scores`` with the labels."""
        from cg_predict.metrics import class_means, spearman

        return round(spearman(*class_means(self.classes, self.labels, scores)), 4)

    def srcc_per_cell(self, scores: npt.NDArray[np.float64]) -> float:
        """SRCC per cell (twins counted once each), reported beside the per-class one."""
        from cg_predict.metrics import spearman

        return round(spearman(self.labels, scores), 4)


def _mean_std_over(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample std (NaN for one value), rounded to 4 places."""
    std = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
    return round(float(np.mean(values)), 4), round(std, 4)


def _zero_shot(
    sample: _HeldOutSample,
    models: Sequence[Any],
    seeds: Sequence[int],
    live: _HeldOutSample | None = None,
) -> dict[str, Any]:
    """Zero-shot SRCC per isomorphism class of ``models`` (one per training seed) on ``sample``.

    No model saw that family. Each model, its blends with FLOPs, FLOPs and params are scored on
    the same classes (mean and sample std over the models); ``flops_weight`` is the blend
    chosen without scoring on the family. ``per_cell`` holds the same SRCCs per cell (the
    network and its chosen blend as means over the models). ``live`` (the family's ``b-live``
    cells) adds the ensemble chosen without the family, beside the network, FLOPs and params on
    those cells.
    """
    from cg_predict.evaluate import chosen_flops_weight
    from cg_predict.ranking import flops_blend
    from cg_predict.training import predict

    weight = chosen_flops_weight(sample.table.family)
    runs: list[dict[str, Any]] = []
    for seed, model in zip(seeds, models, strict=True):
        prediction = predict(model, sample.graphs)
        blends = {
            f"{w:g}": sample.srcc(flops_blend(prediction, sample.flops, w)) for w in BLEND_WEIGHTS
        }
        per_cell = {
            "network": sample.srcc_per_cell(prediction),
            "network + FLOPs": sample.srcc_per_cell(flops_blend(prediction, sample.flops, weight)),
        }
        runs.append(
            {
                "seed": seed,
                "srcc": sample.srcc(prediction),
                "srcc_blend": blends,
                "per_cell": per_cell,
            }
        )
        if live is not None:
            runs[-1]["live"] = _ensemble_run(live, predict(model, live.graphs))

    srcc, srcc_std = _mean_std_over([r["srcc"] for r in runs])
    blend = {w: _mean_std_over([r["srcc_blend"][w] for r in runs]) for w in runs[0]["srcc_blend"]}
    table = sample.table
    return {
        "family": table.family,
        "cells": len(sample.labels),
        "classes": len(set(sample.classes)),
        "of": len(table),
        "runs": runs,
        "srcc": srcc,
        "srcc_std": srcc_std,
        "flops_weight": weight,
        "srcc_blend": {w: m for w, (m, _) in blend.items()},
        "srcc_blend_std": {w: sd for w, (_, sd) in blend.items()},
        "srcc_flops": sample.srcc(sample.flops),
        "srcc_params": sample.srcc(sample.params),
        "per_cell": {
            **{name: _mean_std_over([r["per_cell"][name] for r in runs])[0] for name in per_cell},
            "FLOPs": sample.srcc_per_cell(sample.flops),
            "params": sample.srcc_per_cell(sample.params),
        },
        **({"live": _ensemble_summary(live, runs)} if live is not None else {}),
    }


def _ensemble_run(live: _HeldOutSample, prediction: npt.NDArray[np.float64]) -> dict[str, float]:
    """One model's network and ensemble SRCC per class on the ``b-live`` cells."""
    from cg_predict.evaluate import chosen_zero_shot_ensemble
    from cg_predict.ranking import rank_blend

    weights = chosen_zero_shot_ensemble(live.table.family)
    ensemble = rank_blend({**live.proxies, "network": prediction}, weights)
    return {
        "network": live.srcc(prediction),
        "ensemble": live.srcc(ensemble),
        "ensemble_per_cell": live.srcc_per_cell(ensemble),
    }


def _ensemble_summary(live: _HeldOutSample, runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``b-live`` entry: the ensemble's weights, its SRCC and the baselines', same cells."""
    from cg_predict.evaluate import chosen_zero_shot_ensemble

    network = _mean_std_over([r["live"]["network"] for r in runs])
    ensemble = _mean_std_over([r["live"]["ensemble"] for r in runs])
    return {
        "cells": len(live.labels),
        "classes": len(set(live.classes)),
        "weights": chosen_zero_shot_ensemble(live.table.family),
        "srcc_network": network[0],
        "srcc_network_std": network[1],
        "srcc_ensemble": ensemble[0],
        "srcc_ensemble_std": ensemble[1],
        "srcc_flops": live.srcc(live.flops),
        "srcc_params": live.srcc(live.params),
        "per_cell": {
            "ensemble": _mean_std_over([r["live"]["ensemble_per_cell"] for r in runs])[0],
            "FLOPs": live.srcc_per_cell(live.flops),
            "params": live.srcc_per_cell(live.params),
        },
    }


def _held_out_zero_shot(
    data: _Data, family: str, recipe: CheckpointRecipe, data_dir: Path | None, progress: bool
) -> dict[str, Any]:
    """The recipe trained without ``family`` (``held_out_seeds`` seeds), ranking it zero-shot."""
    seeds = [recipe.seed + k for k in range(recipe.held_out_seeds)]
    without = data.without(family)
    models = [
        _train(without, dataclasses.replace(recipe, seed=seed), progress)[0] for seed in seeds
    ]
    table = data.tables[family]
    live = _HeldOutSample.live(table, recipe, data_dir, progress) if recipe.held_out_live else None
    return _zero_shot(_HeldOutSample.draw(table, recipe), models, seeds, live)


def _held_out_families(recipe: CheckpointRecipe, data: _Data) -> list[dict[str, Any]]:
    """The ``trained_on`` entries of the families ``recipe.held_out`` names."""
    if recipe.held_out == "all":
        return data.trained_on
    chosen = [f for f in recipe.held_out.split(",") if f]
    return [t for t in data.trained_on if t["family"] in chosen]


def _blended(entry: Mapping[str, Any], field: str = "srcc_blend") -> float:
    """A held-out entry's mean SRCC at its chosen blend weight (NaN when none was scored).

    ``field="srcc_blend_std"`` gives its sample std instead.
    """
    return float(entry[field].get(f"{entry['flops_weight']:g}", float("nan")))


def _val_cell(srcc: Mapping[str, Any] | None) -> str:
    """A family's validation SRCC per class, with the per-cell value where it differs."""
    if srcc is None:
        return "n/a"
    cell = f"{srcc['per_class']:.3f} ({srcc['classes']} classes)"
    if srcc["per_cell"] != srcc["per_class"]:
        cell += f"; per cell {srcc['per_cell']:.3f}"
    return cell


def _per_cell(srcc: Mapping[str, float], first: str) -> str:
    """The per-cell SRCCs the tables show: ``first`` (a blend or the ensemble), FLOPs, params."""
    return " / ".join(f"{srcc[name]:+.3f}" for name in (first, "FLOPs", "params"))


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:+.3f} ± {std:.3f}"


def _note(meta: Mapping[str, Any], size: int, quick: bool) -> str:
    """``default.md``: what the checkpoint was trained on, how, and how it ranks unseen families."""
    rows = "\n".join(
        f"| {t['family']} | {t['benchmark']} | {t['dataset']} | {t['label']} | {t['count']} of "
        f"{t['of']} | {_val_cell(meta['val_srcc'].get(t['family']))} |"
        for t in meta["trained_on"]
    )
    held_out = "\n".join(
        f"| {u['family']} | {u['cells']} of {u['of']} ({u['classes']} classes) "
        f"| {_mean_std(u['srcc'], u['srcc_std'])} | {u['flops_weight']:g} "
        f"| {_mean_std(_blended(u), _blended(u, 'srcc_blend_std'))} "
        f"| {u['srcc_flops']:+.3f} | {u['srcc_params']:+.3f} "
        f"| {_per_cell(u['per_cell'], 'network + FLOPs')} |"
        for u in meta["held_out_zero_shot"]
    )
    first = meta["training"]["seed"]
    seeds = ", ".join(str(first + k) for k in range(meta["training"]["held_out_seeds"]))
    made_by = (
        "quick mode of `cgnas reproduce --only default-checkpoint` (small samples, few epochs: "
        "not the shipped checkpoint)"
        if quick
        else "`cgnas reproduce --full --only default-checkpoint`"
    )
    return f"""# cg-predict default checkpoint

Built by {made_by}; seeded, on one torch thread: the same seed and data give the same weights
on the CPU. **Score meaning:** {meta["score"]}.
This checkpoint has seen labels of every family below: never use it to measure transfer.

| family | benchmark | dataset | label | trained on | in-family val SRCC per class |
|---|---|---|---|---|---|
{rows}

Zero-shot on a family it never saw: the same recipe trained without that family ranks a
seeded sample of it (SRCC per isomorphism class, class-mean accuracy; mean ± sample std over
training seeds {seeds}), beside its blend with FLOPs (at the weight chosen without scoring on
that family: `results/selection/selection-zero-shot.json`), FLOPs and params on the same
classes. "per cell": the network + FLOPs, FLOPs and params per cell (twins counted each).

| family held out | cells | network | weight | network + FLOPs | FLOPs | params | per cell |
|---|---|---|---|---|---|---|---|
{held_out}
{_live_note(meta)}
Validation: {meta["val_split"]} (isomorphic twins stay on one side), used for early stopping.
Recipe: `{json.dumps(meta["training"], sort_keys=True)}`.
Epochs run {meta["epochs_run"]}, best epoch {meta["best_epoch"]}; training
{meta["train_seconds"]} s, total {meta["total_seconds"]} s (the held-out trainings included)
on 1 CPU thread (torch {meta["torch_version"]}). File size {size} bytes.
"""


def _live_note(meta: Mapping[str, Any]) -> str:
    """The note's paragraph on the zero-shot ensemble: how this checkpoint ranks, how it did."""
    blend = meta["zero_shot_blend"]["weights"]
    top = ", ".join(f"{name} {w:.2f}" for name, w in sorted(blend.items(), key=lambda kv: -kv[1]))
    text = f"""
Ranking a family without labels, this checkpoint blends the z-scored ranks of its network,
FLOPs, params and zero-cost proxies computed on each untrained module, weighted {top}
(`UNSEEN_FAMILY_BLEND`, chosen on every labelled family's live sample); items without a module
are ranked by `{json.dumps(meta["zero_shot_blend"]["graphs_only"], sort_keys=True)}`.
"""
    live = [u for u in meta["held_out_zero_shot"] if "live" in u]
    if not live:
        return text
    rows = "\n".join(
        f"| {u['family']} | {v['cells']} ({v['classes']} classes) "
        f"| {_mean_std(v['srcc_ensemble'], v['srcc_ensemble_std'])} "
        f"| {_mean_std(v['srcc_network'], v['srcc_network_std'])} "
        f"| {v['srcc_flops']:+.3f} | {v['srcc_params']:+.3f} "
        f"| {_per_cell(v['per_cell'], 'ensemble')} |"
        for u in live
        for v in [u["live"]]
    )
    return f"""{text}
The same ensemble rule, chosen without the held-out family (`chosen_zero_shot_ensemble`), on that
family's live sample (the transfer protocol's `b-live` cells; the held-out models as above);
"per cell": the ensemble, FLOPs and params per cell:

| family held out | live cells | ensemble | network | FLOPs | params | per cell |
|---|---|---|---|---|---|---|
{rows}
"""


def _bars(ax: Any, held_out: Sequence[Mapping[str, Any]], columns: Sequence[Any]) -> None:
    """Grouped bars per held-out family: ``columns`` are (label, mean, sample std) functions."""
    width = 0.8 / len(columns)
    positions = np.arange(len(held_out))
    for i, (label, value, std) in enumerate(columns):
        ax.bar(
            positions + i * width,
            [value(u) for u in held_out],
            width,
            yerr=[std(u) for u in held_out],
            capsize=2,
            label=label,
        )
    ax.set_xticks(positions + width * (len(columns) - 1) / 2)
    ax.set_xticklabels([u["family"] for u in held_out], fontsize=8)
    ax.set_ylabel("SRCC per isomorphism class")
    ax.axhline(0, color="black", lw=0.5)
    ax.legend(fontsize=7)


def _figure(ctx: RunContext, held_out: Sequence[Mapping[str, Any]]) -> None:
    """Zero-shot SRCC per held-out family: the network, its FLOPs blend, FLOPs, params.

    A second panel, where live samples were scored: the ensemble, network, FLOPs and params.
    """
    live = [u for u in held_out if "live" in u]
    with ctx.figure("zero-shot.png", 2 if live else 1, (7.5, 3.6)) as axes:
        _bars(
            axes[0],
            held_out,
            [
                ("network", lambda u: u["srcc"], lambda u: u["srcc_std"]),
                ("network + FLOPs", _blended, lambda u: _blended(u, "srcc_blend_std")),
                ("FLOPs", lambda u: u["srcc_flops"], lambda u: 0.0),
                ("params", lambda u: u["srcc_params"], lambda u: 0.0),
            ],
        )
        axes[0].set_title(
            "zero-shot on a family left out of training (bars: sample std over training seeds)",
            fontsize=9,
        )
        if live:
            _bars(axes[1], live, [(label, *_live_bar(key)) for label, key in _LIVE_BARS])
            axes[1].set_title(
                "the zero-shot ensemble on each family's live sample (same cells per group)",
                fontsize=9,
            )


_LIVE_BARS = (
    ("ensemble", "srcc_ensemble"),
    ("network", "srcc_network"),
    ("FLOPs", "srcc_flops"),
    ("params", "srcc_params"),
)


def _live_bar(key: str) -> tuple[Any, Any]:
    """(mean, sample std) of a live-sample column: the std over training seeds where kept."""
    return (
        lambda u: u["live"][key],
        lambda u: u["live"].get(f"{key}_std", 0.0),
    )


_LIVE_COLUMNS = ("srcc_ensemble", "srcc_ensemble_std", "srcc_network", "srcc_flops", "srcc_params")
_LIVE_PER_CELL = ("ensemble", "FLOPs", "params")


def _live_row(entry: Mapping[str, Any]) -> list[Any]:
    """The CSV's live-sample columns of a held-out entry (NaN where none was scored)."""
    live = entry.get("live")
    if live is None:
        return [0] + [float("nan")] * (len(_LIVE_COLUMNS) + len(_LIVE_PER_CELL))
    per_cell = [live["per_cell"][name] for name in _LIVE_PER_CELL]
    return [live["cells"]] + [live[name] for name in _LIVE_COLUMNS] + per_cell


def _run(ctx: RunContext) -> dict[str, Any]:
    from cg_ir.executor import torch_threads
    from cg_predict.checkpoint import save_checkpoint
    from cg_predict.evaluate import UNSEEN_FAMILY_BLEND

    recipe = CheckpointRecipe.quick() if ctx.quick else CheckpointRecipe()
    ctx.seeds.extend(range(recipe.seed, recipe.seed + max(1, recipe.held_out_seeds)))
    start = time.perf_counter()
    with torch_threads(1):  # the same weights on every CPU, and fastest for small graphs
        data = _load(recipe, ctx.data_dir, ctx.progress)
        model, result, val_srcc = _train(data, recipe, ctx.progress)
        held_out = [
            _held_out_zero_shot(data, entry["family"], recipe, ctx.data_dir, ctx.progress)
            for entry in _held_out_families(recipe, data)
        ]
    import torch

    metadata = {
        "method": "gnn",
        "pretraining_method": None,
        "score": _SCORE,
        "trained_on": data.trained_on,
        "target_stats": result.to_dict()["target_stats"],
        "val_srcc": val_srcc,
        "val_split": f"{recipe.val:.0%} of each family's isomorphism classes",
        "held_out_zero_shot": held_out,
        "zero_shot_blend": {k: dict(v) for k, v in UNSEEN_FAMILY_BLEND.items()},
        "training": dataclasses.asdict(recipe),
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
        "torch_threads": 1,
        "torch_version": torch.__version__,
    }
    checkpoint = ctx.path("default.pt")
    save_checkpoint(checkpoint, model, metadata)
    note = _note(metadata, checkpoint.stat().st_size, ctx.quick)
    with atomic_output(ctx.path("default.md")) as handle:
        handle.write(note.encode("utf-8"))
    header = ["family", "cells", "classes", "seeds", "network", "network_std", "flops_weight"]
    ctx.write_csv(
        "zero-shot.csv",
        [*header, "network_plus_flops", "network_plus_flops_std", "flops", "params"]
        + ["network_per_cell", "network_plus_flops_per_cell", "flops_per_cell", "params_per_cell"]
        + ["live_cells", "live_ensemble", "live_ensemble_std", "live_network", "live_flops"]
        + ["live_params", "live_ensemble_per_cell", "live_flops_per_cell", "live_params_per_cell"],
        [
            [u["family"], u["cells"], u["classes"], len(u["runs"]), u["srcc"], u["srcc_std"]]
            + [u["flops_weight"], _blended(u), _blended(u, "srcc_blend_std")]
            + [u["srcc_flops"], u["srcc_params"]]
            + [u["per_cell"][name] for name in ("network", "network + FLOPs", "FLOPs", "params")]
            + _live_row(u)
            for u in held_out
        ],
    )
    _figure(ctx, held_out)
    return {u["family"]: _headline(u) for u in held_out}


def _headline(entry: Mapping[str, Any]) -> dict[str, float]:
    """A held-out family's headline: the FLOPs blend and FLOPs; the ensemble where scored."""
    line = {"network + FLOPs": _blended(entry), "FLOPs": entry["srcc_flops"]}
    if "live" in entry:
        live = entry["live"]
        line |= {"ensemble (live)": live["srcc_ensemble"], "FLOPs (live)": live["srcc_flops"]}
    return line


DEFAULT_CHECKPOINT = Experiment(
    "default-checkpoint",
    "The shipped default checkpoint and its zero-shot ranking of families it never saw",
    _run,
    code=("cg_ir", "cg_predict"),
    data=benchmark_files,  # every benchmark file, checked to exist
    order=25,
    full_minutes=30,  # 19 trainings: the checkpoint, and 3 seeds without each of 6 families
    quick_minutes=1,
    # the held-out ensembles read the transfer protocol's live samples from the per-family
    # proxy cache, which transfer fills cell by cell: side by side both would compute each one
    follows="transfer",
)
