"""The paper's leave-one-family-out transfer protocol (``cgnas evaluate``).

1. The source families' labels (never a label of the target family, from any dataset) train
   one predictor per run seed (``ProtocolConfig.source_for(seed)``, a ``SourceTraining`` whose
   seed is ``source.seed + seed``; early stopping on a validation split of 10% of every source
   family's isomorphism classes; cached on disk by configuration and code, so the datasets of
   one target, and a search, share them). With ``ProtocolConfig.encoders`` one more predictor per
   pretrained encoder is trained the same way on it,
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
   sample of ``live_sample_size`` cells, where every network proxy (and AZ-NAS's aggregate)
   was computed live (``_live``), so they compete on exactly the same cells.
5. Every row is scored per isomorphism class of its test cells (``unit="class"``: class-mean
   label, the class's prediction; the headline) and per test cell (``unit="row"``), so that an
   architecture present as many twins (55 copies of NB-101's trivial cell) counts once.

The paper reports 5 fine-tuning runs of one trained model; here every seed also trains its own
source model, so a row's spread over seeds (zero-shot rows included) is that of the whole
method, source training and all.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from cg_predict.encoder import Encoder
from cg_predict.errors import CheckpointError, InvalidArgumentError
from cg_predict.evaluate._baselines import feature_matrix
from cg_predict.evaluate._config import (
    DEFAULT_MODEL,
    ProtocolConfig,
    SourceTraining,
    source_families,
)
from cg_predict.evaluate._leaks import (
    TargetLeakError,
    check_model_not_trained_on,
    check_no_target_labels,
)
from cg_predict.evaluate._live import sampled_live_proxies
from cg_predict.evaluate._results import EvaluationResult, load_finished
from cg_predict.evaluate._seed_run import Models, View, seed_rows
from cg_predict.evaluate._splits import few_shot_split
from cg_predict.evaluate._targets import CellSet, source_cells, target_cells
from cg_predict.graphs import GraphSet, cache_dir
from cg_predict.model import PredictorNet
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

FloatArray = npt.NDArray[np.float64]
# a source-trained predictor and its metadata (``fit`` histories, ``trained_on``)
Trained = tuple[PredictorNet, dict[str, Any]]
# live proxy scores of setting b: the sampled cells and ``{proxy: score per sampled cell}``
LiveScores = tuple[npt.NDArray[np.int64], dict[str, FloatArray]]
# the supervised control of ``unfreeze_encoder``'s two-stage source training (its rows'
# prefix): two fits of the whole network, as many as each pretrained model gets
SUPERVISED_TWO_STAGE = "supervised-2stage"
# the code whose digest keys the cached source models and is checked when resuming ``r.json``
RESULTS_CODE = ("cg_ir", "cg_predict")


@dataclass(frozen=True)
class _Pretrained:
    """A pretrained encoder of ``ProtocolConfig.encoders``.

    Its module, its rows' name, and the SHA-256 of its file: the weights, not the path,
    identify it in the source-model cache.
    """

    encoder: Encoder
    name: str
    sha256: str


def _train_source(
    sources: list[CellSet],
    target: str,
    training: SourceTraining,
    pretrained: _Pretrained | None,
    device: str,
    progress: bool,
    second_stage: bool = False,
) -> Trained:
    """Train (or load from the disk cache) the predictor on the source families' labels.

    With a ``pretrained`` encoder the head learns on it frozen; ``second_stage`` then trains
    the whole network (a second ``fit`` of the same length, metadata ``fit_unfrozen``), so
    that a head fitted to the pretrained features guides the encoder's first updates.
    Without an encoder, ``second_stage`` is the supervised control of that schedule: the
    whole network trained twice.
    """
    groups = [f"{c.family}/{c.dataset}" for c in sources for _ in range(len(c))]
    check_no_target_labels(groups, target)
    train = training.fit_arguments()
    identity = {
        "config": training.model(),
        "train": train,
        "encoder": None if pretrained is None else [pretrained.name, pretrained.sha256],
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
    torch.manual_seed(training.seed)
    model = PredictorNet.from_config(training.model())
    if pretrained is not None:
        # built after the supervised network, so the head starts from the same random
        # state as in every earlier run of this configuration
        model = PredictorNet(copy.deepcopy(pretrained.encoder), training.head)
        for p in model.encoder.parameters():
            p.requires_grad_(False)  # pretrained encoder stays frozen; the head learns
    graphs = GraphSet.concat([c.graphs for c in sources])
    labels = np.concatenate([c.labels for c in sources])
    result = fit(model, graphs, labels, groups, device=device, progress=progress, **train)
    for p in model.parameters():
        p.requires_grad_(True)
    meta: dict[str, Any] = {"fit": result.to_dict(), "trained_on": sorted(set(groups))}
    if second_stage:
        second = fit(model, graphs, labels, groups, device=device, progress=progress, **train)
        meta["fit_unfrozen"] = second.to_dict()
    save_checkpoint(path, model, meta)
    return model, meta


def _source_cells(
    family: str,
    training: SourceTraining,
    data_dir: str | os.PathLike[str] | None,
    progress: bool,
) -> CellSet:
    """The (sampled) labelled cells ``family`` contributes to source training."""
    return source_cells(
        family, data_dir, limit=training.cells, sample_seed=training.sample_seed, progress=progress
    )


def _pretrained_encoders(paths: Sequence[str], device: str, target: str) -> dict[str, _Pretrained]:
    """``{path: encoder}``; the encoders' row names must be distinct.

    An encoder whose metadata lists the target among its labelled training data (or does not
    say what it was trained on) is refused: ``TargetLeakError``.
    """
    encoders: dict[str, _Pretrained] = {}
    for path in paths:
        loaded = load_encoder(path, device)
        check_model_not_trained_on(loaded.metadata, target, f"encoder {path!r}")
        name = str(loaded.metadata.get("pretraining_method", "pretrained"))
        clash = [p for p, e in encoders.items() if e.name == name]
        if name in ("gnn", SUPERVISED_TWO_STAGE) or clash:
            raise InvalidArgumentError(
                f"encoder {path!r} would add rows named {name!r}, like "
                f"{clash[0] if clash else 'the supervised GNN'!r}; pass encoders of distinct "
                "pretraining methods (or run evaluate once per encoder)"
            )
        sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        encoders[path] = _Pretrained(loaded.encoder, name, sha)
    return encoders


@dataclass
class _Run:
    """One ``evaluate`` call in progress: what ``result()`` assembles after every seed."""

    config: ProtocolConfig
    config_json: dict[str, Any]
    digest: str
    code: str
    runs: list[dict[str, Any]]
    start: float = field(default_factory=time.perf_counter)
    sources: list[CellSet] = field(default_factory=list)
    models: dict[int, dict[str, Trained]] = field(default_factory=dict)  # run seed -> method
    timings: dict[str, float] = field(default_factory=dict)

    def lap(self, name: str, since: float) -> None:
        """Add the seconds since ``since`` to ``timings[name]``."""
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - since

    def metadata(self) -> dict[str, Any]:
        """Seeds, source cells, source training, versions and timings of the run so far."""
        config = self.config
        return {
            "target": config.target,
            "dataset": config.dataset,
            "sources": list(config.sources),
            "seeds": list(config.runs),
            "quick": config.mode == "quick",
            "source_cells": {c.family: len(c) for c in self.sources},
            "source_labels": {c.family: f"{c.name} ({c.dataset})" for c in self.sources},
            "source_training": {
                str(seed): {k: meta for k, (_, meta) in models.items()}
                for seed, models in sorted(self.models.items())
            },
            "versions": {
                "cg_predict": cg_predict.__version__,
                "cg_ir": cg_ir.__version__,
                "torch": torch.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
            "timings": {**self.timings, "total_s": time.perf_counter() - self.start},
        }

    def result(self) -> EvaluationResult:
        """The results document of every seed finished so far."""
        return EvaluationResult.from_runs(
            self.config_json, self.digest, self.code, self.metadata(), self.runs
        )


def _train_sources(
    run: _Run,
    encoders: dict[str, _Pretrained],
    data_dir: str | os.PathLike[str] | None,
    device: str,
    progress: bool,
) -> None:
    """Step 1: load the source cells and train the source models of every unfinished seed."""
    config = run.config
    t0 = time.perf_counter()
    run.sources = [_source_cells(f, config.source, data_dir, progress) for f in config.sources]
    run.lap("load_sources_s", t0)
    t0 = time.perf_counter()
    done = {(r["setting"], r["seed"]) for r in run.runs}
    for seed in config.runs:
        if all((setting, seed) in done for setting in config.settings):
            continue
        train = functools.partial(
            _train_source,
            run.sources,
            config.target,
            config.source_for(seed),
            device=device,
            progress=progress,
        )
        models = run.models[seed] = {"gnn": train(None)}
        if encoders and config.unfreeze_encoder:
            models[SUPERVISED_TWO_STAGE] = train(None, second_stage=True)
        for pretrained in encoders.values():
            models[pretrained.name] = train(pretrained, second_stage=config.unfreeze_encoder)
    run.lap("train_sources_s", t0)


def _live_scores(
    config: ProtocolConfig, setting: str, cells: CellSet, device: str, progress: bool
) -> LiveScores | None:
    """Setting b's live proxy scores on its seeded sample (None: no ``b-live`` here)."""
    if setting != "b" or config.live_sample_size == 0:
        return None
    return sampled_live_proxies(cells, config, device=device, progress=progress)


def _views(
    setting: str, cells: CellSet, test: npt.NDArray[np.int64], live: LiveScores | None
) -> list[View]:
    """The setting's view of the test cells, and ``b-live``'s where proxies were computed."""
    views = [View(setting, np.ones(len(test), dtype=bool), cells.proxies)]
    if live is not None:
        sample, scores = live
        by_cell = {p: np.full(len(cells), np.nan) for p in scores}
        for p, values in scores.items():
            by_cell[p][sample] = values
        views.append(View("b-live", np.isin(test, sample), {**cells.proxies, **by_cell}))
    return views


def _embedded(
    models: dict[str, Trained], cells: CellSet, training: SourceTraining, device: str
) -> Models:
    """One seed's source models with their embeddings of every target cell."""
    embeddings = {
        k: torch.from_numpy(embed(m.encoder, cells.graphs, device=device)).to(device)
        for k, (m, _) in models.items()
    }
    return Models({k: m for k, (m, _) in models.items()}, embeddings, training.model())


def _score_setting(
    run: _Run,
    setting: str,
    data_dir: str | os.PathLike[str] | None,
    out: str | os.PathLike[str] | None,
    device: str,
    progress: bool,
) -> None:
    """Steps 2-5 on one setting: every unfinished seed's rows, written to ``out`` after each."""
    config = run.config
    t0 = time.perf_counter()
    cells = target_cells(
        config.target,
        config.dataset,
        setting,
        data_dir,
        limit=config.test_cells,
        sample_seed=config.test_sample_seed,
        progress=progress,
    )
    features = feature_matrix(cells.proxies)
    live = _live_scores(config, setting, cells, device, progress)
    assert cells.graphs.hashes is not None  # graphs_with_costs always records them
    done = {(r["setting"], r["seed"]) for r in run.runs}
    desc = f"{config.target} {setting} seeds"
    for seed in tqdm(config.runs, disable=not progress, desc=desc):
        if (setting, seed) in done:
            continue
        split = few_shot_split(cells.graphs.hashes, config.shots, np.random.default_rng(seed))
        views = _views(setting, cells, split.test, live)
        ft = config.fine_tune_arguments()
        weight = config.zero_shot_flops_weight
        trained = _embedded(run.models[seed], cells, config.source, device)
        rows = seed_rows(
            trained,
            cells,
            split,
            views,
            features,
            ft,
            weight,
            seed,
            device,
            ensemble=dict(config.zero_shot_ensemble),
        )
        run.runs.extend(rows)
        if out is not None:
            run.result().write(out)
    run.lap(f"setting_{setting}_s", t0)


def evaluate(
    config: ProtocolConfig,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    threads: int | None = 1,
    progress: bool = True,
    force: bool = False,
) -> EvaluationResult:
    """Run the leave-one-family-out protocol ``config`` and return (and write) the results.

    Args:
        config: what to run (``ProtocolConfig.quick(target, ...)`` or ``.full(...)``).
        data_dir: the benchmark data directory (default ``$CGNAS_DATA_DIR``).
        out: write ``r.json`` here after every seed; finished seeds of the same
            configuration and code (``code_digest`` of ``RESULTS_CODE``, recorded in the file)
            are read back and skipped (resuming). Its runs of seeds outside ``config.runs``
            are not read: the result, and the file rewritten, hold the configured seeds
            only. A file of another configuration is overwritten; one of the same
            configuration written by other code is refused (``StaleResultError``) unless
            ``force``.
        device: torch device.
        threads: torch CPU threads while evaluating (restored afterwards); None leaves the
            setting alone. One thread is the default because these graphs are small: on a
            loaded 2-core machine two threads made a training step 15x slower.
        progress: progress bars.
        force: recompute every seed of an ``out`` written by other code (and overwrite it)
            instead of refusing it.

    Returns:
        The results (``EvaluationResult``; ``r.json`` holds its ``to_json()``): per setting,
        method, shots and ``unit`` (``"class"``: scored on one row per isomorphism class of
        the test cells, the headline; ``"row"``: on every test cell; ``test_size`` counts the
        units; ``srcc_std`` is the sample std over seeds, None for one seed).

    Raises:
        TargetLeakError: a target label reached source training (a bug; never expected), or
            an encoder was trained on target labels (e.g. ``Predictor.default()``'s).
        InvalidArgumentError: two encoders would add rows of the same name.
        StaleResultError: ``out`` holds runs of this configuration computed by other code
            (and not ``force``); the message names the file, both digests and the fix.

    Examples:
        >>> config = ProtocolConfig.quick("nb201", shots=(0, 10), settings="a")
        >>> result = evaluate(config, progress=False)  # doctest: +SKIP
        >>> result.row("a", "gnn-fine-tune", 10).srcc_mean  # doctest: +SKIP
        0.8...
    """
    with torch_threads(threads):
        encoders = _pretrained_encoders(config.encoders, device, config.target)
        digest, code = config.digest(), code_digest(*RESULTS_CODE)
        finished = load_finished(out, digest, code=code, force=force, seeds=config.runs)
        run = _Run(config, config.to_dict(), digest, code, finished)
        _train_sources(run, encoders, data_dir, device, progress)
        for setting in config.settings:
            _score_setting(run, setting, data_dir, out, device, progress)
        result = run.result()
        if out is not None:
            result.write(out)
        return result


def train_source_model(
    target: str,
    training: SourceTraining | None = None,
    *,
    sources: Sequence[str] = (),
    data_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> Trained:
    """The protocol's source model for ``target``: trained on the other families' labels only.

    ``target`` may be any family name, labelled or not (a search over the ResNet space or a
    user's family): the sources (default: every labelled family other than the target) are
    the labelled families other than the target.

    The same training as ``evaluate``'s step 1 (``ProtocolConfig.source``; default
    ``SourceTraining.for_target(target)``, the full-size one) and the same disk cache, so a
    search (cg-evo) and an evaluation of one target share one source model. The metadata's
    ``trained_on`` lists the ``family/dataset`` groups whose labels it saw.

    Raises:
        InvalidArgumentError: unknown sources, or the target among them.

    Examples:
        >>> training = SourceTraining.quick(cells=100)
        >>> model, meta = train_source_model("resnet", training, progress=False)  # doctest: +SKIP
        >>> meta["trained_on"]  # doctest: +SKIP
        ['nb101/cifar10', 'nb201/cifar10', 'nb301/cifar10']
    """
    training = training or SourceTraining.for_target(target)
    families = source_families(target, tuple(sources))
    src = [_source_cells(f, training, data_dir, progress) for f in families]
    return _train_source(src, target, training, None, device, progress)
