"""Run a search over a labelled pool for several seeds: ``run_search`` and its results file.

Per seed, a strategy spends ``queries`` paid oracle queries on the budgeted candidates; the
runner records the queried keys in order, the best label so far after every paid query and
its rank among the budgeted space's networks (1 = the best class-mean label; see
``cg_evo.space`` on twins). Seeds are independent (numpy
generator and torch seeded from the seed alone) and can run in parallel on any
``cg_ir.executor`` backend, with the same numbers as in one process. A predictor strategy's
seed ``s`` starts from source model ``s % SOURCE_MODELS`` (``SearchConfig.source_seed``), so
the spread over seeds includes source training; a run builds each of its source models once.

The results file (``--out``) is rewritten atomically after every finished seed; a rerun with
the same configuration, the same code (``code_digest``: a digest of cg-ir, cg-predict and
cg-evo's sources, recorded in the file) and the same label table (``Oracle.table_digest``)
skips the seeds it holds and gives the same result as an uninterrupted run. A file of other
settings or of another table is overwritten; one of the same settings written by other code is
refused (``SearchStateError``) unless ``force`` recomputes it, like ``cgnas evaluate``'s
results. The document holds seeds ``0 .. seeds - 1``, whatever the file held before.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from tqdm.auto import tqdm

import cg_evo
import cg_ir
import cg_predict
from cg_evo import strategies
from cg_evo.budget import Budget
from cg_evo.errors import InvalidSearchError, SearchStateError
from cg_evo.oracle import Oracle, load_oracle
from cg_evo.space import MUTATION, TWINS, Queries, QueryBudgetExhausted, SearchSpace
from cg_evo.strategies import Context, StrategySettings
from cg_evo.surrogate import (
    SOURCE_MODELS,
    FineTuneConfig,
    SearchPredictor,
    search_flops_weight,
    source_predictor,
)
from cg_ir.executor import get_executor, torch_threads
from cg_ir.provenance import code_digest, file_sha256
from cg_predict.errors import InvalidArgumentError, StaleResultError
from cg_predict.evaluate import config_hash, load_finished, write_json
from cg_predict.model import PredictorNet

__all__ = [
    "FORMAT",
    "NEAR_BEST",
    "SEARCH_CODE",
    "TOP_FRACTION",
    "SearchConfig",
    "run_search",
    "run_seed",
    "summarize",
]

FORMAT = "cg-evo/search"
FORMAT_VERSION = 1
# the code a search result depends on: its digest is recorded in and checked against ``--out``
SEARCH_CODE = ("cg_ir", "cg_predict", "cg_evo")
TOP_FRACTION = 0.001  # "top 0.1%"
NEAR_BEST = 0.1  # label points: "within 0.1% top-1 of the best" (OFA's accuracies are in %)
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SearchConfig:
    """Everything that changes a search's numbers (the results file's ``config``).

    Attributes:
        family: the cg-ir family searched (one with an oracle: ``cg_evo.oracle.ORACLES``).
        dataset: the oracle's dataset (default the family's first).
        strategy: a ``cg_evo.strategies`` name.
        queries: paid oracle queries per seed (the search budget).
        seeds: seeds ``0 .. seeds - 1``.
        budget: cost limits on the candidates.
        settings: strategy settings.
        fine_tune: how the predictor learns from paid labels (predictor strategies).
        quick: quick-mode source models (fewer source cells and epochs; CI and the book).
        source_cells: at most this many labelled cells per source family (a seeded sample;
            default: the protocol's, 600 quick, all otherwise).
        source_epochs: source training epochs (default: the protocol's, 10 quick, 40).
        checkpoint: a predictor checkpoint every seed starts from instead of its source model
            (refused if it saw the family's labels).
    """

    family: str
    dataset: str | None = None
    strategy: str = "predictor-ea"
    queries: int = 100
    seeds: int = 20
    budget: Budget = field(default_factory=Budget)
    settings: StrategySettings = field(default_factory=StrategySettings)
    fine_tune: FineTuneConfig = field(default_factory=FineTuneConfig)
    quick: bool = False
    source_cells: int | None = None
    source_epochs: int | None = None
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        if self.queries < 1 or self.seeds < 1:
            raise InvalidSearchError(
                f"need at least 1 query and 1 seed, got queries={self.queries}, seeds={self.seeds}"
            )
        strategies.get(self.strategy)  # raises UnknownStrategyError listing the names

    @property
    def uses_predictor(self) -> bool:
        """Whether the strategy needs the predictor."""
        return strategies.get(self.strategy).uses_predictor

    @property
    def zero_shot_flops_weight(self) -> float:
        """The FLOPs weight of the predictor's ranking before its first refit.

        The search's warm start chosen for ``family`` without its labels
        (``cg_evo.surrogate.search_flops_weight``: the protocol's weight, or 0). Like the source
        training chosen for ``family``, it is the code's (``SEARCH_CODE``'s digest, recorded
        beside the config), not a setting of the config.
        """
        return search_flops_weight(self.family)

    def source_seed(self, seed: int) -> int | None:
        """The source model seed ``seed`` starts from (``source_predictor``'s ``source_seed``).

        ``seed % SOURCE_MODELS``: a few source models, each shared by every ``SOURCE_MODELS``-th
        seed. None where the seed starts from no source model: a strategy without predictor, or
        ``checkpoint``, the one model of every seed.

        Examples:
            >>> config = SearchConfig("nb201", seeds=7)
            >>> [config.source_seed(seed) for seed in range(7)]
            [0, 1, 2, 3, 4, 0, 1]
            >>> SearchConfig("nb201", strategy="rea").source_seed(3) is None
            True
        """
        if not self.uses_predictor or self.checkpoint is not None:
            return None
        return seed % SOURCE_MODELS

    def to_dict(self) -> dict[str, Any]:
        """JSON-able settings (the code that runs them is recorded beside them, not here).

        The number of seeds is left out: every seed's run is the same function of the rest, so
        a rerun with more seeds reuses the seeds already done (the provenance lists them), and
        one with fewer reports the first ``seeds`` of them.
        """
        return {
            "family": self.family,
            "dataset": self.dataset,
            "strategy": self.strategy,
            "queries": self.queries,
            "budget": self.budget.to_dict(),
            "settings": self.settings.to_dict(),
            "fine_tune": self.fine_tune.to_dict() if self.uses_predictor else None,
            "quick": self.quick,
            "source_cells": self.source_cells,
            "source_epochs": self.source_epochs,
            "checkpoint": self.checkpoint,
        }


def _curve_at(run: dict[str, Any], length: int) -> FloatArray:
    curve = np.asarray(run["best_so_far"], dtype=np.float64)
    if len(curve) < length:  # the space ran out of classes: the best stays
        curve = np.concatenate([curve, np.full(length - len(curve), curve[-1])])
    return curve[:length]


def run_seed(
    config: SearchConfig,
    seed: int,
    space: SearchSpace,
    base: PredictorNet | None,
    device: str = "cpu",
    flops_weight: float | None = None,
) -> dict[str, Any]:
    """One seed of ``config`` on ``space``: the run record written to the results file.

    ``base`` is the model the seed starts from (``run_search`` passes source model
    ``config.source_seed(seed)``, or the checkpoint's; None without predictor).
    ``flops_weight`` overrides ``config.zero_shot_flops_weight`` (the predictor's ranking
    before its first refit), for a choice of that weight made on other families.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    queries = Queries(space, config.queries)
    predictor = None
    if config.uses_predictor:
        assert base is not None, "a predictor strategy needs the source model"
        predictor = SearchPredictor(
            base,
            space.graphs,
            config.fine_tune,
            seed=seed,
            flops_weight=config.zero_shot_flops_weight if flops_weight is None else flops_weight,
            device=device,
        )
    ctx = Context(space, queries, rng, config.settings, predictor, seed)
    torch.manual_seed(seed)
    try:
        strategies.get(config.strategy).run(ctx)
    except QueryBudgetExhausted:
        pass
    labels = np.asarray(queries.labels, dtype=np.float64)
    best = np.maximum.accumulate(labels) if len(labels) else labels
    best_label = float(space.labels.max())
    top = space.top_threshold(TOP_FRACTION)

    def first_reaching(level: float) -> int:
        hit = np.flatnonzero(best >= level - 1e-9)
        return int(hit[0]) + 1 if hit.size else config.queries + 1

    return {
        "seed": seed,
        "queried": [space.keys[i] for i in queries.order],
        "labels": labels.tolist(),
        "best_so_far": best.tolist(),
        "rank_so_far": space.ranks(best).tolist(),
        "queries_to_best": first_reaching(best_label),
        "queries_to_top01": first_reaching(top),
        "queries_to_near_best": first_reaching(best_label - NEAR_BEST),
        "free_twin_hits": queries.free_hits,
        "refits": [] if predictor is None else predictor.refits,
        "seconds": time.perf_counter() - start,
    }


def summarize(runs: list[dict[str, Any]], queries: int) -> dict[str, Any]:
    """Medians over seeds of what the runs reached, and the best-so-far curve.

    Queries to the best label, to within ``NEAR_BEST`` label points of it, and to the top
    0.1% (``budget + 1`` for a run that never got there).
    """
    curves = np.stack([_curve_at(r, queries) for r in runs])
    ranks = np.stack(
        [np.asarray(r["rank_so_far"] + [r["rank_so_far"][-1]] * queries)[:queries] for r in runs]
    )
    q25, median, q75 = np.percentile(curves, [25, 50, 75], axis=0)
    to_best = [r["queries_to_best"] for r in runs]
    to_top = [r["queries_to_top01"] for r in runs]
    to_near = [r["queries_to_near_best"] for r in runs]
    return {
        "seeds": len(runs),
        "queries_to_best_median": float(np.median(to_best)),
        "queries_to_best_quartiles": [float(v) for v in np.percentile(to_best, [25, 75])],
        "queries_to_top01_median": float(np.median(to_top)),
        "queries_to_top01_quartiles": [float(v) for v in np.percentile(to_top, [25, 75])],
        "queries_to_near_best_median": float(np.median(to_near)),
        "found_best": sum(v <= queries for v in to_best),
        "final_best_median": float(median[-1]),
        "final_rank_median": float(np.median(ranks[:, -1])),
        "best_so_far_median": median.tolist(),
        "best_so_far_q25": q25.tolist(),
        "best_so_far_q75": q75.tolist(),
        "rank_so_far_median": np.median(ranks, axis=0).tolist(),
        "seconds_per_seed_median": float(np.median([r["seconds"] for r in runs])),
    }


def _space_record(oracle: Oracle, space: SearchSpace) -> dict[str, Any]:
    threshold = space.top_threshold(TOP_FRACTION)
    return {
        "family": oracle.family,
        "dataset": oracle.dataset,
        "benchmark": oracle.benchmark,
        "label": oracle.label_name,
        "pool_size": space.pool_size,
        "candidates": len(space),
        "classes": space.num_classes,
        "budget": space.budget.to_dict(),
        "best_label": float(space.labels.max()),
        "top01_threshold": threshold,
        "top01_count": int(np.sum(space.class_labels() >= threshold)),
        "mutation": MUTATION,
        "whole_space": space.whole_space,
        "twins": TWINS,
    }


def _source_record(metas: dict[int | None, dict[str, Any]]) -> dict[str, Any] | None:
    """What the runs' base models were trained on, by their metadata ``{source seed: meta}``.

    ``source_seeds`` lists the source models' seeds; None where every run started from a
    checkpoint (key None), whose ``method`` is kept where its metadata names one.
    """
    if not metas:
        return None
    if None in metas:
        checkpoint = metas[None]
        return {
            **{k: checkpoint[k] for k in ("trained_on", "method") if k in checkpoint},
            "source_seeds": None,
        }
    return {
        "trained_on": sorted({group for meta in metas.values() for group in meta["trained_on"]}),
        "source_seeds": sorted(seed for seed in metas if seed is not None),
    }


def _provenance(
    oracle: Oracle,
    source: dict[str, Any] | None,
    seeds: list[int],
    backend: str,
    device: str,
    seconds: float,
) -> dict[str, Any]:
    path = oracle.source_path
    return {
        "seeds": seeds,
        "versions": {
            "cg_evo": cg_evo.__version__,
            "cg_predict": cg_predict.__version__,
            "cg_ir": cg_ir.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "code_digest": code_digest(*SEARCH_CODE),
        "data_files": {} if path is None else {path.name: file_sha256(path)},
        "source_model": source,
        "backend": backend,
        "device": device,
        "wall_seconds": seconds,
    }


@dataclass(frozen=True)
class _SeedJob:
    """What a worker needs to run one seed (picklable: a config, a seed, plain model state)."""

    config: SearchConfig
    seed: int
    data_dir: str | None
    device: str
    model_config: dict[str, Any] | None
    model_state: dict[str, torch.Tensor] | None


def _seed_job(
    config: SearchConfig,
    seed: int,
    data_dir: str | os.PathLike[str] | None,
    device: str,
    base: PredictorNet | None,
) -> _SeedJob:
    """Seed ``seed``'s job, starting from ``base`` (sent as its config and CPU weights)."""
    return _SeedJob(
        config,
        seed,
        None if data_dir is None else os.fspath(data_dir),
        device,
        None if base is None else base.config(),
        None if base is None else {k: v.cpu() for k, v in base.state_dict().items()},
    )


def _run_job(job: _SeedJob) -> dict[str, Any]:
    # the executor runs this with the caller's torch thread count (run_search's ``threads``)
    oracle = load_oracle(job.config.family, job.config.dataset, job.data_dir)
    space = SearchSpace.from_oracle(oracle, job.config.budget)
    base = None
    if job.model_config is not None and job.model_state is not None:
        base = PredictorNet.from_config(job.model_config)
        base.load_state_dict(job.model_state)
        base.eval()
    return run_seed(job.config, job.seed, space, base, job.device)


def _source_models(
    config: SearchConfig,
    seeds: list[int],
    data_dir: str | os.PathLike[str] | None,
    device: str,
    progress: bool,
) -> dict[int | None, tuple[PredictorNet, dict[str, Any]]]:
    """The models ``seeds`` start from and their metadata, by source seed, each built once.

    Keyed by ``config.source_seed`` (None: the checkpoint); empty without predictor.
    """
    if not config.uses_predictor:
        return {}
    return {
        source_seed: source_predictor(
            config.family,
            checkpoint=config.checkpoint,
            source_seed=source_seed or 0,  # None: the checkpoint, which ignores it
            quick=config.quick,
            source_cells=config.source_cells,
            source_epochs=config.source_epochs,
            data_dir=data_dir,
            device=device,
            progress=progress,
        )
        for source_seed in dict.fromkeys(config.source_seed(seed) for seed in seeds)
    }


def _finished(
    out: str | os.PathLike[str] | None,
    digest: str,
    code: str,
    force: bool,
    seeds: int,
) -> list[dict[str, Any]]:
    """The runs of ``out`` that a rerun resumes (``load_finished``'s, its errors re-raised).

    Only seeds ``0 .. seeds - 1`` (``--seeds N``): the file's later seeds are left out of the
    result, as ``cgnas evaluate`` leaves out the seeds it was not asked for. ``digest`` covers
    the settings and the label table (``_resume_key``), so runs of another table are not
    resumed, as those of another configuration are not: every seed is recomputed and the file
    overwritten.

    Raises:
        SearchStateError: ``out`` cannot be read, or holds runs of this configuration
            computed by other code (and not ``force``).
    """
    try:
        return load_finished(out, digest, code=code, force=force, seeds=range(seeds))
    except (InvalidArgumentError, StaleResultError) as exc:  # refuse, not overwrite, its work
        raise SearchStateError(str(exc)) from exc


def _resume_key(settings: dict[str, Any], oracle: Oracle) -> str:
    """The results file's ``config_hash``: a hash of the settings and of the label table.

    The table is part of the key because NB-201 CIFAR-10 falls back to AnalogNAS-Bench's labels
    where no data folder holds the NB-201 table: the same settings, labelled by another table,
    are another search.
    """
    return config_hash({**settings, "table_digest": oracle.table_digest})


def run_search(
    config: SearchConfig,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    backend: str = "local",
    workers: int = 1,
    address: str | None = None,
    device: str = "cpu",
    threads: int | None = 1,
    progress: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Run ``config`` for every seed and return (and write to ``out``) the results document.

    Args:
        config: the search.
        data_dir: benchmark data (default ``$CGNAS_DATA_DIR``).
        out: results JSON, rewritten after every seed; finished seeds of the same
            configuration, code and label table are read back and skipped; a file of the same
            configuration written by other code is refused unless ``force``.
        backend: ``"local"`` or ``"ray"`` (``cg_ir.executor``); seeds run in parallel.
        workers: parallel workers (local processes or Ray CPUs); 1 runs in this process.
        address: a Ray cluster to join (``"auto"``, ``"ray://host:10001"``); None starts one.
        device: torch device of the predictor.
        threads: torch CPU threads while searching, in this process and in every worker
            (restored afterwards); None leaves the setting alone. One is the default: these
            graphs are small, and on a loaded 2-core machine two threads made fine-tuning
            over 20x slower.
        progress: a progress bar over seeds.
        force: recompute every seed of an ``out`` written by other code (and overwrite it)
            instead of refusing it.

    Raises:
        InvalidSearchError, NoCandidatesError: unusable settings or budget.
        TargetLeakError: the checkpoint saw the family's labels.
        BenchmarkDataError: the oracle's table is missing.
        SearchStateError: ``out`` exists but cannot be read (truncated, not JSON), or holds
            runs of this configuration computed by other code (and not ``force``).
    """
    with torch_threads(threads):
        return _search(config, data_dir, out, backend, workers, address, device, progress, force)


def _search(
    config: SearchConfig,
    data_dir: str | os.PathLike[str] | None,
    out: str | os.PathLike[str] | None,
    backend: str,
    workers: int,
    address: str | None,
    device: str,
    progress: bool,
    force: bool,
) -> dict[str, Any]:
    start = time.perf_counter()
    oracle = load_oracle(config.family, config.dataset, data_dir)
    space = SearchSpace.from_oracle(oracle, config.budget, progress=progress)
    if config.queries > space.num_classes:
        raise InvalidSearchError(
            f"{config.queries} queries exceed the {space.num_classes} distinct networks under "
            f"the budget ({space.budget.describe()}); ask for at most {space.num_classes}"
        )
    settings = config.to_dict()
    digest, code = _resume_key(settings, oracle), code_digest(*SEARCH_CODE)
    finished = _finished(out, digest, code, force, config.seeds)
    runs = sorted(finished, key=lambda r: r["seed"])
    done = {r["seed"] for r in runs}
    sources = _source_models(config, list(range(config.seeds)), data_dir, device, progress)

    def base(seed: int) -> PredictorNet | None:
        source = sources.get(config.source_seed(seed))
        return None if source is None else source[0]

    def document() -> dict[str, Any]:
        ordered = sorted(runs, key=lambda r: r["seed"])
        used = {r["source_seed"] for r in ordered}
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": settings,
            "config_hash": digest,
            "code_digest": code,
            "table_digest": oracle.table_digest,
            "space": _space_record(oracle, space),
            "runs": ordered,
            "summary": summarize(ordered, config.queries) if ordered else None,
            "provenance": _provenance(
                oracle,
                _source_record({s: meta for s, (_, meta) in sources.items() if s in used}),
                [r["seed"] for r in ordered],
                backend,
                device,
                time.perf_counter() - start,
            ),
        }

    todo = [s for s in range(config.seeds) if s not in done]
    bar = tqdm(total=config.seeds, initial=len(done), disable=not progress, desc=config.strategy)

    def keep(record: dict[str, Any]) -> None:
        """Add a finished seed's run, with the source model it started from."""
        runs.append({**record, "source_seed": config.source_seed(record["seed"])})
        bar.update()

    if workers <= 1 and backend == "local":
        for seed in todo:
            keep(run_seed(config, seed, space, base(seed), device))
            if out is not None:
                write_json(out, document())
    elif todo:
        jobs = [_seed_job(config, seed, data_dir, device, base(seed)) for seed in todo]
        with get_executor(backend, workers, address) as executor:
            # one round of ``workers`` seeds at a time, so finished rounds are saved (resuming)
            for begin in range(0, len(jobs), max(1, workers)):
                for record in executor.map(_run_job, jobs[begin : begin + max(1, workers)]):
                    keep(record)
                if out is not None:
                    write_json(out, document())
    bar.close()
    result = document()
    if out is not None:
        write_json(out, result)
    return result
