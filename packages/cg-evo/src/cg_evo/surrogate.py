"""The predictor a search uses: a source model that never saw the searched family's labels.

``source_predictor`` trains (or reads from cg-predict's cache) the leave-one-family-out source
model of ``cgnas evaluate`` for the searched family: labels of the other families only, from
any dataset never the searched family's. A search's seeds start from ``SOURCE_MODELS`` of them,
seeded as ``cgnas evaluate`` seeds its runs' source models, so that the spread over seeds
includes source training. A checkpoint or encoder passed in is refused when its metadata lists
the searched family among its labelled training data (``Predictor.default()``'s does: it saw
every family), or does not say what it was trained on.

``SearchPredictor`` then adapts a copy of that model to the labels the search has paid for:
every refit fine-tunes a fresh copy of the source model on all labels so far (so the result
does not depend on the order of earlier refits), for a fixed number of optimiser steps.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from cg_evo.errors import InvalidSearchError
from cg_predict.checkpoint import load_checkpoint
from cg_predict.data import resolve_data_dir
from cg_predict.evaluate import (
    UNSEEN_FAMILY_BLEND,
    SourceTraining,
    check_model_not_trained_on,
    chosen_flops_weight,
    chosen_zero_shot_ensemble,
    train_source_model,
)
from cg_predict.head import HeadConfig
from cg_predict.model import PredictorNet
from cg_predict.ranking import flops_blend
from cg_predict.training import fine_tune, predict

__all__ = [
    "SEARCH_PREDICTORS",
    "SEARCH_TRAININGS",
    "SOURCE_MODELS",
    "WARM_STARTS",
    "FineTuneConfig",
    "SearchPredictor",
    "search_flops_weight",
    "search_training",
    "source_predictor",
    "warm_ensemble",
]

FloatArray = npt.NDArray[np.float64]

# Search seed s starts from source model s % SOURCE_MODELS (SearchConfig.source_seed): its seeds
# spread over source training too, while a 20-seed run trains 5 source models, not 20.
SOURCE_MODELS = 5
# Fine-tuning seeds of a refit's members are this far apart: further than the labels a search
# pays for, so that member m of one refit never shares a seed with member 0 of a later one.
MEMBER_SEED_STRIDE = 10_007

# Source models this process has built or read, by (family, training, data folder, device).
# Even when cg-predict's disk cache holds the trained model, ``train_source_model`` first
# gathers every labelled cell of the source families (minutes with NB-101's 30,001); the
# searches of one experiment start from the same few models (every space and predictor
# strategy of a family), so each is gathered once. Never mutated after insertion: searches
# fine-tune copies (``SearchPredictor``).
_SOURCE_MODELS_BUILT: dict[
    tuple[str, SourceTraining, Path, str], tuple[PredictorNet, dict[str, Any]]
] = {}

# How a search's source model is trained ("protocol": the protocol's SourceTraining.for_target,
# whose head reads FLOPs, params and depth; "no-cost-head": the same with a head reading the
# graph embedding alone) and how it ranks the pool before its first refit ("blend": with FLOPs
# at the protocol's weight for the family; "network": the source model alone).
SEARCH_TRAININGS = ("protocol", "no-cost-head")
WARM_STARTS = ("blend", "network")
# The choices made per searched family on the other families' pools where they differ from
# ("protocol", "blend"): tools/select_search_predictor.py, results/selection/selection-search.json
# (a repository test keeps this table equal to the file's choices).
SEARCH_PREDICTORS: Mapping[str, Mapping[str, str]] = MappingProxyType({})


def search_training(
    family: str, training: str | None = None, *, quick: bool = False, **overrides: Any
) -> SourceTraining:
    """The source training of a search on ``family`` (``training``: default its choice).

    ``overrides`` are ``SourceTraining`` fields set on top (``cells``, ``epochs``).

    Examples:
        >>> search_training("nb201", "no-cost-head").head.graph_features
        ()
        >>> search_training("nb201", "protocol").head.graph_features
        ('log_flops', 'log_params', 'depth')
    """
    name = training or SEARCH_PREDICTORS.get(family, {}).get("training", "protocol")
    if name not in SEARCH_TRAININGS:
        raise InvalidSearchError(f"unknown search training {name!r}; valid: {SEARCH_TRAININGS}")
    base = SourceTraining.for_target(family, quick=quick, **overrides)
    if name == "protocol":
        return base
    return replace(base, head=HeadConfig(in_dim=base.encoder.dim))


def search_flops_weight(family: str, warm_start: str | None = None) -> float:
    """The FLOPs weight of a search's ranking before its first refit (``warm_start``: its choice).

    Examples:
        >>> search_flops_weight("nb201", "blend"), search_flops_weight("nb201", "network")
        (0.75, 0.0)
    """
    name = warm_start or SEARCH_PREDICTORS.get(family, {}).get("warm_start", "blend")
    if name not in WARM_STARTS:
        raise InvalidSearchError(f"unknown warm start {name!r}; valid: {WARM_STARTS}")
    return chosen_flops_weight(family) if name == "blend" else 0.0


def warm_ensemble(family: str, proxies: Collection[str]) -> dict[str, float]:
    """The weights of an ensemble warm start on ``family``: ``{member: weight}``, summing to 1.

    ``family``'s zero-shot rank ensemble chosen on the other families
    (``cg_predict.evaluate.chosen_zero_shot_ensemble``; for a family without one, the ensemble
    chosen for an unseen family, ``UNSEEN_FAMILY_BLEND``) restricted to the members the search
    reads on every cell it ranks: ``network``, ``flops``, ``params`` and ``proxies``, its
    weights rescaled.

    Raises:
        InvalidSearchError: the restriction weighs nothing.

    Examples:
        >>> weights = warm_ensemble("nb201", ("synflow", "meco"))
        >>> sorted(weights), round(sum(weights.values()), 6)
        (['flops', 'meco', 'network', 'params', 'synflow'], 1.0)
    """
    chosen = chosen_zero_shot_ensemble(family) or dict(UNSEEN_FAMILY_BLEND["weights"])
    kept = {m: w for m, w in chosen.items() if m in {"network", "flops", "params", *proxies}}
    total = sum(kept.values())
    if total <= 0:
        raise InvalidSearchError(
            f"the zero-shot ensemble of {family!r} weighs none of network, flops, params, "
            f"{', '.join(proxies)}: {chosen}"
        )
    return {m: w / total for m, w in kept.items() if w > 0}


@dataclass(frozen=True)
class FineTuneConfig:
    """How the search predictor learns from paid labels.

    Attributes:
        mode: ``"full"`` (encoder and head, end to end) or ``"head"``.
        steps: optimiser steps per refit (epochs = steps / batches per epoch, rounded up), so
            a refit costs about the same with 10 labels or 200.
        lr: Adam learning rate.
        loss: ``"mse"`` or ``"mse+rank"``.
        batch_size: graphs per step.
        growth: refit once the paid labels have grown by this factor since the last refit
            (1.5: after 10, 15, 23, 35, ... labels), so refits stay few as labels accumulate.
        members: fine-tuned copies per refit, each from the source model with its own seed;
            candidates are scored by their mean prediction, an ensemble as BANANAS's predictor
            is (White et al., AAAI 2021), so that one fine-tune's noise on a few dozen labels
            does not decide the order at the top. 1: one copy.
    """

    mode: str = "full"
    steps: int = 200
    lr: float = 1e-3
    loss: str = "mse+rank"
    batch_size: int = 16
    growth: float = 1.5
    members: int = 1

    def __post_init__(self) -> None:
        if self.members < 1:
            raise InvalidSearchError(f"members={self.members} must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return asdict(self)


def source_predictor(
    family: str,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    source_seed: int = 0,
    quick: bool = False,
    source_cells: int | None = None,
    source_epochs: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> tuple[PredictorNet, dict[str, Any]]:
    """The model a search on ``family`` starts from, and its metadata.

    Without ``checkpoint``: cg-predict's ``train_source_model`` for ``family`` with the
    search's source training for ``family`` (``search_training``: the protocol's,
    ``SourceTraining.for_target``, unless another was chosen on the other families' pools;
    its quick sizes if ``quick``, else the full-size ones; ``source_cells`` per source family and
    ``source_epochs`` override its ``cells`` and ``epochs``), its seed shifted by
    ``source_seed`` as cg-predict's ``ProtocolConfig.source_for(source_seed)`` shifts it for
    run ``source_seed``; shared with ``cgnas evaluate``'s cache where it is the protocol's.
    With ``checkpoint``: that model, whatever ``source_seed``.

    Raises:
        TargetLeakError: ``checkpoint`` was trained on ``family``'s labels or does not say.
        CheckpointError: ``checkpoint`` is unreadable.
    """
    if checkpoint is not None:
        loaded = load_checkpoint(checkpoint, device)
        check_model_not_trained_on(loaded.metadata, family, f"checkpoint {os.fspath(checkpoint)!r}")
        return loaded.model, loaded.metadata
    overrides: dict[str, Any] = {"cells": source_cells, "epochs": source_epochs}
    chosen = search_training(
        family, quick=quick, **{k: v for k, v in overrides.items() if v is not None}
    )
    training = replace(chosen, seed=chosen.seed + source_seed)
    key = (family, training, resolve_data_dir(data_dir), device)
    if key not in _SOURCE_MODELS_BUILT:
        _SOURCE_MODELS_BUILT[key] = train_source_model(
            family, training, data_dir=data_dir, device=device, progress=progress
        )
    model, meta = _SOURCE_MODELS_BUILT[key]
    check_model_not_trained_on(meta, family, "the source model")
    return model, copy.deepcopy(meta)


class SearchPredictor:
    """Scores candidates with the source model, fine-tuned on the labels paid for so far.

    Args:
        base: the source model (never changed).
        graphs: the candidates' packed graphs (``SearchSpace.graphs``).
        config: fine-tuning settings.
        seed: seeds every refit (with the number of labels, so refits differ).
        flops_weight: until the first refit, the source model's ranking of the candidates is
            blended with their FLOPs ranking at this weight (``cg_predict.ranking.flops_blend``
            over every candidate: the zero-shot ranking the protocol chose for the family,
            ``cg_predict.evaluate.chosen_flops_weight``); 0: the source model alone.
        device: torch device.
    """

    def __init__(
        self,
        base: PredictorNet,
        graphs: Any,
        config: FineTuneConfig,
        *,
        seed: int,
        flops_weight: float = 0.0,
        device: str = "cpu",
    ) -> None:
        self._base = base
        self.flops_weight = flops_weight
        self._untuned = copy.deepcopy(base).eval()  # zero-shot scores read this one
        self.models = [self._untuned]  # refits replace them with config.members fine-tunes
        self.graphs = graphs
        self.config = config
        self.seed = seed
        self.device = device
        self.refits: list[int] = []  # labels at each refit
        self._scores: dict[int, float] = {}
        self._blend: FloatArray | None = None
        self._source: FloatArray | None = None

    def scores(self, indices: npt.ArrayLike) -> FloatArray:
        """Predicted scores of candidates ``indices``: the current models' mean (cached)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if self.flops_weight > 0 and not self.refits:
            return self._zero_shot()[idx]
        missing = np.array([i for i in dict.fromkeys(idx.tolist()) if i not in self._scores])
        if missing.size:
            subset = self.graphs.subset(missing)
            values = np.mean(
                [predict(model, subset, device=self.device) for model in self.models], axis=0
            )
            self._scores.update(zip(missing.tolist(), values.tolist(), strict=True))
        return np.array([self._scores[int(i)] for i in idx], dtype=np.float64)

    def _zero_shot(self) -> FloatArray:
        """Every candidate's blend of the source model's and the FLOPs ranking (cached)."""
        if self._blend is None:
            log_flops = self.graphs.graph_feature("log_flops")
            self._blend = flops_blend(self._source_scores(), log_flops, self.flops_weight)
        return self._blend

    def _source_scores(self) -> FloatArray:
        """Every candidate's score by the source model, before any refit (cached)."""
        if self._source is None:
            self._source = predict(self._untuned, self.graphs, device=self.device)
        return self._source

    def zero_shot_columns(self, indices: npt.ArrayLike) -> dict[str, FloatArray]:
        """What a zero-shot ensemble reads of candidates ``indices`` without a network proxy.

        ``network`` (the source model's scores, whatever the refits since), ``flops`` and
        ``params`` (the graphs' log FLOPs and log parameter count): higher is better in each.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        return {
            "network": self._source_scores()[idx],
            "flops": self.graphs.graph_feature("log_flops")[idx],
            "params": self.graphs.graph_feature("log_params")[idx],
        }

    def due(self, labels: int) -> bool:
        """Whether ``labels`` paid labels call for a refit (see ``FineTuneConfig.growth``)."""
        if labels < 2:
            return False
        if not self.refits:
            return True
        return labels >= math.ceil(self.refits[-1] * self.config.growth)

    def refit(self, indices: list[int], labels: list[float]) -> None:
        """Fine-tune ``config.members`` fresh copies of the source model on ``labels``.

        ``labels`` are those of candidates ``indices``. Member ``m``'s seed is shifted by ``m``
        strides; member 0's is the seed of a one-member predictor, so its refits are unchanged.
        """
        graphs = self.graphs.subset(indices)
        targets = np.asarray(labels, dtype=np.float64)
        seed = self.seed * 100_003 + len(indices)
        self.models = [
            self._fine_tuned(graphs, targets, seed + member * MEMBER_SEED_STRIDE)
            for member in range(self.config.members)
        ]
        self.refits.append(len(indices))
        self._scores = {}

    def _fine_tuned(self, graphs: Any, labels: FloatArray, seed: int) -> PredictorNet:
        """A fresh copy of the source model fine-tuned on ``labels`` of ``graphs``."""
        cfg = self.config
        model = copy.deepcopy(self._base)
        batches = math.ceil(len(labels) / cfg.batch_size)
        with torch.random.fork_rng(devices=[]):
            fine_tune(
                model,
                graphs,
                labels,
                mode=cfg.mode,
                epochs=max(1, math.ceil(cfg.steps / batches)),
                lr=cfg.lr,
                batch_size=cfg.batch_size,
                loss=cfg.loss,
                seed=seed,
                device=self.device,
            )
        return model.eval()
