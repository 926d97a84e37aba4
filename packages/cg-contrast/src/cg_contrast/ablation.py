"""The pretraining ablation: supervised GNN vs the three CL methods, leave-one-family-out.

One pool (every family, unlabeled), one encoder per method (seed ``pretrain_seed``), then
``cg_predict.evaluate`` on every target with all encoders at once, so the supervised rows and
the CL rows share source cells, test cells, labelled cells and seeds. Everything lands in
``work_dir`` (``<method>.pt``, ``<target>.json``, ``<target>-frozen.json``) and is resumed
from there: a finished encoder of the same configuration and code is reused, an interrupted one
continues from its per-epoch state, and finished evaluation seeds are skipped. Whatever other
code wrote there (an encoder, a training state, results) is refused with a ``StaleResultError``
naming the file, its code digest and the running code's; ``force`` computes it again instead.
Processes may split the work by ``methods`` and ``targets`` (e.g. one per core) over the same
``work_dir``.

With ``unfreeze_encoder`` every CL model gets two source fits; the evaluation then also trains
the supervised control of that schedule (``supervised-2stage``), the fair comparison
(``supervised_control``). Tables report the SRCC per isomorphism class of the test cells.

Examples:
    >>> AblationConfig(quick=True).pretrain_config("dropout").method
    'dropout'
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cg_contrast.errors import InvalidArgumentError, StaleResultError
from cg_contrast.pipeline import PRETRAINING_METHODS, pretrain_encoder
from cg_contrast.pools import DEFAULT_FAMILIES
from cg_contrast.pretrain import METHODS, PRETRAIN_CODE, PretrainConfig
from cg_ir.provenance import code_digest

if TYPE_CHECKING:  # cg_predict.evaluate loads torch and the benchmark tables: when run
    from cg_predict.evaluate import EvaluationResult, ProtocolConfig

__all__ = [
    "ABLATION_SETTING",
    "ABLATION_TARGETS",
    "AblationConfig",
    "ablation_rows",
    "run_ablation",
    "supervised_control",
]

ABLATION_TARGETS = ("nb101", "nb201", "nb301")
# the NAS-Bench-Suite-Zero test cells (CIFAR-10), where every proxy has a real-data score
ABLATION_SETTING = "a"
# cg_predict.evaluate's rows of the supervised control of the two-stage (unfrozen) schedule
TWO_STAGE_ROWS = "supervised-2stage-fine-tune"
_FORCE_FIX = (
    "rerun with force=True (tools/contrast_ablation.py --force) to pretrain it again, or delete it"
)


@dataclass(frozen=True)
class AblationConfig:
    """What the ablation runs (defaults: the full-size run reported in the book).

    Attributes:
        targets: target families (CIFAR-10, setting ``a``: NAS-Bench-Suite-Zero test cells).
        methods: pretraining methods (``cg_contrast.pretrain.METHODS``).
        families: families of the unlabeled pool (it includes the targets, unlabeled).
        pool_size: graphs in the pool, split evenly over ``families``.
        epochs: pretraining epochs.
        pretrain_seed: the seed of the pool and of every encoder.
        seeds: evaluation seeds (labelled cells and fine-tuning), as in ``cgnas evaluate``.
        shots: labelled target cells.
        source_cells: cap on labelled cells per source family (None: all).
        source_epochs: source-training epochs (early stopping).
        unfreeze_encoder: after the head has learnt the sources on the frozen pretrained
            encoder, train the whole network on them too (the book compares both; results
            go to ``<target>.json``, frozen ones to ``<target>-frozen.json``).
        quick: start from ``ProtocolConfig.quick``'s defaults instead of ``.full``'s (the
            fields above override them; ``protocol``).
    """

    targets: tuple[str, ...] = ABLATION_TARGETS
    methods: tuple[str, ...] = METHODS
    families: tuple[str, ...] = DEFAULT_FAMILIES
    pool_size: int = 50000
    epochs: int = 5
    pretrain_seed: int = 0
    seeds: int = 5
    shots: tuple[int, ...] = (0, 10, 20, 50)
    source_cells: int | None = 2000
    source_epochs: int = 25
    unfreeze_encoder: bool = True
    quick: bool = False
    pretrain: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = [m for m in self.methods if m not in METHODS]
        if bad:
            raise InvalidArgumentError(f"unknown methods {bad}; valid: {', '.join(METHODS)}")
        bad = [t for t in self.targets if t not in ABLATION_TARGETS]
        if bad:
            raise InvalidArgumentError(
                f"unknown targets {bad}; valid: {', '.join(ABLATION_TARGETS)}"
            )

    def protocol(self, target: str, encoders: Sequence[str | os.PathLike[str]]) -> ProtocolConfig:
        """The ``cg_predict.evaluate`` run of ``target`` with ``encoders`` (setting a, CIFAR-10).

        ``source_cells`` None keeps the mode's default (quick: 600 per family; full: all).
        The supervised rows use the pretrained encoders' network (``EncoderConfig()``, the
        mean-sum readout) for every target, not the readout chosen per target for the protocol
        (``SELECTED_READOUTS``), so that CL and supervised rows differ only in pretraining.
        """
        from cg_predict.evaluate import ProtocolConfig, SourceTraining

        source: dict[str, Any] = {"epochs": self.source_epochs}
        if self.source_cells is not None:
            source["cells"] = self.source_cells
        make = ProtocolConfig.quick if self.quick else ProtocolConfig.full
        return make(
            target,
            dataset="cifar10",
            shots=self.shots,
            seeds=self.seeds,
            settings=(ABLATION_SETTING,),
            encoders=tuple(os.fspath(p) for p in encoders),
            unfreeze_encoder=self.unfreeze_encoder,
            source=(SourceTraining.quick if self.quick else SourceTraining)(**source),
        )

    def pretrain_config(self, method: str) -> PretrainConfig:
        """The :class:`PretrainConfig` of ``method`` (``pretrain`` overrides its fields)."""
        return PretrainConfig(
            **{"method": method, "epochs": self.epochs, "seed": self.pretrain_seed, **self.pretrain}
        )


def _encoder_is_done(
    path: Path, config: PretrainConfig, ablation: AblationConfig, force: bool
) -> bool:
    """Whether ``path`` holds an encoder pretrained with ``config`` on the ablation's pool.

    Raises:
        StaleResultError: it was, but by other code (and not ``force``: then it is not done).
    """
    from cg_predict.checkpoint import load_encoder
    from cg_predict.errors import CheckpointError

    if not path.exists():
        return False
    try:
        meta = load_encoder(path).metadata
    except CheckpointError:
        return False  # damaged: pretrained again
    found = [meta.get(k) for k in ("config", "families", "pool_size", "pool_seed")]
    want = [
        {**config.identity(), "epochs": config.epochs},
        list(ablation.families),
        ablation.pool_size,
        config.seed,
    ]
    if found != want:
        return False  # another configuration: pretrained again
    current, stored = code_digest(*PRETRAIN_CODE), meta.get("code_digest")
    if stored == current:
        return True
    if force:
        return False
    raise StaleResultError(path, stored if isinstance(stored, str) else None, current, _FORCE_FIX)


def _pretrain(
    path: Path,
    config: PretrainConfig,
    ablation: AblationConfig,
    force: bool,
    device: str,
    progress: bool,
) -> None:
    """Pretrain ``path``, resuming its state; with ``force``, afresh if other code wrote it."""
    run = functools.partial(
        pretrain_encoder,
        path,
        config,
        families=ablation.families,
        pool_size=ablation.pool_size,
        device=device,
        progress=progress,
    )
    try:
        run(resume=True)
    except StaleResultError:
        if not force:
            raise
        run(resume=False)


def run_ablation(
    config: AblationConfig,
    work_dir: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    progress: bool = True,
    force: bool = False,
) -> dict[str, EvaluationResult]:
    """Pretrain the missing encoders, evaluate every target; ``{target: evaluate result}``.

    Args:
        config: what to run.
        work_dir: encoders, training states and results (resumed from; see the module).
        data_dir: the benchmark data directory (default ``$CGNAS_DATA_DIR``).
        device: torch device.
        progress: progress bars.
        force: pretrain and evaluate again what other code wrote in ``work_dir`` (overwriting
            it) instead of refusing it; what the running code wrote is still reused.

    Raises:
        StaleResultError: an encoder or training state in ``work_dir`` was written by other
            code (and not ``force``).
        cg_predict.errors.StaleResultError: so was a results file of the same configuration.
    """
    from cg_predict.evaluate import evaluate

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    encoders = []
    for method in config.methods:
        path = work / f"{method}.pt"
        pretrain_config = config.pretrain_config(method)
        if not _encoder_is_done(path, pretrain_config, config, force):
            _pretrain(path, pretrain_config, config, force, device, progress)
        encoders.append(path)
    suffix = "" if config.unfreeze_encoder else "-frozen"
    return {
        target: evaluate(
            config.protocol(target, encoders),
            data_dir=data_dir,
            out=work / f"{target}{suffix}.json",
            device=device,
            progress=progress,
            force=force,
        )
        for target in config.targets
    }


def _cell(result: EvaluationResult, method: str, shots: int) -> str:
    """Per-class ``mean ± std`` (no std for one seed); the per-row mean where it differs."""
    row = result.find(ABLATION_SETTING, method, shots)
    if row is None or row.srcc_mean is None:
        return "–"
    text = row.srcc_text(signed=False)
    per_row = result.find(ABLATION_SETTING, method, shots, "row")
    if per_row is not None and per_row.srcc_mean is not None:
        if f"{per_row.srcc_mean:.3f}" != f"{row.srcc_mean:.3f}":
            text += f" [rows {per_row.srcc_mean:.3f}]"
    return text


def ablation_rows(
    result: EvaluationResult, methods: Sequence[str] = METHODS
) -> tuple[list[str], list[list[str]]]:
    """Header and rows (one per shot count) of SRCC: supervised, then each CL, then a proxy.

    Cells are the per-class SRCC mean ± sample std over seeds, with the per-row mean in
    brackets where it differs (``_cell``). With ``unfreeze_encoder`` the CL models had two
    source fits; the column ``supervised GNN, 2 stages`` is the supervised control with the
    same two fits (compare CL with it). The last column is the best proxy on the test cells,
    an oracle choice (``EvaluationResult.best_proxy``).
    """
    two_stage = supervised_control(result) == TWO_STAGE_ROWS
    header = [
        "shots",
        "supervised GNN",
        *(["supervised GNN, 2 stages"] if two_stage else []),
        *(f"CL {m}" for m in methods),
        "best proxy (oracle: best on the test cells)",
    ]
    rows = []
    for k in result.shots:
        best = result.best_proxy(ABLATION_SETTING, k)
        proxy = "–" if best is None else f"{best.srcc_mean:.3f} ({best.method[6:]})"
        rows.append(
            [
                str(k),
                _cell(result, "gnn-fine-tune", k),
                *([_cell(result, TWO_STAGE_ROWS, k)] if two_stage else []),
                *(_cell(result, f"{PRETRAINING_METHODS[m]}-fine-tune", k) for m in methods),
                proxy,
            ]
        )
    return header, rows


def supervised_control(result: EvaluationResult) -> str:
    """The supervised method a CL method of ``result`` is compared with (as many fits).

    ``supervised-2stage-fine-tune`` when the CL encoders were unfrozen for a second source fit
    (the evaluation then trained that control), else ``gnn-fine-tune``.
    """
    methods = {r.method for r in result.results}
    return TWO_STAGE_ROWS if TWO_STAGE_ROWS in methods else "gnn-fine-tune"
