"""The pretraining ablation: supervised GNN vs the three CL methods, leave-one-family-out.

Runs are over ``seeds`` *paired* seeds. Paired seed ``j`` pretrains every CL encoder with seed
``j`` on one shared pool (``pool_seed``), trains every source model with seed ``j``
(``SourceTraining.seed``) and draws run ``j``'s labelled cells and fine-tuning; every target is
evaluated by ``cg_predict.evaluate`` with all encoders at once, so the supervised rows and the
CL rows of a seed share source cells, test cells, labelled cells and seeds. Run ``j`` of every
paired seed makes one ``EvaluationResult`` per target, whose means ± sample stds (ddof=1) are
over the paired seeds, so they include the spread of pretraining and source training.

Which CL method a target would use, and which predictor (any learned row, so whether to
pretrain at all), are chosen on its source families only (``select_on_sources``, nested
leave-one-family-out; stored in the result's metadata, ``cl_choice`` and ``predictor_choice``):
the best column of a table is picked on the test cells, an oracle choice.

Everything lands in ``work_dir`` and is resumed from there: ``<method>-seed<j>.pt`` (a finished
encoder of the same configuration and code is reused, an interrupted one continues from its
per-epoch state), ``<target>-seed<j>.json`` (paired seed ``j``'s evaluation; finished runs are
skipped), ``select-<target>-<source>.json`` (the choice's folds) and ``<target>.json`` (the
combined result, rewritten from the others); frozen-encoder runs add ``-frozen`` before
``-seed`` and ``.json``. Whatever other code wrote there (an encoder, a training state,
results) is refused with a ``StaleResultError`` naming the file, its code digest and the running
code's; ``force`` computes it again instead. ``run_ablation``'s ``executor`` (``cg_ir.executor``)
runs the paired seeds, then the targets' choices, in parallel over the same ``work_dir``.

With ``unfreeze_encoder`` every CL model gets two source fits; the evaluation then also trains
the supervised control of that schedule (``supervised-2stage``), the fair comparison
(``supervised_control``). Tables report the SRCC per isomorphism class of the test cells.

Examples:
    >>> AblationConfig(quick=True).pretrain_config("dropout", seed=2).seed
    2
    >>> encoder_path("work", "dropout", 2).name
    'dropout-seed2.pt'
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cg_contrast._ablation_selection import SourceChoice, choose_on_sources
from cg_contrast.errors import InvalidArgumentError, PretrainCheckpointError, StaleResultError
from cg_contrast.pipeline import PRETRAINING_METHODS, pretrain_encoder
from cg_contrast.pools import DEFAULT_FAMILIES, unlabeled_pool
from cg_contrast.pretrain import METHODS, PRETRAIN_CODE, PretrainConfig
from cg_ir.executor import Executor, LocalExecutor
from cg_ir.provenance import cache_key, code_digest
from cg_predict.encoder import EncoderConfig

if TYPE_CHECKING:  # cg_predict.evaluate loads torch and the benchmark tables: when run
    from cg_predict.evaluate import EvaluationResult, ProtocolConfig

__all__ = [
    "ABLATION_TARGETS",
    "AblationConfig",
    "SourceChoice",
    "ablation_rows",
    "cl_choice",
    "encoder_path",
    "predictor_choice",
    "result_setting",
    "run_ablation",
    "run_paired_seed",
    "select_on_sources",
    "supervised_control",
    "target_setting",
]

# every labelled family of cg-predict (a test keeps them equal): the transfer tables' targets
ABLATION_TARGETS = ("nb101", "nb201", "nb301", "ofa-mbv3", "cbm-mobilenet", "cbm-resnet")
# cg_predict.evaluate's rows of the supervised control of the two-stage (unfrozen) schedule
TWO_STAGE_ROWS = "supervised-2stage-fine-tune"
_FORCE_FIX = "rerun with force=True (as cgnas reproduce does) to pretrain it again, or delete it"
# recorded in the combined result's config: what its run j is
_PAIRING = (
    "run j is paired seed j: CL encoders pretrained with seed j on the shared pool, source "
    "training seed j, labelled cells and fine-tuning of protocol run j; the other fields are "
    "paired seed 0's"
)


_QUICK_SOURCES = ("nb101", "nb301")  # the quick run's labelled source families (for_mode)


@dataclass(frozen=True)
class AblationConfig:
    """What the ablation runs (defaults: the full-size run reported in the book).

    Attributes:
        targets: target families, each on its first dataset and its first test setting
            (``target_setting``: the NAS-Bench-Suite-Zero test cells where the family has
            them, NB-101, NB-201 and NB-301 on CIFAR-10, else the protocol's setting ``b``).
        methods: pretraining methods (``cg_contrast.pretrain.METHODS``).
        families: families of the unlabeled pool (never labelled). The default,
            ``DEFAULT_FAMILIES``, holds the NB-101, NB-201, NB-301 and OFA-MobileNetV3
            targets' spaces but not Channel-Bench-Macro's (cg-ir's ``resnet`` is another space
            than ``cbm-resnet``): the pool holds no architecture of those two targets.
        pool_size: graphs in the pool, split evenly over ``families``.
        pool_seed: the seed of the one pool every encoder is pretrained on.
        epochs: pretraining epochs.
        seeds: paired seeds ``0 .. seeds - 1``; seed ``j`` is the pretraining seed, the
            source-training seed and the protocol run (labelled cells, fine-tuning).
        shots: labelled target cells.
        sources: the labelled source families of every target (``()``: the protocol's
            default, every other labelled family).
        source_cells: cap on labelled cells per source family (None: all).
        source_epochs: source-training epochs (early stopping).
        unfreeze_encoder: after the head has learnt the sources on the frozen pretrained
            encoder, train the whole network on them too (the book compares both; frozen
            runs' files have ``-frozen`` in their names).
        quick: start from ``ProtocolConfig.quick``'s defaults instead of ``.full``'s (the
            fields above override them; ``protocol``).
        pretrain: overrides of ``PretrainConfig``'s fields (not ``seed``: the paired seeds;
            an ``encoder`` only if it is the supervised rows' network, ``SourceTraining``'s).
    """

    targets: tuple[str, ...] = ABLATION_TARGETS
    methods: tuple[str, ...] = METHODS
    families: tuple[str, ...] = DEFAULT_FAMILIES
    pool_size: int = 50000
    pool_seed: int = 0
    epochs: int = 5
    seeds: int = 5
    shots: tuple[int, ...] = (0, 10, 20, 50)
    sources: tuple[str, ...] = ()
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
        if self.seeds < 1 or "seed" in self.pretrain:
            raise InvalidArgumentError(
                f"need seeds >= 1 (got {self.seeds}) and no 'seed' in pretrain (the paired "
                f"seeds set it; got {sorted(self.pretrain)})"
            )
        from cg_predict.evaluate import SourceTraining

        # the supervised rows train SourceTraining's encoder (``protocol``): a CL encoder of
        # another network would differ from them in more than pretraining
        supervised = SourceTraining().encoder
        pretrained = EncoderConfig.from_dict(PretrainConfig(**self.pretrain).encoder)
        if pretrained != supervised:
            raise InvalidArgumentError(
                f"pretrain's encoder {pretrained.to_dict()} is not the supervised rows' "
                f"{supervised.to_dict()}; the CL and supervised rows must use one network"
            )

    @classmethod
    def for_mode(cls, mode: str) -> AblationConfig:
        """The ``"full"`` run (the defaults) or the ``"quick"`` one (CI, the book's quick mode).

        Quick: NB-201 only, a 1,500-graph pool, 2 pretraining epochs, 3 paired seeds (the
        fewest the project reports a sample std over), 0 and 50 labels, two source families
        (NB-101 and NB-301: the CL choice then holds out each of them in turn) with 600 cells
        each and 5 source epochs. Training every model on the sources and fine-tuning it
        dominates the cost (every CL encoder and the supervised controls, for every seed and
        every held-out source), so the quick run trims those to fit ``cgnas reproduce
        --quick``'s budget; it shows the ablation working, the full run measures it.

        Examples:
            >>> AblationConfig.for_mode("quick").targets, AblationConfig.for_mode("full").seeds
            (('nb201',), 5)
        """
        if mode == "full":
            return cls()
        if mode != "quick":
            raise InvalidArgumentError(f"mode {mode!r} is not 'quick' or 'full'")
        return cls(
            targets=("nb201",),
            pool_size=1500,
            epochs=2,
            seeds=3,
            shots=(0, 50),
            sources=_QUICK_SOURCES,
            source_cells=600,
            source_epochs=5,
            quick=True,
        )

    @property
    def suffix(self) -> str:
        """What the files of this schedule add to a target's name: ``-frozen`` or nothing."""
        return "" if self.unfreeze_encoder else "-frozen"

    def protocol(
        self, target: str, encoders: Sequence[str | os.PathLike[str]], seed: int = 0
    ) -> ProtocolConfig:
        """Paired seed ``seed``'s ``cg_predict.evaluate`` run of ``target``.

        On the target's first dataset and ``target_setting``, as the CL choice's folds
        evaluate a held-out source (``ProtocolConfig.for_fold``).

        ``encoders`` are that seed's; the source models are trained with seed ``seed`` and
        the protocol does its run ``seed`` alone (``first_seed``).
        ``source_cells`` None keeps the mode's default (quick: 600 per family; full: all).
        The supervised rows use the pretrained encoders' network (``EncoderConfig()``, the
        mean-sum readout, no head features) for every target, not the model chosen per target
        for the protocol (``SELECTED_MODELS``), so that CL and supervised rows differ only in
        pretraining.
        """
        from cg_predict.evaluate import DATASETS, ProtocolConfig, SourceTraining

        source: dict[str, Any] = {"epochs": self.source_epochs}  # run ``seed`` seeds it
        if self.source_cells is not None:
            source["cells"] = self.source_cells
        make = ProtocolConfig.quick if self.quick else ProtocolConfig.full
        return make(
            target,
            dataset=DATASETS[target][0],
            sources=tuple(s for s in self.sources if s != target),
            shots=self.shots,
            seeds=seed + 1,
            first_seed=seed,
            settings=(target_setting(target),),
            encoders=tuple(os.fspath(p) for p in encoders),
            unfreeze_encoder=self.unfreeze_encoder,
            source=(SourceTraining.quick if self.quick else SourceTraining)(**source),
        )

    def pretrain_config(self, method: str, seed: int = 0) -> PretrainConfig:
        """The :class:`PretrainConfig` of ``method`` for paired seed ``seed``.

        ``pretrain`` overrides its fields.
        """
        return PretrainConfig(
            **{"method": method, "epochs": self.epochs, **self.pretrain, "seed": seed}
        )


def target_setting(target: str) -> str:
    """The test setting the ablation evaluates ``target`` on: its first (``settings_of``).

    Examples:
        >>> target_setting("nb301"), target_setting("ofa-mbv3")
        ('a', 'b')
    """
    from cg_predict.evaluate import settings_of

    return settings_of(target)[0]


def result_setting(result: EvaluationResult) -> str:
    """The test setting an ablation result was run on (``target_setting`` of its target)."""
    return result.settings[0]


def encoder_path(work_dir: str | os.PathLike[str], method: str, seed: int) -> Path:
    """Where the ablation keeps ``method``'s encoder of paired seed ``seed``."""
    return Path(work_dir) / f"{method}-seed{seed}.pt"


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
        ablation.pool_seed,
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
    """Pretrain ``path``, resuming its state.

    With ``force``, afresh if that state cannot be resumed: written by other code, by another
    configuration or for another pool, with more epochs done, or damaged.
    """
    run = functools.partial(
        pretrain_encoder,
        path,
        config,
        families=ablation.families,
        pool_size=ablation.pool_size,
        pool_seed=ablation.pool_seed,
        device=device,
        progress=progress,
    )
    try:
        run(resume=True)
    except (StaleResultError, PretrainCheckpointError):
        if not force:
            raise
        run(resume=False)


def _encoders(
    config: AblationConfig, work: Path, seed: int, force: bool, device: str, progress: bool
) -> list[Path]:
    """Paired seed ``seed``'s encoder of every method, pretrained where not done."""
    paths = []
    for method in config.methods:
        path = encoder_path(work, method, seed)
        pretrain_config = config.pretrain_config(method, seed)
        if not _encoder_is_done(path, pretrain_config, config, force):
            _pretrain(path, pretrain_config, config, force, device, progress)
        paths.append(path)
    return paths


def run_paired_seed(
    config: AblationConfig,
    seed: int,
    work_dir: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    progress: bool = True,
    force: bool = False,
) -> dict[str, EvaluationResult]:
    """Paired seed ``seed`` alone: its encoders, then ``{target: its evaluate result}``.

    Each result holds the protocol's run ``seed`` alone (``<target>-seed<seed>.json``);
    ``run_ablation`` combines them. The arguments are
    ``run_ablation``'s.

    Raises:
        InvalidArgumentError: ``seed`` is not one of ``config``'s paired seeds.
        StaleResultError, PretrainCheckpointError, cg_predict.errors.StaleResultError: as
            ``run_ablation``.
    """
    from cg_predict.evaluate import evaluate

    if not 0 <= seed < config.seeds:
        raise InvalidArgumentError(f"seed {seed} is not a paired seed 0..{config.seeds - 1}")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    encoders = _encoders(config, work, seed, force, device, progress)
    return {
        target: evaluate(
            config.protocol(target, encoders, seed),
            data_dir=data_dir,
            out=work / f"{target}{config.suffix}-seed{seed}.json",
            device=device,
            progress=progress,
            force=force,
        )
        for target in config.targets
    }


def select_on_sources(
    config: AblationConfig,
    target: str,
    work_dir: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    progress: bool = True,
    force: bool = False,
) -> tuple[SourceChoice, SourceChoice]:
    """The CL method and the predictor ``target`` would use, chosen on its sources only.

    Every source of ``target`` is held out in turn and evaluated as the ablation evaluates
    ``target`` (paired seed 0: its encoders and source training, one run, the largest shot
    count); the CL methods are ranked by their fine-tune rows' mean per-class SRCC over these
    folds, and so is every learned row (the predictor choice, which may be a supervised one:
    it decides whether to pretrain at all). ``target``'s cells are never loaded. The folds'
    results are ``select-<target>-<source>.json`` in ``work_dir`` (resumed from). The
    arguments are ``run_ablation``'s.

    Raises:
        InvalidArgumentError: fewer than 2 shots (nothing is fine-tuned).
        StaleResultError, PretrainCheckpointError, cg_predict.errors.StaleResultError: as
            ``run_ablation``.
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    encoders = _encoders(config, work, 0, force, device, progress)
    return choose_on_sources(
        config.protocol(target, encoders, 0),
        config.methods,
        work,
        suffix=config.suffix,
        data_dir=data_dir,
        device=device,
        progress=progress,
        force=force,
    )


def _combine(
    config: AblationConfig,
    per_seed: Sequence[EvaluationResult],
    choices: tuple[SourceChoice, SourceChoice],
) -> EvaluationResult:
    """Run ``j`` of paired seed ``j``'s result, for every ``j``, as one result."""
    from cg_predict.evaluate import EvaluationResult

    runs = [r for seed, result in enumerate(per_seed) for r in result.runs if r["seed"] == seed]
    hashes = [result.config_hash for result in per_seed]
    pairing = {"seeds": config.seeds, "pool_seed": config.pool_seed, "note": _PAIRING}
    return EvaluationResult.from_runs(
        {**per_seed[0].config, "paired_seeds": pairing},
        cache_key({"paired_seed_config_hashes": hashes}),  # the project's one config digest
        code_digest(*PRETRAIN_CODE),  # pretraining, evaluation and this combination
        {
            "paired_seeds": [
                {"seed": seed, "config_hash": r.config_hash, "code_digest": r.code_digest}
                for seed, r in enumerate(per_seed)
            ],
            "cl_choice": choices[0].to_dict(),
            "predictor_choice": choices[1].to_dict(),
        },
        runs,
    )


def run_ablation(
    config: AblationConfig,
    work_dir: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    progress: bool = True,
    force: bool = False,
    executor: Executor | None = None,
) -> dict[str, EvaluationResult]:
    """Every paired seed, the choices on the sources; ``{target: combined result}``.

    Run ``j`` of every paired seed ``j``'s evaluation (``run_paired_seed``) makes one result
    per target, written to ``<target>.json`` (``-frozen.json`` with a frozen encoder) whenever
    it is computed; its metadata's ``cl_choice`` and ``predictor_choice`` are
    ``select_on_sources``'s choices (``cl_choice`` and ``predictor_choice`` read them back).

    Args:
        config: what to run.
        work_dir: encoders, training states and results (resumed from; see the module).
        data_dir: the benchmark data directory (default ``$CGNAS_DATA_DIR``).
        device: torch device.
        progress: progress bars.
        force: pretrain and evaluate again what other code wrote in ``work_dir`` (overwriting
            it) instead of refusing it, and pretrain afresh over a training state that cannot
            be resumed; what the running code wrote is still reused.
        executor: where the paired seeds, then the targets' choices, run (default: one
            after the other in this process). Outside this process the calls show no progress
            bars of their own (one bar counts them).

    Raises:
        StaleResultError: an encoder or training state in ``work_dir`` was written by other
            code (and not ``force``).
        PretrainCheckpointError: a training state in ``work_dir`` cannot be resumed (another
            configuration or pool, more epochs done, damaged; and not ``force``).
        cg_predict.errors.StaleResultError: so was a results file of the same configuration.
    """
    work = Path(work_dir)
    executor = executor or LocalExecutor()
    outside = not executor.in_process
    if outside:  # one build of the shared pool, before the workers read it from the cache
        unlabeled_pool(config.families, config.pool_size, config.pool_seed, progress=progress)
    options: dict[str, Any] = {
        "work_dir": work,
        "data_dir": data_dir,
        "device": device,
        "progress": progress and not outside,
        "force": force,
    }
    per_seed = executor.map(
        functools.partial(run_paired_seed, config, **options),
        range(config.seeds),
        progress=progress and outside,
        desc="paired seeds",
    )
    choices = executor.map(
        functools.partial(select_on_sources, config, **options),
        config.targets,
        progress=progress and outside,
        desc="choices on the sources",
    )
    combined = {}
    for target, choice in zip(config.targets, choices, strict=True):
        result = _combine(config, [results[target] for results in per_seed], choice)
        result.write(work / f"{target}{config.suffix}.json")
        combined[target] = result
    return combined


def cl_choice(result: EvaluationResult) -> SourceChoice:
    """The CL method chosen on the sources that ``run_ablation`` stored in ``result``."""
    return SourceChoice.from_dict(result.metadata["cl_choice"])


def predictor_choice(result: EvaluationResult) -> SourceChoice | None:
    """The predictor (a learned row) chosen on the sources that ``run_ablation`` stored.

    None for a result written before the ablation recorded it (its CL choice only).
    """
    stored = result.metadata.get("predictor_choice")
    return None if stored is None else SourceChoice.from_dict(stored)


def _cell(result: EvaluationResult, method: str, shots: int) -> str:
    """Per-class ``mean ± std`` (no std for one seed); the per-row mean where it differs."""
    row = result.find(result_setting(result), method, shots)
    if row is None or row.srcc_mean is None:
        return "–"
    text = row.srcc_text(signed=False)
    per_row = result.find(result_setting(result), method, shots, "row")
    if per_row is not None and per_row.srcc_mean is not None:
        if f"{per_row.srcc_mean:.3f}" != f"{row.srcc_mean:.3f}":
            text += f" [rows {per_row.srcc_mean:.3f}]"
    return text


def ablation_rows(
    result: EvaluationResult, methods: Sequence[str] = METHODS
) -> tuple[list[str], list[list[str]]]:
    """Header and rows (one per shot count) of SRCC: supervised, each CL, the choice, a proxy.

    Cells are the per-class SRCC mean ± sample std over the (paired) seeds, with the per-row
    mean in brackets where it differs (``_cell``). With ``unfreeze_encoder`` the CL models had two
    source fits; the column ``supervised GNN, 2 stages`` is the supervised control with the
    same two fits (compare CL with it). ``chosen on the sources: <row>`` is the predictor chosen
    without the target's labels (``predictor_choice``; absent from results made before it was
    recorded). The last column is the best proxy on the test cells, an oracle choice
    (``EvaluationResult.best_proxy``).
    """
    two_stage = supervised_control(result) == TWO_STAGE_ROWS
    chosen = predictor_choice(result)
    header = [
        "shots",
        "supervised GNN",
        *(["supervised GNN, 2 stages"] if two_stage else []),
        *(f"CL {m}" for m in methods),
        *([f"chosen on the sources: {chosen.method}"] if chosen else []),
        "best proxy (oracle: best on the test cells)",
    ]
    rows = []
    for k in result.shots:
        best = result.best_proxy(result_setting(result), k)
        proxy = "–" if best is None else f"{best.srcc_mean:.3f} ({best.method[6:]})"
        rows.append(
            [
                str(k),
                _cell(result, "gnn-fine-tune", k),
                *([_cell(result, TWO_STAGE_ROWS, k)] if two_stage else []),
                *(_cell(result, f"{PRETRAINING_METHODS[m]}-fine-tune", k) for m in methods),
                *([_cell(result, chosen.method, k)] if chosen else []),
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
