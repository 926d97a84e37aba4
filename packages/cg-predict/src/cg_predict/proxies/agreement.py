"""How well our live proxies agree with NAS-Bench-Suite-Zero's precomputed ones, per target.

A target is one file and dataset of NAS-Bench-Suite-Zero (``TARGETS``: NB-101, NB-201 on
CIFAR-10, CIFAR-100 and ImageNet16-120, NB-301); cg-ir's family of the same name builds each
cell's network. The proxies NAS-Bench-Suite-Zero never scored (``zico``, ``meco``, ``swap``, ...:
all but ``SUITE_ZERO_PROXIES``) have no reference there: they are compared with the accuracy
only. When AZ-NAS's components and ``flops`` are all computed, the summary also holds
``az_nas``, their aggregate over the sampled cells (``az_nas_aggregate``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import platform
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from cg_ir import families, write_json
from cg_ir.executor import Executor, LocalExecutor
from cg_ir.provenance import code_digest
from cg_predict.data import ArchRecord, load_zc_nasbench
from cg_predict.errors import InvalidArgumentError, StaleResultError
from cg_predict.metrics import spearman
from cg_predict.proxies._batch import DEFAULT_INPUT, resolve_input
from cg_predict.proxies._cache import ProxyCache, ProxyScore
from cg_predict.proxies._compute import DEFAULT_BATCH_SIZE, PROXY_CODE, compute_proxies
from cg_predict.proxies._registry import PROXY_VERSION, resolve_names
from cg_predict.proxies.aggregate import AZ_NAS_COMPONENTS, az_nas_aggregate

__all__ = [
    "SUITE_ZERO_PROXIES",
    "TARGETS",
    "cell_proxies",
    "init_seed",
    "map_cell_proxies",
    "proxy_agreement",
    "sample_keys",
]

_MIN_PAIRS = 3

TARGETS: tuple[tuple[str, str], ...] = (
    ("nb101", "cifar10"),
    ("nb201", "cifar10"),
    ("nb201", "cifar100"),
    ("nb201", "ImageNet16-120"),
    ("nb301", "cifar10"),
)
"""``(family, dataset)`` of every NAS-Bench-Suite-Zero table that ``proxy_agreement`` reads."""

SUITE_ZERO_PROXIES: tuple[str, ...] = (
    "synflow",
    "jacov",
    "snip",
    "grasp",
    "fisher",
    "grad_norm",
    "nwot",
    "flops",
    "params",
)
"""The proxies of ``ALL`` that NAS-Bench-Suite-Zero scored too (all but ``nwot`` on NB-101)."""


def init_seed(seed: int, key: str) -> int:
    """The torch seed that initialises the weights of architecture ``key`` under ``seed``.

    Derived from both, so a cell gets the same weights whichever sample or order it comes in.
    """
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:4], "big")


def sample_keys(keys: Sequence[str], n_cells: int, seed: int) -> list[str]:
    """A seeded sample of ``n_cells`` of ``keys``: those first in the order of a keyed hash.

    A key's place depends on the key and ``seed`` only, so the NB-201 tables of the three
    datasets (724, 725 and 724 cells, nearly the same ones) give nearly the same sample (whose
    scores a proxy cache then computes once), and a smaller sample is part of a larger one.

    Examples:
        >>> keys = [str(i) for i in range(10)]
        >>> small, large = sample_keys(keys, 3, 0), sample_keys(keys, 6, 0)
        >>> len(small), set(small) <= set(large), small == sample_keys(keys[::-1], 3, 0)
        (3, True, True)
    """
    return sorted(keys, key=lambda key: hashlib.sha256(f"{seed}/{key}".encode()).digest())[:n_cells]


def cell_proxies(
    family_name: str,
    key: str,
    names: Iterable[str],
    *,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    synthetic_input: str = DEFAULT_INPUT,
    device: str = "cpu",
    cache: ProxyCache | None = None,
) -> dict[str, ProxyScore]:
    """Proxies of one benchmark cell: cg-ir's module, weights from ``init_seed(seed, key)``.

    The batch is the synthetic one of ``seed`` and ``synthetic_input``; the graph is the
    family's fast-path graph.

    Examples:
        >>> s = cell_proxies("nb201", "(0, 2, 3, 2, 3, 1)", ["params"])
        >>> s["params"].value > 0
        True
    """
    family = families.get(family_name)
    spec = family.parse(key)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed(seed, key))
        module = family.to_module(spec)
    return compute_proxies(
        module,
        family.input_shape(spec),
        names,
        batch_size=batch_size,
        seed=seed,
        synthetic_input=synthetic_input,
        device=device,
        graph=family.to_cg(spec),
        cache=cache,
    )


def map_cell_proxies(
    family_name: str,
    keys: Sequence[str],
    names: Iterable[str],
    *,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    synthetic_input: str = DEFAULT_INPUT,
    device: str = "cpu",
    cache: ProxyCache | None = None,
    executor: Executor | None = None,
    progress: bool = False,
    desc: str | None = None,
) -> list[dict[str, ProxyScore]]:
    """``[cell_proxies(family_name, key, names, ...) for key in keys]``, through ``executor``.

    Without an executor (or with one that runs in this process) this is exactly that loop,
    ``cache`` consulted and saved cell by cell. With one that runs elsewhere (worker processes,
    Ray; see ``cg_ir.executor``) the cache stays in this process: each cell's cache keys are
    looked up here first (which builds the cell's module, but computes no proxy), only cells
    with a missing score are sent out, each with its known scores, and what they compute is
    stored in ``cache`` (saved once) when the results are back. The scores are the same either
    way, ``cached`` flags and ``seconds`` included; torch runs with the caller's thread count.

    Args:
        family_name: a cg-ir family, findable by name where the executor runs.
        keys: the cells' keys.
        names: proxies to compute (see ``compute_proxies``).
        seed: the weights' seed (``init_seed``) and the synthetic batch's.
        batch_size: examples of the synthetic batch.
        synthetic_input: how its images are drawn (``SYNTHETIC_INPUTS``).
        device: where the proxies run (in the executor's workers).
        cache: a proxy cache consulted and filled.
        executor: where to compute (None: in this process).
        progress: show a progress bar.
        desc: the progress bar's label.

    Returns:
        ``{name: ProxyScore}`` of each cell, in the order of ``keys``.

    Examples:
        >>> from cg_ir.executor import LocalExecutor
        >>> keys = ["(0, 2, 3, 2, 3, 1)", "(1, 1, 1, 1, 1, 1)"]
        >>> with LocalExecutor() as executor:
        ...     scores = map_cell_proxies("nb201", keys, ["params"], executor=executor)
        >>> [s["params"].value for s in scores] == [
        ...     cell_proxies("nb201", key, ["params"])["params"].value for key in keys
        ... ]
        True
    """
    wanted = resolve_names(names)
    if executor is None or executor.in_process:
        one = functools.partial(
            cell_proxies,
            family_name,
            names=wanted,
            seed=seed,
            batch_size=batch_size,
            synthetic_input=synthetic_input,
            device=device,
            cache=cache,
        )
        return (executor or LocalExecutor()).map(one, keys, progress=progress, desc=desc)

    results: list[dict[str, ProxyScore]] = [{} for _ in keys]
    jobs: list[_CellJob] = []
    sent: dict[str, int] = {}  # key -> its job
    repeats: list[tuple[int, int]] = []  # (cell, job): a key met again reads the first's scores
    for i, key in enumerate(keys):
        if cache is not None and key in sent:
            repeats.append((i, sent[key]))
            continue
        known: dict[str, ProxyScore] | None = None
        if cache is not None:
            probe = _ProbeCache(cache)
            scores = cell_proxies(
                family_name,
                key,
                wanted,
                seed=seed,
                batch_size=batch_size,
                synthetic_input=synthetic_input,
                device=device,
                cache=probe,
            )
            if not probe.missed:
                results[i] = scores
                continue
            known = probe.hits
        sent[key] = len(jobs)
        jobs.append(
            _CellJob(family_name, key, wanted, seed, batch_size, synthetic_input, device, known, i)
        )
    done = executor.map(_cell_job, jobs, progress=progress, desc=desc)
    for job, (scores, new) in zip(jobs, done, strict=True):
        results[job.position] = scores
        for cache_key, score in new.items():
            assert cache is not None  # only a cache's cells have entries to store
            cache.put(cache_key, score)
    for i, j in repeats:
        results[i] = {name: score._replace(cached=True) for name, score in done[j][0].items()}
    if cache is not None:
        cache.save()
    return results


class _CellJob(NamedTuple):
    """One cell's proxies for a worker: its arguments and the cache entries known for it."""

    family: str
    key: str
    names: tuple[str, ...]
    seed: int
    batch_size: int
    synthetic_input: str
    device: str
    known: dict[str, ProxyScore] | None  # None: no cache
    position: int  # the cell's place in the caller's list


def _cell_job(job: _CellJob) -> tuple[dict[str, ProxyScore], dict[str, ProxyScore]]:
    """In a worker: the cell's scores and the new cache entries (those not ``known``)."""
    cache = None if job.known is None else _MemoryCache(job.known)
    scores = cell_proxies(
        job.family,
        job.key,
        job.names,
        seed=job.seed,
        batch_size=job.batch_size,
        synthetic_input=job.synthetic_input,
        device=job.device,
        cache=cache,
    )
    return scores, {} if cache is None else cache.new_entries()


_UNKNOWN = ProxyScore(math.nan, 0.0, cached=True)


class _ProbeCache(ProxyCache):
    """Looks a cell's keys up in ``source`` and computes nothing.

    A miss is answered with a placeholder marked ``cached`` (``compute_proxies`` then neither
    runs that proxy nor stores it) and noted in ``missed``; hits are collected in ``hits``.
    """

    def __init__(self, source: ProxyCache) -> None:
        self.path = source.path
        self._entries: dict[str, ProxyScore] = {}
        self._dirty: dict[str, ProxyScore] = {}
        self._source = source
        self.hits: dict[str, ProxyScore] = {}
        self.missed = False

    def get(self, key: str) -> ProxyScore | None:
        """The source's score of ``key``, else a placeholder (and ``missed`` is set)."""
        score = self._source.get(key)
        if score is None:
            self.missed = True
            return _UNKNOWN
        self.hits[key] = score
        return score

    def put(self, key: str, score: ProxyScore) -> None:
        """Nothing: a probe stores nothing."""

    def save(self) -> None:
        """Nothing: a probe stores nothing."""


class _MemoryCache(ProxyCache):
    """A cache in memory, holding ``entries``; ``save`` writes nothing (the caller stores)."""

    def __init__(self, entries: dict[str, ProxyScore]) -> None:
        self.path = Path(os.devnull)
        self._entries = dict(entries)
        self._dirty = {}

    def save(self) -> None:
        """Nothing: the new entries go back to the caller (``new_entries``)."""

    def new_entries(self) -> dict[str, ProxyScore]:
        """The entries put since creation."""
        return dict(self._dirty)


def proxy_agreement(
    n_cells: int = 100,
    seed: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    family: str = "nb201",
    dataset: str = "cifar10",
    names: Iterable[str] = SUITE_ZERO_PROXIES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    synthetic_input: str = DEFAULT_INPUT,
    device: str = "cpu",
    out: str | os.PathLike[str] | None = None,
    cache: ProxyCache | None = None,
    progress: bool = False,
    executor: Executor | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Our proxies vs. NAS-Bench-Suite-Zero's on a seeded sample of one target's cells.

    ``n_cells`` cells of the target's table (``family``, ``dataset``: one of ``TARGETS``) are
    drawn by ``sample_keys(keys, n_cells, seed)``; each one's network is built by cg-ir's family
    of that name with weights initialised from ``init_seed(seed, key)`` (PyTorch's default
    initialisers, in a forked RNG) and scored by ``compute_proxies`` on one synthetic batch
    (``batch_size`` images drawn by ``synthetic_input``, seed ``seed``) shared by all cells.
    cg-ir's networks have 10 classes and 32x32 inputs whatever the dataset (NB-201 on
    CIFAR-100 and ImageNet16-120 included). NAS-Bench-Suite-Zero computed theirs on a real
    training batch of 32 with NASLib's (unpruned) networks, the dataset's classes and
    resolution, and other weights, so the agreement measures rank agreement across those
    differences, not equality.

    Args:
        n_cells: cells to score (at most the table's: 500 NB-101, 724/725 NB-201, 725 NB-301).
        seed: the sample, the weights and the batch.
        data_dir: the data directory (default ``$CGNAS_DATA_DIR``).
        family: ``nb101``, ``nb201`` or ``nb301``.
        dataset: the family's dataset: ``cifar10``, or for NB-201 also ``cifar100`` and
            ``ImageNet16-120`` (labels and their scores).
        names: proxies to compare (default: the nine of ``SUITE_ZERO_PROXIES``); those of
            them the file lacks (``nwot`` on NB-101) are left out; the others of ``ALL``, which
            NAS-Bench-Suite-Zero never scored, are kept without a reference (``"reference":
            False``, NaN ``srcc_ours_theirs`` and ``srcc_theirs_acc``).
        batch_size: examples of the synthetic batch.
        synthetic_input: how its images are drawn (``SYNTHETIC_INPUTS``).
        device: where the proxies run.
        out: a JSON file written atomically after every cell; if it exists with the same
            settings and code (its ``code_digest``, of ``PROXY_CODE``), its cells are reused
            (the run resumes).
        cache: a proxy cache consulted and filled along the way.
        progress: show a progress bar.
        executor: computes the cells' proxies elsewhere (worker processes, Ray: see
            ``cg_ir.executor`` and ``map_cell_proxies``); ``out`` and ``cache`` are then
            written when all cells are back. None: in this process, cell by cell.
        force: recompute the cells of an ``out`` written by other code (overwriting it)
            instead of refusing it.

    Returns:
        ``{"config": ..., "source": file, "proxies": {name: {"reference", "srcc_ours_theirs",
        "srcc_ours_acc", "srcc_theirs_acc", "mean_seconds", "their_mean_seconds", "n"}},
        "cells": {key: {"label", "ours": {name: {"value", "seconds"}}, "theirs": {name: value},
        "their_seconds": {name: seconds}}}}`` (``their_mean_seconds``: the times stored in the
        file, measured on NAS-Bench-Suite-Zero's hardware).
        Spearman correlations are signed; cells where either side is NaN (ours only, for a
        proxy without reference) are left out of that proxy's correlations (``n`` says how many
        remain). Non-finite values are written to
        ``out`` as the strings ``"inf"``, ``"-inf"``, ``"nan"``.

    Raises:
        InvalidArgumentError: an unknown target or synthetic input, ``n_cells`` out of range,
            or ``out`` holds a run with other settings (the message shows both).
        StaleResultError: ``out`` holds a run of other code (and not ``force``).
    """
    table = load_zc_nasbench(family, dataset, data_dir)
    wanted = tuple(
        n for n in resolve_names(names) if n in table.proxy_names or n not in SUITE_ZERO_PROXIES
    )
    resolve_input(synthetic_input)
    if not 2 <= n_cells <= len(table):
        raise InvalidArgumentError(
            f"n_cells must be between 2 and {len(table)} (the cells of {table.source}), "
            f"got {n_cells}"
        )
    by_key = {record.key: record for record in (table[i] for i in range(len(table)))}
    records = [by_key[key] for key in sample_keys(list(by_key), n_cells, seed)]
    config = {
        "family": family,
        "dataset": dataset,
        "n_cells": n_cells,
        "seed": seed,
        "names": list(wanted),
        "synthetic_input": synthetic_input,
        "batch": f"synthetic {synthetic_input!r}: {batch_size} images, uniform labels, seed {seed}",
        "batch_size": batch_size,
        "device": device,
        "proxy_version": PROXY_VERSION,
    }
    code = code_digest(*PROXY_CODE)
    cells = _resume(Path(out), config, code, force) if out is not None else {}
    from tqdm.auto import tqdm

    todo = [r for r in records if r.key not in cells]
    if executor is not None and not executor.in_process:
        every = map_cell_proxies(
            family,
            [r.key for r in todo],
            wanted,
            seed=seed,
            batch_size=batch_size,
            synthetic_input=synthetic_input,
            device=device,
            cache=cache,
            executor=executor,
            progress=progress,
            desc="proxies",
        )
        for record, scores in zip(todo, every, strict=True):
            cells[record.key] = _cell_entry(record, scores, wanted)
        todo = []
    for record in tqdm(todo, desc="proxies", unit="net", disable=not progress):
        scores = cell_proxies(
            family,
            record.key,
            wanted,
            seed=seed,
            batch_size=batch_size,
            synthetic_input=synthetic_input,
            device=device,
            cache=cache,
        )
        cells[record.key] = _cell_entry(record, scores, wanted)
        if out is not None:
            _write(Path(out), {"config": config, "code_digest": code, "cells": cells})
    ordered = {r.key: cells[r.key] for r in records}
    result = {
        "config": config,
        "code_digest": code,
        "source": str(table.source),
        "proxies": _summary(ordered, wanted),
        "cells": ordered,
    }
    if out is not None:
        _write(Path(out), result)
    return result


def _cell_entry(
    record: ArchRecord, scores: dict[str, ProxyScore], names: tuple[str, ...]
) -> dict[str, Any]:
    return {
        "label": record.label,
        "ours": {n: {"value": s.value, "seconds": s.seconds} for n, s in scores.items()},
        "theirs": {n: record.proxies.get(n, math.nan) for n in names},
        "their_seconds": {n: record.extra.get(f"{n}_time", math.nan) for n in names},
    }


def _summary(cells: dict[str, Any], names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    labels = np.array([c["label"] for c in cells.values()], dtype=np.float64)
    summary = {}
    for name in names:
        ours = np.array([c["ours"][name]["value"] for c in cells.values()], dtype=np.float64)
        theirs = np.array([c["theirs"][name] for c in cells.values()], dtype=np.float64)
        seconds = [c["ours"][name]["seconds"] for c in cells.values()]
        their_seconds = [c["their_seconds"][name] for c in cells.values()]
        reference = not np.isnan(theirs).all()
        keep = ~(np.isnan(ours) | np.isnan(theirs)) if reference else ~np.isnan(ours)
        summary[name] = {
            "reference": reference,
            "srcc_ours_theirs": _srcc(ours[keep], theirs[keep]) if reference else math.nan,
            "srcc_ours_acc": _srcc(ours[keep], labels[keep]),
            "srcc_theirs_acc": _srcc(theirs[keep], labels[keep]) if reference else math.nan,
            "mean_seconds": float(np.mean(seconds)),
            "their_mean_seconds": _mean_known(their_seconds),
            "n": int(keep.sum()),
        }
    if set(AZ_NAS_COMPONENTS) <= set(names):
        summary["az_nas"] = _aggregate_summary(cells, labels)
    return summary


def _aggregate_summary(cells: dict[str, Any], labels: np.ndarray) -> dict[str, Any]:
    """AZ-NAS's aggregate over the cells where every component was computed, as a proxy row."""
    table = {
        name: np.array([c["ours"][name]["value"] for c in cells.values()], dtype=np.float64)
        for name in AZ_NAS_COMPONENTS
    }
    keep = ~np.any([np.isnan(column) for column in table.values()], axis=0)
    aggregate = np.asarray(az_nas_aggregate({n: v[keep] for n, v in table.items()}))
    seconds = [sum(c["ours"][n]["seconds"] for n in AZ_NAS_COMPONENTS) for c in cells.values()]
    return {
        "reference": False,
        "srcc_ours_theirs": math.nan,
        "srcc_ours_acc": _srcc(aggregate, labels[keep]),
        "srcc_theirs_acc": math.nan,
        "mean_seconds": float(np.mean(seconds)),
        "their_mean_seconds": math.nan,
        "n": int(keep.sum()),
    }


def _mean_known(values: list[float]) -> float:
    """The mean of the values that are not NaN; NaN if none (NB-101's file stores no times)."""
    known = [v for v in values if not math.isnan(v)]
    return float(np.mean(known)) if known else math.nan


def _srcc(a: np.ndarray, b: np.ndarray) -> float:
    return spearman(b, a) if a.size >= _MIN_PAIRS else math.nan


def _resume(path: Path, config: dict[str, Any], code: str, force: bool) -> dict[str, Any]:
    """The finished cells of ``path``: of these settings and this code (``code``) only."""
    if not path.exists():
        return {}
    saved = _decode(json.loads(path.read_text(encoding="utf-8")))
    if saved.get("config") != config:
        raise InvalidArgumentError(
            f"{path} holds a run with other settings ({saved.get('config')}) than this one "
            f"({config}); delete it or write to another file"
        )
    stored = saved.get("code_digest")
    if stored != code:
        if force:
            return {}
        raise StaleResultError(path, stored if isinstance(stored, str) else None, code)
    return dict(saved.get("cells", {}))


def _encode(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _write(path: Path, payload: dict[str, Any]) -> None:
    payload = {
        **payload,
        "environment": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "threads": torch.get_num_threads(),
        },
    }
    write_json(path, _encode(payload))
