"""How ``reproduce`` runs several experiments: in order or in workers, and its ``summary.json``.

Outside ``Experiment.identity_code`` (``cg_ir.experiments._framework`` runs, reuses and records
each experiment): scheduling decides when and in which process an experiment runs, not what it
computes, so a change here stales no result.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cg_ir._atomic import write_json
from cg_ir.errors import InvalidSpecError
from cg_ir.experiments._framework import (
    Experiment,
    ExperimentRecord,
    ReproduceConfig,
    _run_one,
    _selected,
    registered_experiments,
)

SUMMARY = "summary.json"


def _run_reported(
    experiment: Experiment, config: ReproduceConfig, workers: int = 1
) -> ExperimentRecord:
    """``_run_one`` with a line before and after (``config.progress``)."""
    if config.progress:
        print(f"[{experiment.name}] {experiment.title} ...", flush=True)
    record = _run_one(experiment, config, workers)
    if config.progress:
        detail = f": {record.message}" if record.message else ""
        print(f"[{experiment.name}] {record.status} ({record.seconds:.0f} s){detail}", flush=True)
    return record


def _chains(experiments: Sequence[Experiment], mode: str) -> list[list[Experiment]]:
    """``experiments`` as chains run one after the other, each after the one it ``follows``.

    An experiment whose ``follows`` is not among ``experiments`` starts a chain. Chains come
    longest expected (``mode``'s minutes) first, ties in the given order; with several
    workers each chain runs in one worker.

    Raises:
        InvalidSpecError: experiments that follow one another in a cycle.
    """
    by_name = {e.name: e for e in experiments}

    def predecessors(experiment: Experiment) -> list[str]:
        seen = [experiment.name]
        while experiment.follows in by_name:
            experiment = by_name[experiment.follows]
            if experiment.name in seen:
                raise InvalidSpecError(f"experiments follow one another in a cycle: {seen}")
            seen.append(experiment.name)
        return seen[1:]

    chains: dict[str, list[Experiment]] = {}
    for experiment in sorted(experiments, key=lambda e: len(predecessors(e))):
        chains.setdefault((predecessors(experiment) or [experiment.name])[-1], []).append(
            experiment
        )
    return sorted(chains.values(), key=lambda chain: -sum(e.minutes(mode) for e in chain))


def _run_chain(chain: Sequence[Experiment], config: ReproduceConfig) -> list[ExperimentRecord]:
    return [_run_reported(experiment, config) for experiment in chain]


def _run_in_workers(
    experiments: Sequence[Experiment], config: ReproduceConfig
) -> list[ExperimentRecord]:
    """Run ``experiments`` in ``config.workers`` processes, longest expected chain first.

    A worker takes the next chain (``_chains``: an experiment and those that follow it) when it
    finishes one, so starting with the longest keeps the workers busy until about the same
    time. Each runs with an equal share of the cores as torch threads; the records come back
    in ``experiments``' order.
    """
    from cg_ir.executor import LocalExecutor, torch_threads

    threads = max(1, (os.cpu_count() or 1) // config.workers)
    task = functools.partial(_run_chain, config=config)
    with torch_threads(threads), LocalExecutor(config.workers, chunksize=1) as executor:
        chains = executor.map(task, _chains(experiments, config.mode))
    by_name = {record.name: record for chain in chains for record in chain}
    return [by_name[experiment.name] for experiment in experiments]


def reproduce(
    experiments: Sequence[Experiment] | None, config: ReproduceConfig
) -> list[ExperimentRecord]:
    """Run ``experiments`` (default: every registered one) as ``config`` says.

    Writes each experiment's folder under ``config.out`` and ``summary.json`` beside them:
    the latest record of every experiment run into that folder in this mode (``_summary``),
    so that ``--only`` adds to it. One experiment's failure or missing data does not stop the
    others; the caller decides what a skip or a failure means (``cgnas reproduce`` exits 2 on a
    failure, and on a skip with ``--strict``).

    Raises:
        InvalidSpecError: ``config.only`` names an experiment that is not registered.
    """
    chosen = _selected(
        registered_experiments() if experiments is None else experiments, config.only
    )
    if config.mode == "full" and config.progress:
        minutes = sum(e.full_minutes for e in chosen)
        print(f"reproduce --full: {len(chosen)} experiments, about {minutes:.0f} CPU-minutes")
    if len(chosen) == 1:  # alone: it has every worker for its own fan-out
        records = [_run_reported(chosen[0], config, config.workers)]
    elif config.workers == 1:  # in the given order, each after the one it follows
        first = {e.name: i for i, e in enumerate(chosen)}
        chains = sorted(_chains(chosen, config.mode), key=lambda chain: first[chain[0].name])
        ran = {e.name: _run_reported(e, config) for chain in chains for e in chain}
        records = [ran[e.name] for e in chosen]
    else:
        records = _run_in_workers(chosen, config)
    summary = Path(config.out) / SUMMARY
    write_json(summary, {"mode": config.mode, "records": _summary(summary, config.mode, records)})
    return records


def _summary(path: Path, mode: str, records: Sequence[ExperimentRecord]) -> list[Mapping[str, Any]]:
    """``records`` merged into the summary at ``path``: each replaces its experiment's record.

    The earlier records of experiments not run now stay, in their place (a run of ``--only``
    would otherwise leave a summary of those alone); new experiments come last. A summary of
    the other mode, or one that cannot be read, is replaced.
    """
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}
    earlier = (
        saved.get("records", []) if isinstance(saved, dict) and saved.get("mode") == mode else []
    )
    new: dict[str, Mapping[str, Any]] = {r.name: asdict(r) for r in records}
    merged = [new.pop(r["name"], r) for r in earlier if isinstance(r, dict) and "name" in r]
    return merged + list(new.values())
