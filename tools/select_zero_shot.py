"""Zero-shot choices made on held-out labelled families: source training and a FLOPs blend.

For every labelled family ``V`` in turn, a source model is trained on every other labelled
family, once per source-training candidate (``TRAININGS``: the protocol's full-size
``SourceTraining.for_target(V)``, the incumbent; the same with each epoch a fresh sample of at
most 4,096 cells of every family; the shipped checkpoint's recipe: 12 epochs at a higher
learning rate, at most 3,000 cells per family per epoch, the head reading cost features), and
ranks ``V``'s test cells (its first setting) without a label. Each model is scored alone and
blended with the FLOPs ranking (``cg_predict.ranking.flops_blend``) at every ``--weights``
``w``; each model is also fine-tuned on ``--shots`` labels of ``V`` (the protocol's fine-tuning,
``--seeds`` seeded draws, as ``evaluate`` draws them) and scored on the rest. Scores are SRCC per
isomorphism class; FLOPs and params are reported on the same classes. A candidate's score on a
fold is the mean of its zero-shot and its ``--shots``-label SRCC, the head selection's criterion:
a source model serves both (a blend weight changes the zero-shot term only).

A target ``T`` is decided on the folds that do not score on ``T`` (``V != T``; their training
includes ``T``'s labels but never ranks ``T``'s cells, as ``select_on_sources`` decides a
target with one source), with the selection's conservative rule: the incumbent (``INCUMBENT``)
stays unless a candidate beats it on every one of those folds. ``UNSEEN`` (a family none of the
folds scores on: what ``Predictor.default()`` meets) is decided on every fold.

Folds are written to ``--work`` as they finish (``<V>.json``, with the code digest), so folds
can run in several processes (``--families``) and a rerun resumes, adding only the candidates
a fold lacks; a fold made by other code is recomputed. When every family's fold is there, the
report goes to ``--out``.

Usage: python tools/select_zero_shot.py [--families nb101,...] [--trainings cells=all,...]
       [--weights 0,0.25,0.5,0.75] --work DIR --out results/selection/selection-zero-shot.json
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from fold_work import finished_folds, resume_folds

import cg_ir
import cg_predict
from cg_ir import write_json
from cg_ir.provenance import code_digest
from cg_predict.evaluate import (
    DATASETS,
    FAMILIES,
    RESULTS_CODE,
    ProtocolConfig,
    SourceTraining,
    conservative_choice,
    few_shot_split,
    graphs_with_costs,
    settings_of,
    target_cells,
    train_source_model,
)
from cg_predict.experiments.default_checkpoint import CheckpointRecipe
from cg_predict.metrics import class_means, spearman
from cg_predict.ranking import flops_blend
from cg_predict.training import FINE_TUNE_MODE, fine_tune, predict

# the shipped checkpoint's recipe (CheckpointRecipe's defaults): its epochs, patience,
# learning rate and head features; its per-family sample size as the per-epoch cap
_RECIPE = CheckpointRecipe()
# source-training candidates: name -> the SourceTraining fields they change ("head": HeadConfig
# fields), on top of the protocol's SourceTraining.for_target(V)
TRAININGS: dict[str, dict[str, Any]] = {
    "cells=all": {},
    "cells=4096": {"training": {"family_cells": 4096}},
    "checkpoint-recipe": {
        "training": {
            "epochs": _RECIPE.epochs,
            "patience": _RECIPE.patience,
            "lr": _RECIPE.lr,
            "family_cells": _RECIPE.nb201,
        },
        "head": {
            "graph_features": tuple(_RECIPE.graph_features.split(",")),
            "graph_feature_scaling": "fixed",
        },
    },
}
INCUMBENT = "cells=all w=0"
UNSEEN = "unseen family"
FloatArray = npt.NDArray[np.float64]


def _class_srcc(classes: npt.NDArray[Any], labels: FloatArray, scores: FloatArray) -> float:
    return spearman(*class_means(classes, labels, scores))


def _source_training(family: str, name: str) -> SourceTraining:
    """Candidate ``name``'s source training for held-out family ``family``."""
    base = SourceTraining.for_target(family)
    change = TRAININGS[name]
    head = dataclasses.replace(base.head, **change.get("head", {}))
    return dataclasses.replace(base, head=head, **change.get("training", {}))


def _k_shot(model: Any, cells: Any, classes: npt.NDArray[Any], args: argparse.Namespace) -> float:
    """Mean SRCC per class after fine-tuning on ``args.shots`` labels, over ``args.seeds`` draws."""
    tune = ProtocolConfig(cells.family).fine_tune_arguments()
    values = []
    for seed in range(args.seeds):
        split = few_shot_split(classes, [args.shots], np.random.default_rng(seed))
        labelled, test = split.labelled[args.shots], split.test
        tuned = copy.deepcopy(model)
        fine_tune(
            tuned,
            cells.graphs.subset(labelled),
            cells.labels[labelled],
            mode=FINE_TUNE_MODE,
            seed=seed,
            device=args.device,
            **tune,
        )
        prediction = predict(tuned, cells.graphs.subset(test), device=args.device)
        values.append(_class_srcc(classes[test], cells.labels[test], prediction))
    return statistics.fmean(values)


def _fold(
    family: str,
    trainings: list[str],
    weights: list[float],
    done: dict[str, Any] | None,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Train every candidate's source model without ``family`` and score it on ``family``.

    ``done``: this fold's earlier entry by the same code, whose candidates are kept.
    """
    setting = settings_of(family)[0]
    cells = target_cells(
        family,
        DATASETS[family][0],
        setting,
        args.data_dir,
        sample_seed=ProtocolConfig(family).test_sample_seed,
        progress=False,
    )
    _, flops, params = graphs_with_costs(family, cells.keys, progress=False)
    classes = cells.graphs.hashes
    assert classes is not None  # graphs_with_costs records them
    scores: dict[str, float] = dict(done["srcc"]) if done else {}
    k_shot: dict[str, float] = dict(done.get("srcc_k_shot", {})) if done else {}
    seconds: dict[str, float] = dict(done["train_and_predict_s"]) if done else {}
    for name in trainings:
        if f"{name} w=0" in scores and name in k_shot:
            continue
        start = time.perf_counter()
        model, _ = train_source_model(
            family,
            _source_training(family, name),
            data_dir=args.data_dir,
            device=args.device,
            progress=False,
        )
        prediction = predict(model, cells.graphs, device=args.device)
        for w in weights:
            blend = flops_blend(prediction, flops, w)
            scores[f"{name} w={w:g}"] = _class_srcc(classes, cells.labels, blend)
        k_shot[name] = _k_shot(model, cells, classes, args)
        seconds.setdefault(f"{name} w=0", time.perf_counter() - start)
        print(f"{family}: {name} {scores} {args.shots} labels {k_shot[name]:.3f}", flush=True)
    return {
        "validation": family,
        "setting": setting,
        "sources": list(ProtocolConfig(family).sources),
        "cells": len(cells),
        "classes": len(set(classes.tolist())),
        "srcc": scores,
        "srcc_k_shot": k_shot,
        "k_shot": {"shots": args.shots, "seeds": args.seeds},
        "srcc_flops": _class_srcc(classes, cells.labels, flops),
        "srcc_params": _class_srcc(classes, cells.labels, params),
        "train_and_predict_s": seconds,
        "code_digest": code_digest(*RESULTS_CODE),
    }


def _parse(name: str) -> dict[str, Any]:
    """A candidate's name as what it changes: source training, head and the blend weight."""
    training, weight = name.split(" w=")
    return {**TRAININGS[training], "flops_weight": float(weight)}


def _criterion(fold: dict[str, Any], name: str) -> float:
    """A candidate's score on a fold: the mean of its zero-shot and its k-label SRCC."""
    return (fold["srcc"][name] + fold["srcc_k_shot"][name.split(" w=")[0]]) / 2


def _choices(folds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per target (and ``UNSEEN``): the ranking on the folds not scoring on it, the choice."""
    out: dict[str, Any] = {}
    for target in [*folds, UNSEEN]:
        used = [v for v in folds if v != target]
        names = [n for n in folds[used[0]]["srcc"] if all(n in folds[v]["srcc"] for v in used)]
        ranking = []
        for name in names:
            per_fold = tuple(_criterion(folds[v], name) for v in used)
            ranking.append((name, statistics.fmean(per_fold), per_fold))
        ranking.sort(key=lambda entry: -entry[1])
        chosen: str = conservative_choice(ranking, INCUMBENT)
        choice: dict[str, Any] = {"candidate": chosen, **_parse(chosen)}
        out[target] = {
            "folds": used,
            "chosen": choice,
            "ranking": [{"candidate": n, "score": s, "folds": list(f)} for n, s, f in ranking],
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the folds of ``--families``; write the report once every fold is in."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--trainings", default=",".join(TRAININGS))
    parser.add_argument("--weights", default="0,0.25,0.5,0.75")
    parser.add_argument("--shots", type=int, default=50, help="labels of the k-label term")
    parser.add_argument("--seeds", type=int, default=3, help="draws of the k-label term")
    parser.add_argument("--work", required=True, help="folder for the folds")
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    trainings = args.trainings.split(",")
    weights = [float(w) for w in args.weights.split(",")]
    work = Path(args.work)
    digest = code_digest(*RESULTS_CODE)
    start = time.perf_counter()
    resume_folds(
        work,
        args.families.split(","),
        digest,
        lambda done: any(t not in done.get("srcc_k_shot", {}) for t in trainings),
        lambda family, done: _fold(family, trainings, weights, done, args),
    )
    folds = finished_folds(work, FAMILIES)
    if folds is None:
        return 0
    choices = _choices(folds)
    report = {
        "config": {
            "trainings": TRAININGS,
            "weights": args.weights,
            "criterion": f"mean of zero-shot and {args.shots}-label SRCC ({args.seeds} seeds)",
        },
        "provenance": {
            "code_digest": digest,
            "versions": {"cg_ir": cg_ir.__version__, "cg_predict": cg_predict.__version__},
            "wall_s": time.perf_counter() - start,
        },
        "incumbent": INCUMBENT,
        "folds": folds,
        "targets": choices,
    }
    write_json(args.out, report)
    for target, entry in choices.items():
        print(f"{target}: chosen {entry['chosen']['candidate']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
