"""Train cg-predict's shipped default checkpoint, reproducibly, from the benchmark data.

Trains the predictor on every family with labels: NB-201 CIFAR-10 (200-epoch test accuracy of
the whole space, or AnalogNAS-Bench when no data directory is set), an NB-101 sample of the
30k CSV, NB-301 (NAS-Bench-Suite-Zero's 725 cells), OFA-MobileNetV3 (ImageNet, 2,223
subnets) and samples of both Channel-Bench-Macro spaces (CIFAR-10). A validation split of each
family, grouped by isomorphism class (``canonical_hash``), drives early stopping and gives the
in-family Spearman correlations written to the note. Writes ``default.pt`` and ``default.md``
(what it was trained on, the settings, the validation scores and the training time).

The head reads graph-level cost features (``--graph-features``, default log FLOPs, log params
and depth, fixed scaling): the nested leave-one-family-out selection chose them for the targets
whose model is trained on two or three other families (NB-301, OFA-MobileNetV3;
``results/selection/selection-heads.json``), which is how this checkpoint meets a family it has
never seen.

What a user ranking a new family gets is measured by training the same recipe once more
without each family in turn (``--held-out``) and ranking that family zero-shot: the note gives
those SRCCs per isomorphism class beside FLOPs, params and the network blended with FLOPs
(``cg_predict.ranking.flops_blend``; the weight for a family none of its folds scored on, chosen
by ``tools/select_zero_shot.py``) on the same classes.

The checkpoint has seen labels of every family it lists: experiments that measure transfer to a
family must never use it.

Usage: CGNAS_DATA_DIR=../shared/data python tools/train_default_checkpoint.py [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cg_predict.checkpoint import save_checkpoint
from cg_predict.data import DATA_DIR_ENV, BenchmarkTable, load_benchmark
from cg_predict.encoder import EncoderConfig
from cg_predict.evaluate import graphs_with_costs
from cg_predict.graphs import GraphSet, family_graphs
from cg_predict.head import HeadConfig
from cg_predict.metrics import class_means, spearman
from cg_predict.model import PredictorNet
from cg_predict.ranking import flops_blend
from cg_predict.training import FitResult, fit, predict

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "packages/cg-predict/src/cg_predict/checkpoints/default.pt"
ZERO_SHOT_CHOICES = ROOT / "results/selection/selection-zero-shot.json"
UNSEEN = "unseen family"  # tools/select_zero_shot.py's entry for a family it never scored
# the blend weights scored on a held-out family; the note shows the one chosen for a family
# none of the selection's folds scores on (ZERO_SHOT_CHOICES, "unseen family")
BLEND_WEIGHTS = (0.25, 0.5, 0.75)


# (benchmark, dataset, the option giving how many of its cells to sample)
_LABELLED = (
    ("nb101-30k", "cifar10", "nb101"),
    ("zc-nb301", "cifar10", "nb301"),
    ("ofa-mbv3", "imagenet", "ofa"),
    ("cbm-mobilenet", "cifar10", "cbm"),
    ("cbm-resnet", "cifar10", "cbm"),
)


def _sources(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    """(benchmark, dataset, max count) of every source, NB-201 from the data dir if set."""
    have_data = bool(args.data_dir or os.environ.get(DATA_DIR_ENV))
    nb201 = ("nb201-200ep", "cifar10") if have_data else ("analognas-nb201", "cifar10")
    sources = [(*nb201, args.nb201)]
    if have_data:
        sources += [(name, dataset, getattr(args, option)) for name, dataset, option in _LABELLED]
    return sources


def _hash_split(
    hashes: Sequence[str], fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices with whole isomorphism classes on one side."""
    classes = sorted(set(hashes))
    val_classes = set(rng.permutation(classes)[: round(fraction * len(classes))].tolist())
    is_val = np.array([h in val_classes for h in hashes])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def parser() -> argparse.ArgumentParser:
    """The command line; its defaults are the shipped checkpoint's recipe."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", default=None, help=f"benchmark data (default ${DATA_DIR_ENV})"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nb201", type=int, default=3000, help="NB-201 cells sampled")
    parser.add_argument("--nb101", type=int, default=2500, help="NB-101 cells sampled")
    parser.add_argument("--nb301", type=int, default=725)
    parser.add_argument("--ofa", type=int, default=2223)
    parser.add_argument("--cbm", type=int, default=3000, help="cells of each CBM space sampled")
    parser.add_argument("--val", type=float, default=0.1, help="validation fraction per family")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--loss", default="mse+rank")
    parser.add_argument("--gnn", default="graphconv")
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--readout", default="mean-sum")
    parser.add_argument("--reverse-edges", action="store_true")
    parser.add_argument(
        "--graph-features",
        default="log_flops,log_params,depth",
        help="head cost features, comma-separated ('' for none)",
    )
    parser.add_argument(
        "--held-out",
        default="all",
        help="families the recipe is also trained without, one at a time, and scored on "
        "zero-shot for the note ('all': every source family; '' for none)",
    )
    parser.add_argument(
        "--held-out-cells", type=int, default=3000, help="seeded sample of a held-out family"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: best when busy)")
    parser.add_argument("--no-progress", action="store_true")
    return parser


@dataclass
class _Data:
    """Every source's sampled cells: graphs, labels, family and isomorphism class of each."""

    graphs: GraphSet
    labels: np.ndarray
    groups: list[str]
    hashes: list[str]
    trained_on: list[dict[str, Any]]

    def without(self, family: str) -> _Data:
        keep = [i for i, g in enumerate(self.groups) if g != family]
        return _Data(
            self.graphs.subset(keep),
            self.labels[keep],
            [self.groups[i] for i in keep],
            [self.hashes[i] for i in keep],
            [t for t in self.trained_on if t["family"] != family],
        )


def sampled_cells(args: argparse.Namespace) -> list[tuple[BenchmarkTable, np.ndarray]]:
    """Every source's table and the sorted indices of its cells the recipe trains on.

    One seeded draw (``args.seed``) over the sources in order: the same cells for the same
    settings, so that a reader can leave them out (``args`` may be a checkpoint's
    ``metadata["training"]`` with ``data_dir``).
    """
    rng = np.random.default_rng(args.seed)
    picked = []
    for name, dataset, count in _sources(args):
        table = load_benchmark(name, args.data_dir, dataset=dataset)
        picked.append((table, np.sort(rng.permutation(len(table))[: min(count, len(table))])))
    return picked


def _load(args: argparse.Namespace, progress: bool) -> _Data:
    start = time.perf_counter()
    parts, labels, groups, hashes, trained_on = [], [], [], [], []
    for table, pick in sampled_cells(args):
        records = [table[int(i)] for i in pick]
        graphs = family_graphs(table.family, [r.key for r in records], progress=progress)
        parts.append(graphs)
        labels += [r.label for r in records]
        groups += [table.family] * len(records)
        hashes += [table.family + str(h) for h in graphs.hashes]  # type: ignore[union-attr]
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
        print(
            f"{table.name}: {len(records)} of {len(table)} ({time.perf_counter() - start:.0f}s)",
            file=sys.stderr,
        )
    return _Data(GraphSet.concat(parts), np.asarray(labels), groups, hashes, trained_on)


def _train(
    data: _Data, args: argparse.Namespace, progress: bool
) -> tuple[PredictorNet, FitResult, dict[str, float]]:
    """The recipe on ``data``: the network, its fit, its in-family validation SRCC."""
    train_idx, val_idx = _hash_split(data.hashes, args.val, np.random.default_rng(args.seed))
    torch.manual_seed(args.seed)
    encoder = EncoderConfig(
        gnn=args.gnn,
        num_layers=args.layers,
        dim=args.dim,
        op_dim=args.dim // 2,
        activation=args.activation,
        readout=args.readout,
        reverse_edges=args.reverse_edges,
    )
    features = tuple(f for f in args.graph_features.split(",") if f)
    model = PredictorNet(encoder, HeadConfig(hidden=(args.dim, args.dim), graph_features=features))
    y = data.labels
    val_groups = [data.groups[i] for i in val_idx]
    result = fit(
        model,
        data.graphs.subset(train_idx),
        y[train_idx],
        [data.groups[i] for i in train_idx],
        val=(data.graphs.subset(val_idx), y[val_idx], val_groups),
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        loss=args.loss,
        patience=args.patience,
        seed=args.seed,
        progress=progress,
    )
    pred = predict(model, data.graphs.subset(val_idx))
    val_groups_arr = np.asarray(val_groups)
    val_srcc = {
        g: round(spearman(y[val_idx][val_groups_arr == g], pred[val_groups_arr == g]), 4)
        for g in sorted(set(val_groups))
    }
    return model, result, val_srcc


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    progress = not args.no_progress
    start = time.perf_counter()
    data = _load(args, progress)
    prep_s = time.perf_counter() - start
    model, result, val_srcc = _train(data, args, progress)
    held_out = []
    tables = {t["family"]: (t["benchmark"], t["dataset"]) for t in data.trained_on}
    chosen = list(tables) if args.held_out == "all" else [f for f in args.held_out.split(",") if f]
    weights = _chosen_flops_weights()
    for family in chosen:
        without, _, _ = _train(data.without(family), args, progress)
        held_out.append(_zero_shot(without, *tables[family], args))
        # the weight chosen without scoring on this family (the selection's target entry)
        held_out[-1]["flops_weight"] = weights.get(family, 0.0)
        print(json.dumps(held_out[-1]), file=sys.stderr)
    total_s = time.perf_counter() - start
    metadata = {
        "method": "gnn",
        "pretraining_method": None,
        "score": "within-family rank score: accuracy standardised per family (z-score); not an "
        "accuracy, comparable only within a family",
        "trained_on": data.trained_on,
        "target_stats": result.to_dict()["target_stats"],
        "val_srcc": val_srcc,
        "val_split": f"{args.val:.0%} of each family's isomorphism classes",
        "held_out_zero_shot": held_out,
        "zero_shot_flops_weight": weights.get(UNSEEN, 0.0),
        "training": {k: v for k, v in vars(args).items() if k not in ("out", "data_dir")},
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.seconds, 1),
        "total_seconds": round(total_s, 1),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }
    save_checkpoint(args.out, model, metadata)
    _write_note(args.out.with_suffix(".md"), metadata, args.out.stat().st_size, prep_s)
    print(
        json.dumps(
            {
                k: metadata[k]
                for k in ("val_srcc", "epochs_run", "best_epoch", "train_seconds", "total_seconds")
            }
        )
    )
    return 0


def _zero_shot(
    model: PredictorNet, benchmark: str, dataset: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Zero-shot SRCC per isomorphism class on a seeded sample of ``benchmark`` (a family
    ``model`` never saw): the network, its blends with FLOPs, FLOPs and params, on the same
    classes."""
    table = load_benchmark(benchmark, args.data_dir, dataset=dataset)
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.permutation(len(table))[: min(args.held_out_cells, len(table))])
    records = [table[int(i)] for i in pick]
    keys = tuple(r.key for r in records)
    graphs, flops, params = graphs_with_costs(table.family, keys, progress=False)
    labels = [r.label for r in records]
    classes = graphs.hashes
    assert classes is not None  # graphs_with_costs records them

    def srcc(scores: np.ndarray) -> float:
        return round(spearman(*class_means(classes, labels, scores)), 4)

    prediction = predict(model, graphs)
    return {
        "family": table.family,
        "cells": len(records),
        "classes": len(set(classes)),
        "of": len(table),
        "srcc": srcc(prediction),
        "srcc_blend": {f"{w:g}": srcc(flops_blend(prediction, flops, w)) for w in BLEND_WEIGHTS},
        "srcc_flops": srcc(flops),
        "srcc_params": srcc(params),
    }


def _chosen_flops_weights() -> dict[str, float]:
    """The blend weight chosen per family without scoring on it, and for ``UNSEEN`` (a family
    no selection fold scores on: what the shipped checkpoint blends with); none without a file."""
    if not ZERO_SHOT_CHOICES.exists():
        return {}
    choices = json.loads(ZERO_SHOT_CHOICES.read_text())["targets"]
    return {name: float(entry["chosen"]["flops_weight"]) for name, entry in choices.items()}


def _held_out_row(entry: dict[str, Any]) -> str:
    weight = entry["flops_weight"]
    blend = entry["srcc_blend"].get(f"{weight:g}", float("nan"))
    return (
        f"| {entry['family']} | {entry['cells']} of {entry['of']} ({entry['classes']} classes) "
        f"| {entry['srcc']:+.3f} | {weight:g} | {blend:+.3f} | {entry['srcc_flops']:+.3f} "
        f"| {entry['srcc_params']:+.3f} |"
    )


def _write_note(path: Path, meta: dict[str, Any], size: int, prep_s: float) -> None:
    rows = "\n".join(
        f"| {t['family']} | {t['benchmark']} | {t['dataset']} | {t['label']} | {t['count']} of "
        f"{t['of']} | {meta['val_srcc'].get(t['family'], float('nan')):.3f} |"
        for t in meta["trained_on"]
    )
    held_out = "\n".join(_held_out_row(u) for u in meta["held_out_zero_shot"])
    text = f"""# cg-predict default checkpoint

Built by `tools/train_default_checkpoint.py` (seeded; same seed and data give the same weights
on the CPU). **Score meaning:** {meta["score"]}.
This checkpoint has seen labels of every family below: never use it to measure transfer.

| family | benchmark | dataset | label | trained on | in-family val SRCC |
|---|---|---|---|---|---|
{rows}

Zero-shot on a family it never saw: the same recipe trained without that family ranks a seeded
sample of it (SRCC per isomorphism class, class-mean accuracy), beside its blend with FLOPs (at
the weight chosen without scoring on that family: `results/selection/selection-zero-shot.json`),
FLOPs and params on the same classes. Ranking a family without labels, this checkpoint blends
at weight {meta["zero_shot_flops_weight"]:g} (chosen for a family none of the folds scores on).

| family held out | cells | network | weight | network + FLOPs | FLOPs | params |
|---|---|---|---|---|---|---|
{held_out}

Validation: {meta["val_split"]} (isomorphic twins stay on one side), used for early stopping.
Settings: `{json.dumps(meta["training"], sort_keys=True)}`.
Epochs run {meta["epochs_run"]}, best epoch {meta["best_epoch"]};
training {meta["train_seconds"]} s, data preparation {prep_s:.0f} s (graph cache may have
been warm), total {meta["total_seconds"]} s
on {meta["torch_threads"]} CPU threads (torch {meta["torch_version"]}). File size {size} bytes.
"""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":
    raise SystemExit(main())
