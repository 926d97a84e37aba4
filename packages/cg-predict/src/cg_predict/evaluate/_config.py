"""What the leave-one-family-out protocol runs: every default of ``evaluate`` in one place.

``ProtocolConfig`` is the whole experiment (target, sources, shots, seeds, settings, encoders,
fine-tuning, test and live-proxy sample sizes); its ``source`` field, a ``SourceTraining``, is
how a source model is trained, the part a search (cg-evo's ``source_predictor``) shares with
``evaluate`` through ``train_source_model``. The full-size defaults are the fields' defaults;
the quick (CI and book) ones are in the ``quick()`` constructors and nowhere else. The network
defaults are ``EncoderConfig``'s and ``HeadConfig``'s (``DEFAULT_MODEL`` is read from them).

Every seed is a field too: ``seeds`` (the runs), ``SourceTraining.seed`` (source training)
and the three sample seeds of the source cells, the large test sets and the live-proxy cells,
which do not change with the run seeds, so every run of every method sees the same cells.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from cg_ir.provenance import file_sha256
from cg_predict.encoder import EncoderConfig
from cg_predict.errors import InvalidArgumentError
from cg_predict.evaluate._baselines import UNITS
from cg_predict.evaluate._results import config_hash
from cg_predict.evaluate._targets import DATASETS, FAMILIES, settings_of
from cg_predict.head import HeadConfig
from cg_predict.proxies import DEFAULT_BATCH_SIZE
from cg_predict.training import DEFAULT_LOSS, FINE_TUNE_EPOCHS, LOSSES

__all__ = [
    "DEFAULT_MODEL",
    "LABELLED",
    "SELECTED_MODELS",
    "ProtocolConfig",
    "SourceTraining",
    "chosen_flops_weight",
    "chosen_zero_shot_ensemble",
    "source_families",
]

# every family with labelled cells: a target's default sources are all of them but itself
LABELLED = FAMILIES

# The model and source training chosen for a target without its labels where they differ from
# the defaults: ``{target: {"encoder": EncoderConfig fields, "head": HeadConfig fields,
# "training": SourceTraining fields, "zero_shot": {"flops_weight": w}}}``, by nested
# leave-one-family-out (the rule keeps the defaults unless a candidate beats them on every
# held-out family; a repository test keeps this table equal to the files' choices).
# results/selection/selection.json (tools/select_on_sources.py) kept the readout and the
# fine-tuning defaults for every target (mean-sum; 100 epochs of the whole network, in
# ``ProtocolConfig`` and ``Predictor.fine_tune``); selection-heads.json chose the head's cost
# features for NB-301 and OFA-MobileNetV3 (sources: the NAS-Bench families then).
# selection-zero-shot.json (tools/select_zero_shot.py; every labelled family held out in turn,
# trained on all the others, scored by the mean of zero-shot and 50-label SRCC) then chose, for
# every target, the shipped checkpoint's recipe as the source training (below, with the
# cost-feature head) and the zero-shot blend with FLOPs.
_COST_HEAD: Mapping[str, Any] = MappingProxyType(
    {"graph_features": ("log_flops", "log_params", "depth"), "graph_feature_scaling": "fixed"}
)
_CHECKPOINT_RECIPE: Mapping[str, Any] = MappingProxyType(
    {"epochs": 12, "patience": 4, "lr": 2e-3, "family_cells": 3000}
)
_ZERO_SHOT_BLEND: Mapping[str, Any] = MappingProxyType({"flops_weight": 0.75})
# selection-zero-shot-blend.json (tools/select_zero_shot_blend.py) then chose each target's
# zero-shot rank ensemble on the other families' b-live samples (every member weighted by its
# mean per-class SRCC there, to a power chosen one level down), and the ensemble of a family
# outside all of them: the shipped checkpoint's zero_shot_blend.
_ENSEMBLES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "nb101": MappingProxyType(
            {
                "network": 0.065336,
                "flops": 0.116159,
                "params": 0.082773,
                "synflow": 0.100023,
                "jacov": 0.00376,
                "snip": 0.070588,
                "fisher": 0.015242,
                "grad_norm": 0.034154,
                "nwot": 0.133722,
                "zico": 0.146641,
                "meco": 0.001568,
                "swap": 0.124279,
                "swap_reg": 0.000174,
                "az_expressivity": 0.105534,
                "az_progressivity": 4.7e-05,
            }
        ),
        "nb201": MappingProxyType(
            {
                "network": 0.061491,
                "flops": 0.133385,
                "params": 0.088477,
                "synflow": 0.097153,
                "jacov": 4.7e-05,
                "snip": 0.034399,
                "fisher": 0.004003,
                "grad_norm": 0.010374,
                "nwot": 0.118648,
                "zico": 0.181674,
                "meco": 0.001137,
                "swap": 0.118278,
                "az_expressivity": 0.150934,
            }
        ),
        "nb301": MappingProxyType(
            {
                "network": 0.100344,
                "flops": 0.114281,
                "params": 0.07597,
                "synflow": 0.113503,
                "jacov": 0.001894,
                "snip": 0.065263,
                "fisher": 0.020012,
                "grad_norm": 0.027508,
                "nwot": 0.098074,
                "zico": 0.157505,
                "meco": 0.002262,
                "swap": 0.094642,
                "az_expressivity": 0.128742,
            }
        ),
        "ofa-mbv3": MappingProxyType(
            {
                "network": 0.053277,
                "flops": 0.116233,
                "params": 0.077786,
                "synflow": 0.086115,
                "jacov": 0.003089,
                "snip": 0.026491,
                "grasp": 0.002452,
                "fisher": 0.0014,
                "grad_norm": 0.007397,
                "nwot": 0.145514,
                "zico": 0.177344,
                "meco": 0.001724,
                "swap": 0.136379,
                "swap_reg": 0.003807,
                "az_expressivity": 0.159839,
                "az_progressivity": 0.001153,
            }
        ),
        "cbm-mobilenet": MappingProxyType(
            {
                "network": 0.044307,
                "flops": 0.110138,
                "params": 0.094939,
                "synflow": 0.089116,
                "jacov": 0.000628,
                "snip": 0.029928,
                "grasp": 5e-06,
                "fisher": 0.005582,
                "grad_norm": 0.021309,
                "nwot": 0.10939,
                "zico": 0.165125,
                "meco": 0.017495,
                "swap": 0.10287,
                "az_expressivity": 0.20916,
                "az_progressivity": 9e-06,
            }
        ),
        "cbm-resnet": MappingProxyType(
            {
                "network": 0.063596,
                "flops": 0.116156,
                "params": 0.102781,
                "synflow": 0.080197,
                "jacov": 0.00036,
                "snip": 0.026678,
                "grasp": 4.1e-05,
                "fisher": 0.002642,
                "grad_norm": 0.00986,
                "nwot": 0.109307,
                "zico": 0.165888,
                "meco": 0.046933,
                "swap": 0.102631,
                "swap_reg": 0.000905,
                "az_expressivity": 0.171999,
                "az_progressivity": 2.6e-05,
            }
        ),
    }
)
UNSEEN_FAMILY_BLEND: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "weights": MappingProxyType(
            {
                "network": 0.065161,
                "flops": 0.120073,
                "params": 0.088547,
                "synflow": 0.096527,
                "jacov": 0.00108,
                "snip": 0.041425,
                "grasp": 2e-06,
                "fisher": 0.006538,
                "grad_norm": 0.01737,
                "nwot": 0.120709,
                "zico": 0.168439,
                "meco": 0.005524,
                "swap": 0.114732,
                "swap_reg": 1e-05,
                "az_expressivity": 0.153855,
                "az_progressivity": 9e-06,
            }
        ),
        "graphs_only": MappingProxyType(
            {
                "network": 0.308187,
                "flops": 0.359069,
                "params": 0.332744,
            }
        ),
    }
)
SELECTED_MODELS: Mapping[str, Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        target: MappingProxyType(
            {
                "head": _COST_HEAD,
                "training": _CHECKPOINT_RECIPE,
                "zero_shot": MappingProxyType({**_ZERO_SHOT_BLEND, "ensemble": _ENSEMBLES[target]}),
            }
        )
        for target in FAMILIES
    }
)


def chosen_flops_weight(target: str) -> float:
    """The FLOPs weight of ``target``'s zero-shot blend chosen on the other families (or 0).

    Examples:
        >>> chosen_flops_weight("nb201"), chosen_flops_weight("resnet")
        (0.75, 0.0)
    """
    return float(SELECTED_MODELS.get(target, {}).get("zero_shot", {}).get("flops_weight", 0.0))


def chosen_zero_shot_ensemble(target: str) -> dict[str, float]:
    """``{member: weight}`` of ``target``'s zero-shot rank ensemble chosen on the other families.

    Members are ``network``, ``flops``, ``params`` and network proxies; empty when none was
    chosen (a family outside the labelled ones: ``UNSEEN_FAMILY_BLEND`` is its choice).

    Examples:
        >>> round(sum(chosen_zero_shot_ensemble("nb101").values()), 4)
        1.0
        >>> chosen_zero_shot_ensemble("resnet")
        {}
    """
    zero_shot = SELECTED_MODELS.get(target, {}).get("zero_shot", {})
    return dict(zero_shot.get("ensemble", {}))


def _positive(name: str, value: int | None, *, optional: bool = False) -> None:
    if (value is None and not optional) or (value is not None and value < 1):
        raise InvalidArgumentError(f"{name}={value} must be a positive integer")


def _loss(name: str, value: str) -> None:
    if value not in LOSSES:
        raise InvalidArgumentError(f"{name}={value!r} is not valid; choose one of {LOSSES}")


@dataclass(frozen=True)
class SourceTraining:
    """How a source model is trained on the source families' labels (``fit``'s arguments).

    The full-size defaults; ``SourceTraining.quick()`` has the quick ones.

    Attributes:
        encoder: the encoder (default ``EncoderConfig()``: the paper's k-GNN with the
            mean-sum readout).
        head: the MLP head (default ``HeadConfig()``); its ``in_dim`` follows ``encoder.dim``.
        epochs: at most this many epochs (early stopping on a validation split of 10% of
            every source family's isomorphism classes).
        patience: epochs without a better validation loss before stopping.
        cells: at most this many labelled cells per source family (a seeded sample, the same
            for every run seed); None: all.
        family_cells: every epoch visits a fresh sample of at most this many of each source
            family's cells (``fit``'s ``family_cells``); None: every cell, so the largest
            family (NB-101's 30,001) outweighs the others.
        lr: Adam learning rate.
        loss: ``"mse"`` or ``"mse+rank"``.
        batch_size: graphs per step.
        seed: seeds the initial weights, the validation split and the batches.
        sample_seed: seeds the sample of ``cells`` cells per source family.

    Examples:
        >>> SourceTraining.quick().epochs, SourceTraining().epochs
        (10, 40)
        >>> SourceTraining(encoder=EncoderConfig(dim=16, op_dim=8)).head.in_dim
        16
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    epochs: int = 40
    patience: int = 10
    cells: int | None = None
    family_cells: int | None = None
    lr: float = 1e-3
    loss: str = DEFAULT_LOSS
    batch_size: int = 64
    seed: int = 0
    sample_seed: int = 20240

    def __post_init__(self) -> None:
        if self.head.in_dim != self.encoder.dim:  # the head reads the encoder's embedding
            object.__setattr__(
                self, "head", dataclasses.replace(self.head, in_dim=self.encoder.dim)
            )
        _positive("epochs", self.epochs)
        _positive("patience", self.patience)
        _positive("batch_size", self.batch_size)
        _positive("source cells", self.cells, optional=True)
        _positive("family_cells", self.family_cells, optional=True)
        _loss("loss", self.loss)

    @classmethod
    def quick(cls, **overrides: Any) -> SourceTraining:
        """CI and book mode: at most 600 cells per source family, 10 epochs, patience 3.

        Examples:
            >>> SourceTraining.quick(cells=100).cells
            100
        """
        return cls(**{"epochs": 10, "patience": 3, "cells": 600, **overrides})

    @classmethod
    def for_target(cls, target: str, *, quick: bool = False, **overrides: Any) -> SourceTraining:
        """The source training the protocol runs for ``target`` (``quick``: the quick sizes).

        The encoder, head and training fields are the ones chosen for ``target`` without its
        labels (``SELECTED_MODELS``; any other family gets the defaults); ``overrides`` go on
        top.

        Examples:
            >>> SourceTraining.for_target("nb201").encoder.readout
            'mean-sum'
            >>> quick = SourceTraining.for_target("nb101", quick=True, cells=100)
            >>> quick.head.graph_features, quick.epochs, quick.cells
            (('log_flops', 'log_params', 'depth'), 12, 100)
            >>> SourceTraining.for_target("resnet").epochs  # no choice: the defaults
            40
        """
        choice = SELECTED_MODELS.get(target, {})
        model = {
            "encoder": EncoderConfig(**choice.get("encoder", {})),
            "head": HeadConfig(**choice.get("head", {})),
        }
        make = cls.quick if quick else cls
        return make(**{**model, **choice.get("training", {}), **overrides})

    def model(self) -> dict[str, Any]:
        """The network's JSON config (``PredictorNet.from_config`` builds it).

        Examples:
            >>> sorted(SourceTraining().model())
            ['encoder', 'head']
        """
        return {"encoder": self.encoder.to_dict(), "head": self.head.to_dict()}

    def fit_arguments(self) -> dict[str, Any]:
        """``cg_predict.training.fit``'s keyword arguments (with ``seed``).

        Examples:
            >>> SourceTraining().fit_arguments()["patience"]
            10
        """
        return {
            "epochs": self.epochs,
            "lr": self.lr,
            "loss": self.loss,
            "batch_size": self.batch_size,
            "patience": self.patience,
            "family_cells": self.family_cells,
            "seed": self.seed,
        }


# the network every protocol run trains unless told otherwise, read from the config classes
DEFAULT_MODEL: dict[str, Any] = SourceTraining().model()


def source_families(target: str, sources: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
    """The labelled source families of ``target`` (default: every labelled family but it).

    ``target`` may be any family name (a search over the ResNet space): only the sources are
    checked against ``FAMILIES``.

    Raises:
        InvalidArgumentError: the target among the sources, or an unknown source.

    Examples:
        >>> source_families("nb101")
        ('nb201', 'nb301', 'ofa-mbv3', 'cbm-mobilenet', 'cbm-resnet')
    """
    default_sources = [f for f in LABELLED if f != target]
    source_list = list(sources or default_sources)
    if target in source_list:
        raise InvalidArgumentError(
            f"the target {target!r} cannot be a source (leave-one-family-out); "
            f"use e.g. --sources {','.join(default_sources)}"
        )
    if any(s not in FAMILIES for s in source_list):
        raise InvalidArgumentError(f"sources {source_list} must be among {', '.join(FAMILIES)}")
    return tuple(source_list)


def _settings(target: str, wanted: tuple[str, ...]) -> tuple[str, ...]:
    """The settings to evaluate: ``()`` or ``("both",)`` is every one the target has."""
    available = settings_of(target)
    if wanted in ((), ("both",)):
        return available
    if wanted == ("b",) and "b-all" in available:
        wanted = ("b", "b-all")
    bad = [s for s in wanted if s not in available]
    if bad:
        raise InvalidArgumentError(
            f"{target} has no test setting {bad}; valid: {', '.join(available)} or 'both'"
        )
    return wanted


@dataclass(frozen=True)
class ProtocolConfig:
    """One run of the leave-one-family-out protocol (``evaluate``); full-size defaults.

    ``ProtocolConfig.quick(target, ...)`` is the CI and book mode, ``.full(target, ...)`` the
    reported one; both take any field as an override. Inputs are normalised on creation:
    ``dataset``, ``sources`` and ``settings`` are resolved to the target's defaults, ``shots``
    sorted, ``encoders`` made path strings.

    Attributes:
        target: a family of ``FAMILIES``: ``"nb101"``, ``"nb201"``, ``"nb301"``, ``"ofa-mbv3"``,
            ``"cbm-mobilenet"`` or ``"cbm-resnet"``.
        dataset: the target's dataset (``""``: its first, cifar10 or imagenet for OFA).
        sources: the labelled source families (``()``: every other labelled family).
        shots: labelled target cells per run (0 = zero-shot; fine-tuning needs 2 or more).
        seeds: runs 0, 1, ..., seeds - 1: run ``s`` draws its labelled cells, trains its own
            source model (``source_for(s)``) and fine-tunes it, all seeded by ``s``.
        first_seed: the first run done: runs ``first_seed .. seeds - 1`` (``runs``), so that
            run ``j`` can be done alone (``first_seed=j, seeds=j + 1``), e.g. the paired seed
            ``j`` of an ablation; a run's numbers do not depend on the others.
        settings: a setting or several, stored as a tuple: ``"a"``, ``"b"`` (NB-201: with
            ``"b-all"``), ... (``()`` or ``"both"``: every setting the target has).
        encoders: pretrained encoder checkpoints; each adds the rows
            ``<pretraining_method>-fine-tune`` and ``-head`` (methods must differ).
        unfreeze_encoder: after the head has learnt the sources on a frozen pretrained
            encoder, train the whole network on the sources too; with encoders, this adds the
            supervised control of that schedule (``supervised-2stage``).
        source: how every source model is trained (``full`` and ``quick``: the target's
            ``SourceTraining.for_target``; the bare constructor: ``SourceTraining()``); its
            ``seed`` is that of run 0's source model (``source_for``).
        fine_tune_epochs: fine-tuning epochs on the target labels (the paper's 100).
        fine_tune_lr: fine-tuning learning rate.
        fine_tune_loss: fine-tuning loss.
        zero_shot_flops_weight: the weight of the FLOPs ranking in the ``<model>+flops``
            zero-shot rows (``cg_predict.ranking.flops_blend``; 0: no such rows). ``full`` and
            ``quick`` take the target's choice made on the other labelled families
            (``SELECTED_MODELS``).
        zero_shot_ensemble: ``{member: weight}`` (kept as sorted pairs) of the
            ``<model>+ensemble`` zero-shot rows
            (``cg_predict.ranking.rank_blend`` of the network, ``flops``, ``params`` and live
            proxies, weights summing to 1; empty: no such rows), scored in every view that has
            every member (the live proxies: ``b-live``). ``tools/select_zero_shot_blend.py``
            chooses them on the other families.
        test_cells: at most this many cells per large test set (settings b, b-all; a seeded
            sample); None: all.
        live_sample_size: cells of setting b whose network proxies are computed live for the
            ``b-live`` rows (0: no ``b-live``).
        live_batch_size: the synthetic batch of the live proxies.
        test_sample_seed: seeds the sample of ``test_cells`` cells.
        live_sample_seed: seeds the sample of ``live_sample_size`` cells.
        mode: ``"full"`` or ``"quick"``: the constructor that chose the defaults (recorded in
            the results as ``quick``).

    Examples:
        >>> config = ProtocolConfig.quick("nb201", settings="a", sources=("nb101", "nb301"))
        >>> config.dataset, config.sources, config.seeds, config.source.cells
        ('cifar10', ('nb101', 'nb301'), 3, 600)
        >>> config.digest() == dataclasses.replace(config, settings=("a",)).digest()
        True
        >>> ProtocolConfig("nb201", shots=(1,))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        cg_predict.errors.InvalidArgumentError: need seeds >= 1 and shots of 0 or >= 2 ...
    """

    target: str
    dataset: str = ""
    sources: tuple[str, ...] = ()
    shots: tuple[int, ...] = (0, 10, 20, 50)
    seeds: int = 5
    first_seed: int = 0
    settings: str | tuple[str, ...] = ()
    encoders: tuple[str, ...] = ()
    unfreeze_encoder: bool = False
    source: SourceTraining = field(default_factory=SourceTraining)
    fine_tune_epochs: int = FINE_TUNE_EPOCHS
    fine_tune_lr: float = 1e-3
    fine_tune_loss: str = DEFAULT_LOSS
    zero_shot_flops_weight: float = 0.0
    zero_shot_ensemble: Mapping[str, float] | tuple[tuple[str, float], ...] = ()
    test_cells: int | None = None
    live_sample_size: int = 200
    live_batch_size: int = DEFAULT_BATCH_SIZE
    test_sample_seed: int = 20240
    live_sample_seed: int = 20241
    mode: str = "full"

    def __post_init__(self) -> None:
        target = self.target
        if target not in FAMILIES:
            raise InvalidArgumentError(f"unknown target {target!r}; valid: {', '.join(FAMILIES)}")
        dataset = self.dataset or DATASETS[target][0]
        if dataset not in DATASETS[target]:
            valid = ", ".join(DATASETS[target])
            raise InvalidArgumentError(f"{target} has no dataset {dataset!r}; valid: {valid}")
        sources = source_families(target, tuple(self.sources))
        shots = tuple(sorted({int(k) for k in self.shots}))
        if self.seeds < 1 or any(k == 1 or k < 0 for k in shots):
            raise InvalidArgumentError(
                f"need seeds >= 1 and shots of 0 or >= 2 (fine-tuning needs 2 labels); got "
                f"seeds={self.seeds}, shots={list(shots)}"
            )
        if not 0 <= self.first_seed < self.seeds:
            raise InvalidArgumentError(
                f"first_seed={self.first_seed} must lie in 0 .. seeds - 1 = {self.seeds - 1}"
            )
        wanted = (self.settings,) if isinstance(self.settings, str) else tuple(self.settings)
        settings = _settings(target, wanted)
        if self.live_sample_size < 0:
            raise InvalidArgumentError(
                f"live_sample_size={self.live_sample_size} must be 0 (none) or more"
            )
        _positive("fine_tune_epochs", self.fine_tune_epochs)
        _positive("live_batch_size", self.live_batch_size)
        _positive("test_cells", self.test_cells, optional=True)
        _loss("fine_tune_loss", self.fine_tune_loss)
        if not 0.0 <= self.zero_shot_flops_weight <= 1.0:
            raise InvalidArgumentError(
                f"zero_shot_flops_weight={self.zero_shot_flops_weight} must lie in [0, 1]"
            )
        ensemble = dict(self.zero_shot_ensemble)
        if ensemble and (
            any(w < 0 for w in ensemble.values()) or not np.isclose(sum(ensemble.values()), 1.0)
        ):
            raise InvalidArgumentError(
                f"zero_shot_ensemble={ensemble} needs non-negative weights that sum to 1"
            )
        if self.mode not in ("full", "quick"):
            raise InvalidArgumentError(f"mode={self.mode!r} is not valid; choose 'full' or 'quick'")
        encoders = tuple(os.fspath(p) for p in self.encoders)
        for name, value in (
            ("dataset", dataset),
            ("sources", sources),
            ("shots", shots),
            ("settings", settings),
            ("encoders", encoders),
            ("zero_shot_ensemble", tuple(sorted(ensemble.items()))),  # hashable
        ):
            object.__setattr__(self, name, value)

    @classmethod
    def full(cls, target: str, **overrides: Any) -> ProtocolConfig:
        """The reported protocol: the fields' defaults and the target's source training.

        5 seeds, every cell, ``SourceTraining.for_target(target)``; ``overrides`` on top.

        Examples:
            >>> ProtocolConfig.full("nb101").source.cells is None
            True
            >>> ProtocolConfig.full("nb201").source.encoder.readout
            'mean-sum'
        """
        chosen = {
            "source": SourceTraining.for_target(target),
            "zero_shot_flops_weight": chosen_flops_weight(target),
            "zero_shot_ensemble": chosen_zero_shot_ensemble(target),
        }
        return cls(target, **{**chosen, **overrides})

    @classmethod
    def quick(cls, target: str, **overrides: Any) -> ProtocolConfig:
        """CI and book mode (``overrides`` on top).

        3 seeds (training is involved: the fewest the project reports a sample std over),
        ``SourceTraining.for_target(target, quick=True)``, at most 1000 test cells per large
        test set, 8 live-proxy cells at batch 8.

        Fine-tuning keeps its 100 epochs: with 25, 50 NB-101 labels left the source model
        worse than 10 did.

        Examples:
            >>> ProtocolConfig.quick("nb301").test_cells
            1000
        """
        defaults: dict[str, Any] = {
            "mode": "quick",
            "seeds": 3,
            "source": SourceTraining.for_target(target, quick=True),
            "zero_shot_flops_weight": chosen_flops_weight(target),
            "zero_shot_ensemble": chosen_zero_shot_ensemble(target),
            "test_cells": 1000,
            "live_sample_size": 8,
            "live_batch_size": 8,
        }
        return cls(target, **{**defaults, **overrides})

    @property
    def reported_settings(self) -> tuple[str, ...]:
        """The settings of the result rows: ``settings`` with ``b-live`` after ``b``.

        Examples:
            >>> ProtocolConfig.quick("nb301").reported_settings
            ('a', 'b', 'b-live')
        """
        reported = list(self.settings)
        if self.live_sample_size > 0 and "b" in reported:
            reported.insert(reported.index("b") + 1, "b-live")
        return tuple(reported)

    @property
    def runs(self) -> range:
        """The runs done: ``first_seed .. seeds - 1``.

        Examples:
            >>> list(ProtocolConfig("nb101", seeds=3, first_seed=2).runs)
            [2]
        """
        return range(self.first_seed, self.seeds)

    def for_fold(self, fold: tuple[str, tuple[str, ...]]) -> ProtocolConfig:
        """This run on an inner fold ``(validation family, training sources)``.

        The held-out source becomes the target (its first dataset and first test setting),
        trained on the fold's sources, without live proxies: what a choice made on the source
        families evaluates (``select_on_sources``; cg-contrast's CL choice).

        Examples:
            >>> fold = ProtocolConfig.quick("nb101").for_fold(("nb201", ("nb301",)))
            >>> fold.target, fold.sources, fold.settings, fold.live_sample_size
            ('nb201', ('nb301',), ('a',), 0)
        """
        validation, training = fold
        return dataclasses.replace(
            self,
            target=validation,
            dataset="",
            sources=training,
            settings=settings_of(validation)[0],
            live_sample_size=0,
        )

    def source_for(self, seed: int) -> SourceTraining:
        """The source training of run ``seed``: ``source`` seeded with ``source.seed + seed``.

        Examples:
            >>> config = ProtocolConfig.quick("nb301")
            >>> config.source_for(0) == config.source, config.source_for(2).seed
            (True, 2)
        """
        return dataclasses.replace(self.source, seed=self.source.seed + seed)

    def fine_tune_arguments(self) -> dict[str, Any]:
        """``cg_predict.training.fine_tune``'s keyword arguments (epochs, lr, loss)."""
        return {
            "epochs": self.fine_tune_epochs,
            "lr": self.fine_tune_lr,
            "loss": self.fine_tune_loss,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``config`` of ``r.json``: everything that changes a seed's numbers.

        The number of seeds is not in it (more seeds extend a results file); an encoder is
        recorded with the SHA-256 of its file, which is read.

        Raises:
            OSError: an encoder file cannot be read.
        """
        return {
            "target": self.target,
            "dataset": self.dataset,
            "sources": list(self.sources),
            "shots": list(self.shots),
            "settings": list(self.reported_settings),
            "quick": self.mode == "quick",
            "model": self.source.model(),
            "train": self.source.fit_arguments(),
            "source_seed": "train.seed + run seed",  # every run trains its own source model
            "fine_tune": self.fine_tune_arguments(),
            "zero_shot_flops_weight": self.zero_shot_flops_weight,
            # only where set, so that configurations without one keep their hash
            **(
                {"zero_shot_ensemble": dict(self.zero_shot_ensemble)}
                if self.zero_shot_ensemble
                else {}
            ),
            "source_limit": self.source.cells,
            "test_limit": self.test_cells,
            "sample_seeds": {
                "source": self.source.sample_seed,
                "test": self.test_sample_seed,
                "live": self.live_sample_seed,
            },
            "live_proxies": {"sample": self.live_sample_size, "batch_size": self.live_batch_size},
            "encoder": [[p, file_sha256(p)] for p in self.encoders] or None,  # weights, not path
            "unfreeze_encoder": self.unfreeze_encoder if self.encoders else None,
            "units": list(UNITS),
        }

    def digest(self) -> str:
        """SHA-256 of ``to_dict()``'s canonical JSON: ``r.json``'s ``config_hash``.

        Examples:
            >>> a = ProtocolConfig.quick("nb301")
            >>> a.digest() == ProtocolConfig.quick("nb301", seeds=3).digest()  # seeds extend
            True
            >>> a.digest() == ProtocolConfig.quick("nb301", fine_tune_epochs=50).digest()
            False
        """
        return config_hash(self.to_dict())
