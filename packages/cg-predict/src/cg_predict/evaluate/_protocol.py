"""The paper's leave-one-family-out transfer protocol (``cgnas evaluate``).

1. The source families' labels (never a label of the target family, from any dataset) train
   the predictor once per call (seed ``0``; early stopping on a validation split of 10% of
   every source family's isomorphism classes; cached on disk by configuration and code). With
   ``encoder_path`` one more predictor per pretrained encoder is trained the same way on it,
   frozen (only its head learns from the sources);
   ``unfreeze_encoder`` then trains the whole network on the sources as a second stage, and
   adds the supervised control of that schedule (``supervised-2stage``: the supervised
   network trained, then trained again as a whole for a second fit of the same length), so
   every pretrained model is compared with a supervised one that had as many fits.
2. For every seed, ``few_shot_split`` draws ``max(shots)`` labelled target cells from distinct
   isomorphism classes (nested: 10 shots are the first 10 of 20); the test set is every cell
   whose class is not labelled, the same for every shot count and method of that seed.
3. Per shot count ``k``: the source model fine-tuned end to end (``gnn-fine-tune``) and head
   only (``gnn-head``) on the ``k`` labels; at ``k = 0`` both rows are the zero-shot source
   model. Baselines: ``gnn-target-only`` and ``gbm-flops-params-proxies`` on the same labels
   (``k >= 2``), and every proxy as a predictor (``proxy:<name>``) on the same test cells.
4. Setting ``b`` also yields ``b-live``: every row again on the test cells inside a seeded
   sample of ``live_sample_size`` cells, where the seven network proxies were computed live
   (``_live``), so they compete on exactly the same cells.
5. Every row is scored per isomorphism class of its test cells (``unit="class"``: class-mean
   label, the class's prediction; the headline) and per test cell (``unit="row"``), so that an
   architecture present as many twins (55 copies of NB-101's trivial cell) counts once.

The paper reports 5 fine-tuning runs of one trained model; so does this protocol: the seeds
vary the labelled cells and the fine-tuning, not the source training.
"""

from __future__ import annotations

import copy
import hashlib
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from tqdm.auto import tqdm

import cg_ir
import cg_predict
from cg_ir.executor import torch_threads
from cg_ir.provenance import cache_key, code_digest
from cg_predict.checkpoint import load_checkpoint, load_encoder, save_checkpoint
from cg_predict.errors import CheckpointError, InvalidArgumentError
from cg_predict.evaluate._baselines import UNITS, feature_matrix
from cg_predict.evaluate._leaks import (
    TargetLeakError,
    check_model_not_trained_on,
    check_no_target_labels,
)
from cg_predict.evaluate._live import (
    LIVE_SAMPLE,
    QUICK_LIVE_BATCH,
    QUICK_LIVE_SAMPLE,
    live_proxies,
    live_sample,
)
from cg_predict.evaluate._results import config_hash, load_finished, summarize_runs, write_json
from cg_predict.evaluate._seed_run import Models, View, seed_rows
from cg_predict.evaluate._splits import few_shot_split
from cg_predict.evaluate._targets import (
    DATASETS,
    FAMILIES,
    QUICK_SOURCE_CELLS,
    CellSet,
    settings_of,
    source_cells,
    target_cells,
)
from cg_predict.graphs import GraphSet, cache_dir
from cg_predict.model import PredictorNet
from cg_predict.proxies import DEFAULT_BATCH_SIZE
from cg_predict.training import embed, fit

__all__ = [
    "DEFAULT_MODEL",
    "RESULTS_CODE",
    "SUPERVISED_TWO_STAGE",
    "TargetLeakError",
    "check_no_target_labels",
    "evaluate",
    "train_source_model",
]

# The paper's k-GNN (GraphConv x 6) with a 2-layer head; the readout adds a log-scaled sum to
# the paper's mean (``EncoderConfig.readout``: it measured far better on NB-101 and NB-201).
DEFAULT_MODEL: dict[str, Any] = {
    "encoder": {
        "gnn": "graphconv",
        "num_layers": 6,
        "dim": 32,
        "op_dim": 16,
        "readout": "mean-sum",
    },
    "head": {"hidden": [32, 32]},
}
FloatArray = npt.NDArray[np.float64]
# the supervised control of ``unfreeze_encoder``'s two-stage source training (its rows'
# prefix): two fits of the whole network, as many as each pretrained model gets
SUPERVISED_TWO_STAGE = "supervised-2stage"
# the code whose digest keys the cached source models and is checked when resuming ``r.json``
RESULTS_CODE = ("cg_ir", "cg_predict")


def _settings(target: str, setting: str | Sequence[str] | None) -> list[str]:
    available = settings_of(target)
    if setting is None or setting == "both":
        return list(available)
    wanted = [setting] if isinstance(setting, str) else list(setting)
    if wanted == ["b"] and "b-all" in available:
        wanted = ["b", "b-all"]
    bad = [s for s in wanted if s not in available]
    if bad:
        raise InvalidArgumentError(
            f"{target} has no test setting {bad}; valid: {', '.join(available)} or 'both'"
        )
    return wanted


def _source_families(target: str, sources: Sequence[str] | None) -> list[str]:
    """The labelled source families of ``target`` (default: the NAS-Bench families but it)."""
    default_sources = [f for f in ("nb101", "nb201", "nb301") if f != target]
    source_list = list(default_sources if sources is None else sources)
    if target in source_list:
        raise InvalidArgumentError(
            f"the target {target!r} cannot be a source (leave-one-family-out); "
            f"use e.g. --sources {','.join(default_sources)}"
        )
    if not source_list or any(s not in FAMILIES for s in source_list):
        raise InvalidArgumentError(f"sources {source_list} must be among {', '.join(FAMILIES)}")
    return source_list


def _source_training(quick: bool, epochs: int | None, lr: float, loss: str) -> dict[str, Any]:
    """``fit`` arguments of source training (early stopping on a source validation split)."""
    return {
        "epochs": epochs or (10 if quick else 40),
        "lr": lr,
        "loss": loss,
        "batch_size": 64,
        "patience": 3 if quick else 10,
    }


def _train_source(
    sources: list[CellSet],
    target: str,
    config: dict[str, Any],
    encoder: Any,
    train: dict[str, Any],
    device: str,
    progress: bool,
    second_stage: bool = False,
) -> tuple[PredictorNet, dict[str, Any]]:
    """Train (or load from the disk cache) the predictor on the source families' labels.

    With a pretrained ``encoder`` the head learns on it frozen; ``second_stage`` then trains
    the whole network (a second ``fit`` of the same length, metadata ``fit_unfrozen``), so
    that a head fitted to the pretrained features guides the encoder's first updates.
    Without an encoder, ``second_stage`` is the supervised control of that schedule: the
    whole network trained twice.
    """
    groups = [f"{c.family}/{c.dataset}" for c in sources for _ in range(len(c))]
    check_no_target_labels(groups, target)
    identity = {
        "config": config,
        "train": train,
        "encoder": None if encoder is None else list(encoder[1:]),
        "second_stage": second_stage,
        "sources": [[c.name, c.dataset, list(c.keys)] for c in sources],
        "versions": [cg_ir.__version__, cg_predict.__version__],
    }
    # the code that trains, not only its configuration: a change retrains
    digest = cache_key(identity, *RESULTS_CODE)
    path = cache_dir() / "evaluate" / f"source-{digest[:24]}.pt"
    if path.exists():
        try:
            loaded = load_checkpoint(path, device)
            return loaded.model, loaded.metadata
        except CheckpointError:
            pass  # corrupt or stale: retrained below
    torch.manual_seed(0)
    if encoder is None:
        model = PredictorNet.from_config(config)
    else:
        model = PredictorNet(
            copy.deepcopy(encoder[0]), PredictorNet.from_config(config).head.config
        )
        for p in model.encoder.parameters():
            p.requires_grad_(False)  # pretrained encoder stays frozen; the head learns
    graphs = GraphSet.concat([c.graphs for c in sources])
    labels = np.concatenate([c.labels for c in sources])
    result = fit(model, graphs, labels, groups, seed=0, device=device, progress=progress, **train)
    for p in model.parameters():
        p.requires_grad_(True)
    meta: dict[str, Any] = {"fit": result.to_dict(), "trained_on": sorted(set(groups))}
    if second_stage:
        second = fit(
            model, graphs, labels, groups, seed=0, device=device, progress=progress, **train
        )
        meta["fit_unfrozen"] = second.to_dict()
    save_checkpoint(path, model, meta)
    return model, meta


def _pretrained_encoders(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
    device: str,
    target: str,
) -> dict[str, tuple[Any, str, str]]:
    """``{path: (encoder, row name, sha256 of the file)}``; row names must be distinct.

    An encoder whose metadata lists the target among its labelled training data (or does not
    say what it was trained on) is refused: ``TargetLeakError``.
    """
    if paths is None:
        return {}
    listed = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    encoders: dict[str, tuple[Any, str, str]] = {}
    for path in listed:
        loaded = load_encoder(path, device)
        check_model_not_trained_on(loaded.metadata, target, f"encoder {os.fspath(path)!r}")
        name = str(loaded.metadata.get("pretraining_method", "pretrained"))
        clash = [p for p, e in encoders.items() if e[1] == name]
        if name in ("gnn", SUPERVISED_TWO_STAGE) or clash:
            raise InvalidArgumentError(
                f"encoder {os.fspath(path)!r} would add rows named {name!r}, like "
                f"{clash[0] if clash else 'the supervised GNN'!r}; pass encoders of distinct "
                "pretraining methods (or run evaluate once per encoder)"
            )
        # the weights, not the path, identify the encoder (cached models, resuming)
        sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        encoders[os.fspath(path)] = (loaded.encoder, name, sha)
    return encoders


def evaluate(
    target: str,
    dataset: str | None = None,
    sources: Sequence[str] | None = None,
    shots: Sequence[int] = (0, 10, 20, 50),
    seeds: int = 5,
    *,
    setting: str | Sequence[str] | None = "both",
    encoder_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    unfreeze_encoder: bool = False,
    quick: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    model: dict[str, Any] | None = None,
    epochs: int | None = None,
    fine_tune_epochs: int | None = None,
    fine_tune_lr: float = 1e-3,
    loss: str = "mse+rank",
    lr: float = 1e-3,
    source_limit: int | None = None,
    live_sample_size: int | None = None,
    device: str = "cpu",
    threads: int | None = 1,
    progress: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Run the leave-one-family-out protocol on ``target`` and return (and write) the results.

    Args:
        target: ``"nb101"``, ``"nb201"``, ``"nb301"`` or ``"ofa-mbv3"``.
        dataset: the target's dataset (default its first: cifar10, or imagenet for OFA).
        sources: source families (default: the other NAS-Bench families); never the target.
        shots: labelled target cells per run (0 = zero-shot).
        seeds: number of seeds (0, 1, ..., seeds - 1).
        setting: ``"a"``, ``"b"`` (NB-201: with ``"b-all"``), ``"both"`` or a list.
        encoder_path: one or more pretrained encoders (``checkpoint.load_encoder``); each adds
            the rows ``<pretraining_method>-fine-tune`` and ``<pretraining_method>-head``
            (methods must differ). The supervised rows are computed once for all of them.
        unfreeze_encoder: after the head has learnt the sources on a frozen pretrained
            encoder, train the whole network on the sources too (default: stay frozen); with
            encoders, also adds the supervised control of that schedule, the rows
            ``supervised-2stage-fine-tune`` and ``supervised-2stage-head``.
        quick: CI/book mode: <= 600 source cells per family, <= 1000 test cells, fewer source
            epochs (fine-tuning keeps its 100 epochs: with 25, 50 NB-101 labels left the
            source model worse than 10 did).
        data_dir: the benchmark data directory (default ``$CGNAS_DATA_DIR``).
        out: write ``r.json`` here after every seed; finished seeds of the same
            configuration and code (``code_digest`` of ``RESULTS_CODE``, recorded in the file)
            are read back and skipped (resuming). A file of another configuration is
            overwritten; one of the same configuration written by other code is refused
            (``StaleResultError``) unless ``force``.
        model: the network config (default ``DEFAULT_MODEL``).
        epochs: source training epochs (default 10 quick, 40 full; early stopping).
        fine_tune_epochs: fine-tuning epochs (default 100, the paper's).
        fine_tune_lr: fine-tuning learning rate.
        loss: ``"mse"`` or ``"mse+rank"`` (source training and fine-tuning).
        lr: source training learning rate.
        source_limit: cap on source cells per family (default 600 quick, all full).
        live_sample_size: cells of setting ``b`` whose proxies are computed live for the
            ``b-live`` rows (default 200 full, 8 quick at batch 8; 0: no ``b-live``).
        device: torch device.
        threads: torch CPU threads while evaluating (restored afterwards); None leaves the
            setting alone. One thread is the default because these graphs are small: on a
            loaded 2-core machine two threads made a training step 15x slower.
        progress: progress bars.
        force: recompute every seed of an ``out`` written by other code (and overwrite it)
            instead of refusing it.

    Returns:
        The results dict (see the book chapter and ``r.json``): ``config``, ``config_hash``,
        ``code_digest`` (of the code that computed it), ``metadata``, ``runs`` (per seed),
        ``results`` (per setting, method, shots and ``unit``: ``"class"``, scored on one row
        per isomorphism class of the test cells, the headline, or ``"row"``, on every test
        cell; ``test_size`` counts the units; ``srcc_std`` is the sample std over seeds, None
        for one seed).

    Raises:
        InvalidArgumentError: unknown target, dataset, setting, or the target among sources.
        TargetLeakError: a target label reached source training (a bug; never expected), or
            an encoder was trained on target labels (e.g. ``Predictor.default()``'s).
        StaleResultError: ``out`` holds runs of this configuration computed by other code
            (and not ``force``); the message names the file, both digests and the fix.
    """
    with torch_threads(threads):
        start = time.perf_counter()
        if target not in FAMILIES:
            raise InvalidArgumentError(f"unknown target {target!r}; valid: {', '.join(FAMILIES)}")
        dataset = dataset or DATASETS[target][0]
        if dataset not in DATASETS[target]:
            valid = ", ".join(DATASETS[target])
            raise InvalidArgumentError(f"{target} has no dataset {dataset!r}; valid: {valid}")
        source_list = _source_families(target, sources)
        shot_list = sorted({int(k) for k in shots})
        if seeds < 1 or any(k == 1 or k < 0 for k in shot_list):
            raise InvalidArgumentError(
                f"need seeds >= 1 and shots of 0 or >= 2 (fine-tuning needs 2 labels); got "
                f"seeds={seeds}, shots={shot_list}"
            )
        settings = _settings(target, setting)
        net_config = PredictorNet.from_config(model or DEFAULT_MODEL).config()
        train = _source_training(quick, epochs, lr, loss)
        ft: dict[str, Any] = {
            "epochs": fine_tune_epochs or 100,
            "lr": fine_tune_lr,
            "loss": loss,
        }
        limit = (
            source_limit if source_limit is not None else (QUICK_SOURCE_CELLS if quick else None)
        )
        live_size = (
            live_sample_size
            if live_sample_size is not None
            else (QUICK_LIVE_SAMPLE if quick else LIVE_SAMPLE)
        )
        if live_size < 0:
            raise InvalidArgumentError(f"live_sample_size={live_size} must be 0 (none) or more")
        live_batch = QUICK_LIVE_BATCH if quick else DEFAULT_BATCH_SIZE
        reported = list(settings)
        if live_size > 0 and "b" in settings:
            reported.insert(settings.index("b") + 1, "b-live")
        encoders = _pretrained_encoders(encoder_path, device, target)
        config = {
            "target": target,
            "dataset": dataset,
            "sources": source_list,
            "shots": shot_list,
            "settings": reported,
            "quick": quick,
            "model": net_config,
            "train": train,
            "fine_tune": ft,
            "source_limit": limit,
            "live_proxies": {"sample": live_size, "batch_size": live_batch},
            "encoder": [[path, name, sha] for path, (_, name, sha) in encoders.items()] or None,
            "unfreeze_encoder": unfreeze_encoder if encoders else None,
            "units": list(UNITS),
        }
        digest = config_hash(config)
        code = code_digest(*RESULTS_CODE)
        runs = load_finished(out, digest, code=code, force=force)
        done = {(r["setting"], r["seed"]) for r in runs}
        timings: dict[str, float] = {}

        t0 = time.perf_counter()
        src = [source_cells(f, data_dir, limit=limit, progress=progress) for f in source_list]
        timings["load_sources_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        models = {"gnn": _train_source(src, target, net_config, None, train, device, progress)}
        if encoders and unfreeze_encoder:
            models[SUPERVISED_TWO_STAGE] = _train_source(
                src, target, net_config, None, train, device, progress, second_stage=True
            )
        for encoder in encoders.values():
            models[encoder[1]] = _train_source(
                src, target, net_config, encoder, train, device, progress, unfreeze_encoder
            )
        timings["train_sources_s"] = time.perf_counter() - t0

        def document() -> dict[str, Any]:
            return {
                "config": config,
                "config_hash": digest,
                "code_digest": code,
                "metadata": {
                    "target": target,
                    "dataset": dataset,
                    "sources": source_list,
                    "seeds": list(range(seeds)),
                    "quick": quick,
                    "source_cells": {c.family: len(c) for c in src},
                    "source_labels": {c.family: f"{c.name} ({c.dataset})" for c in src},
                    "source_training": {k: v[1] for k, v in models.items()},
                    "versions": {
                        "cg_predict": cg_predict.__version__,
                        "cg_ir": cg_ir.__version__,
                        "torch": torch.__version__,
                        "numpy": np.__version__,
                        "python": platform.python_version(),
                    },
                    "timings": {**timings, "total_s": time.perf_counter() - start},
                },
                "runs": runs,
                "results": summarize_runs(runs),
            }

        for name in settings:
            t0 = time.perf_counter()
            cells = target_cells(target, dataset, name, data_dir, quick=quick, progress=progress)
            embeddings = {
                k: torch.from_numpy(embed(m.encoder, cells.graphs, device=device)).to(device)
                for k, (m, _) in models.items()
            }
            features = feature_matrix(cells.proxies)
            live = None
            if name == "b" and live_size > 0:
                sample = live_sample(len(cells), live_size)
                scores = live_proxies(
                    cells, sample, batch_size=live_batch, device=device, progress=progress
                )
                live = (sample, scores)
            for seed in tqdm(range(seeds), disable=not progress, desc=f"{target} {name} seeds"):
                if (name, seed) in done:
                    continue
                assert cells.graphs.hashes is not None  # graphs_with_costs always records them
                split = few_shot_split(cells.graphs.hashes, shot_list, np.random.default_rng(seed))
                test = split.test
                views = [View(name, np.ones(len(test), dtype=bool), cells.proxies)]
                if live is not None:
                    sample, scores = live
                    by_cell = {p: np.full(len(cells), np.nan) for p in scores}
                    for p, values in scores.items():
                        by_cell[p][sample] = values
                    inside = np.isin(test, sample)
                    views.append(View("b-live", inside, {**cells.proxies, **by_cell}))
                trained = Models({k: m for k, (m, _) in models.items()}, embeddings, net_config)
                new = seed_rows(trained, cells, split, views, features, ft, seed, device)
                runs.extend(new)
                if out is not None:
                    write_json(out, document())
            timings[f"setting_{name}_s"] = timings.get(f"setting_{name}_s", 0.0) + (
                time.perf_counter() - t0
            )
        result = document()
        if out is not None:
            write_json(out, result)
        return result


def train_source_model(
    target: str,
    sources: Sequence[str] | None = None,
    *,
    quick: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    model: dict[str, Any] | None = None,
    epochs: int | None = None,
    source_limit: int | None = None,
    loss: str = "mse+rank",
    lr: float = 1e-3,
    device: str = "cpu",
    progress: bool = True,
) -> tuple[PredictorNet, dict[str, Any]]:
    """The protocol's source model for ``target``: trained on the other families' labels only.

    ``target`` may be any family name, labelled or not (a search over the ResNet space or a
    user's family): the sources are the labelled families other than the target.

    The same training as ``evaluate``'s step 1 (defaults included) and the same disk cache, so
    a search (cg-evo) and an evaluation of one target share one source model. The metadata's
    ``trained_on`` lists the ``family/dataset`` groups whose labels it saw.

    Raises:
        InvalidArgumentError: unknown target or sources, or the target among the sources.
    """
    source_list = _source_families(target, sources)
    net_config = PredictorNet.from_config(model or DEFAULT_MODEL).config()
    train = _source_training(quick, epochs, lr, loss)
    limit = source_limit if source_limit is not None else (QUICK_SOURCE_CELLS if quick else None)
    src = [source_cells(f, data_dir, limit=limit, progress=progress) for f in source_list]
    return _train_source(src, target, net_config, None, train, device, progress)
