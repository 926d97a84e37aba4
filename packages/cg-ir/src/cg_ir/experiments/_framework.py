"""How ``cgnas reproduce`` runs, reuses, skips and records one experiment (``cg_ir.experiments``).

Its own module, so that an experiment's identity covers this machinery and the experiment's
module (``Experiment.identity_code``), not every experiment that cg-ir registers, nor how
``reproduce`` schedules several and summarises them (``cg_ir.experiments._reproduce``): a
result depends on how it was run and recorded, not on which worker ran it when.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path
from typing import Any

from cg_ir._atomic import atomic_output, write_json
from cg_ir.errors import CgError, InvalidSpecError
from cg_ir.executor import BACKENDS, Executor
from cg_ir.provenance import code_digest, file_sha256

EXPERIMENT_GROUP = "cgnas.experiments"
MODES = ("quick", "full")
PROVENANCE = "provenance.json"
_DISTRIBUTIONS = ("cg-ir", "cg-predict", "cg-contrast", "cg-evo", "torch", "numpy")

Headline = Mapping[str, Any]


def _no_data(data_dir: Path | None) -> Mapping[str, Path]:
    """An experiment that reads no benchmark file (a module-level function: picklable)."""
    return {}


@dataclass(frozen=True)
class Experiment:
    """One experiment of the paper (or of cg-nas), as ``reproduce`` runs it.

    Attributes:
        name: the folder and ``--only`` name (lower case, dashes).
        title: one line for the summary table.
        run: ``run(ctx)`` computes, writes its files through ``ctx`` and returns its headline
            numbers (JSON-able; shown in the summary).
        code: packages or modules whose code digest keys the results (``code_digest``).
        data: ``data(data_dir)`` returns the benchmark files the run reads, checked to exist
            (``{name: path}``, checksummed into the provenance); it raises a
            ``FileNotFoundError`` naming the missing file and where to get it when one is
            absent, and the experiment is skipped. Default: none.
        order: experiments run by increasing ``order`` (cheap, basic ones first), then name.
        full_minutes: the expected CPU minutes of full mode, printed before a full run.
        quick_minutes: the expected CPU minutes of quick mode. With several workers the
            longest expected experiments start first, so the work ends about together.
        follows: the experiment this one runs after when both are selected, in the same
            worker: one that fills a cache this one reads (run side by side, both would
            compute the same values at the same time). None: no such experiment.
    """

    name: str
    title: str
    run: Callable[[RunContext], Headline]
    code: tuple[str, ...]
    data: Callable[[Path | None], Mapping[str, Path]] = _no_data
    order: int = 100
    full_minutes: float = 0.0
    quick_minutes: float = 0.0
    follows: str | None = None

    def minutes(self, mode: str) -> float:
        """The expected CPU minutes of ``mode``."""
        return self.full_minutes if mode == "full" else self.quick_minutes

    @property
    def identity_code(self) -> tuple[str, ...]:
        """What the results' code digest covers: ``code``, this module and ``run``'s module.

        The code digest of a package leaves out its ``experiments`` module (a front end,
        ``cg_ir.provenance``), so that a new table layout does not stale the cached results
        that module only arranges; the experiment's own results still depend on it. So an
        ``experiments`` module may compute what only its experiment's folder holds (a
        figure's fine-tuning), never a value cached elsewhere under a package digest.
        """
        return (*self.code, __name__, self.run.__module__)


@dataclass(frozen=True)
class ReproduceConfig:
    """What ``reproduce`` runs and how.

    Attributes:
        out: the results folder (one sub-folder per experiment, and ``summary.json``).
        mode: ``"quick"`` (CI: few seeds, small budgets) or ``"full"`` (paper scale).
        only: run these experiments alone (``()``: all).
        strict: a skipped experiment (missing data) is a failure, as in CI.
        force: rerun finished experiments even when their provenance matches.
        data_dir: the benchmark data folder (None: ``$CGNAS_DATA_DIR``).
        backend: ``"local"`` or ``"ray"`` (``cg_ir.executor``), for experiments that fan out.
        device: torch device.
        progress: progress bars and one line per experiment.
        workers: worker processes. With several experiments, that many run at once, each in
            its own process with an equal share of the CPU cores for torch (1: one after the
            other in this process). One experiment alone runs in this process and may fan its
            own work out to them (``RunContext.workers``).
    """

    out: str | os.PathLike[str]
    mode: str = "quick"
    only: tuple[str, ...] = ()
    strict: bool = False
    force: bool = False
    data_dir: str | os.PathLike[str] | None = None
    backend: str = "local"
    device: str = "cpu"
    progress: bool = True
    workers: int = 1

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise InvalidSpecError(f"workers must be at least 1, got {self.workers}")
        if self.mode not in MODES:
            raise InvalidSpecError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.backend not in BACKENDS:
            raise InvalidSpecError(f"backend {self.backend!r} is not one of {', '.join(BACKENDS)}")


@dataclass
class RunContext:
    """What an experiment's ``run`` gets: its folder, the mode, and the one way to write files.

    Every file is written atomically (a reader never sees half of one) and recorded, so the
    provenance lists what the run produced. ``workers`` is how many processes the experiment
    may fan its own work out to on ``backend`` (``cg_ir.executor.get_executor``): all of
    ``ReproduceConfig.workers`` when it runs alone, else 1.
    """

    folder: Path
    mode: str
    data_dir: Path | None
    backend: str
    device: str
    progress: bool
    workers: int = 1
    files: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)

    @property
    def quick(self) -> bool:
        """Whether this is the quick (CI) mode."""
        return self.mode == "quick"

    @contextmanager
    def executor(self) -> Iterator[Executor]:
        """An executor of ``backend`` with ``workers`` processes, closed after the block.

        Calls outside this process run with an equal share of the CPU cores as torch threads.
        """
        from cg_ir.executor import get_executor, torch_threads

        threads = max(1, (os.cpu_count() or 1) // self.workers) if self.workers > 1 else None
        with torch_threads(threads), get_executor(self.backend, self.workers) as executor:
            yield executor

    def path(self, name: str) -> Path:
        """Where file ``name`` of this experiment goes (recorded as one of its outputs)."""
        if name not in self.files:
            self.files.append(name)
        return self.folder / name

    def write_json(self, name: str, payload: Any) -> Path:
        """Write ``payload`` as strict JSON to ``name``."""
        path = self.path(name)
        write_json(path, payload)
        return path

    def write_csv(self, name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
        """Write a table with ``header`` to ``name`` as CSV."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        path = self.path(name)
        with atomic_output(path) as handle:
            handle.write(buffer.getvalue().encode("utf-8"))
        return path

    @contextmanager
    def figure(
        self,
        name: str,
        panels: int = 1,
        panel_size: tuple[float, float] = (5.0, 3.6),
        rows: int = 1,
    ) -> Iterator[list[Any]]:
        """``rows`` rows of ``panels`` matplotlib axes (row by row), saved to ``name`` at the end.

        The figure is drawn off screen (matplotlib's Agg backend), laid out tightly, saved in
        the format of ``name``'s suffix and closed, also when the block fails.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        width, height = panel_size
        fig, axes = plt.subplots(
            rows, panels, figsize=(width * panels, height * rows), squeeze=False
        )
        try:
            yield [ax for row in axes for ax in row]
            fig.tight_layout()
            with atomic_output(self.path(name)) as handle:
                fig.savefig(handle, format=Path(name).suffix.lstrip("."), dpi=120)
        finally:
            plt.close(fig)


@dataclass(frozen=True)
class ExperimentRecord:
    """How one experiment went: ``ran``, ``reused``, ``skipped`` or ``failed``, and why."""

    name: str
    title: str
    status: str
    seconds: float = 0.0
    message: str = ""
    headline: Mapping[str, Any] = field(default_factory=dict)


def registered_experiments() -> list[Experiment]:
    """Every experiment of the installed packages (entry-point group ``cgnas.experiments``).

    Raises:
        InvalidSpecError: an entry point that is not an ``Experiment`` (or a callable returning
            one), or one whose name differs from its experiment's.
    """
    found = []
    for point in entry_points(group=EXPERIMENT_GROUP):
        loaded = point.load()
        experiment = loaded if isinstance(loaded, Experiment) else loaded()
        if not isinstance(experiment, Experiment) or experiment.name != point.name:
            raise InvalidSpecError(
                f"entry point {point.name!r} ({point.value}) of {EXPERIMENT_GROUP} is not an "
                "Experiment of that name"
            )
        found.append(experiment)
    return sorted(found, key=lambda e: (e.order, e.name))


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in _DISTRIBUTIONS:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _lock_hash() -> str | None:
    """SHA-256 of the ``poetry.lock`` of the checkout being run (None outside one)."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        lock = folder / "poetry.lock"
        if lock.is_file():
            return file_sha256(lock)
    return None


def _identity(
    experiment: Experiment, config: ReproduceConfig, data: Mapping[str, Path]
) -> dict[str, Any]:
    """What a finished folder must match to be reused: code, versions, lock, mode and data."""
    return {
        "experiment": experiment.name,
        "mode": config.mode,
        "code_digest": code_digest(*experiment.identity_code),
        "versions": _versions(),
        "lock_hash": _lock_hash(),
        "data_files": {name: file_sha256(path) for name, path in sorted(data.items())},
    }


def _provenance(folder: Path) -> dict[str, Any] | None:
    """What ``folder``'s ``provenance.json`` says (None: unfinished or unreadable)."""
    try:
        saved: dict[str, Any] = json.loads((folder / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved


def _finished(folder: Path, identity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The provenance of ``folder`` if it finished with ``identity`` and kept its files."""
    saved = _provenance(folder)
    if saved is None:
        return None
    same = all(saved.get(key) == value for key, value in identity.items())
    files = saved.get("files", [])
    return saved if same and all((folder / f).is_file() for f in files) else None


def _run_one(experiment: Experiment, config: ReproduceConfig, workers: int = 1) -> ExperimentRecord:
    """Skip, reuse or run ``experiment``; never raises for the experiment's own failures.

    ``workers``: the processes it may fan its own work out to (``RunContext.workers``).
    """
    data_dir = None if config.data_dir is None else Path(config.data_dir)
    folder = Path(config.out) / experiment.name
    try:
        data = experiment.data(data_dir)
    except FileNotFoundError as exc:  # absent benchmark data: say which file, run the rest
        return ExperimentRecord(experiment.name, experiment.title, "skipped", message=str(exc))
    identity = _identity(experiment, config, data)
    saved = None if config.force else _finished(folder, identity)
    if saved is not None:
        return ExperimentRecord(
            experiment.name,
            experiment.title,
            "reused",
            saved["wall_seconds"],
            "",
            saved["headline"],
        )
    (folder / PROVENANCE).unlink(missing_ok=True)  # unfinished until the run completes
    folder.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(
        folder, config.mode, data_dir, config.backend, config.device, config.progress, workers
    )
    start = time.perf_counter()
    try:
        headline = dict(experiment.run(ctx))
    except (CgError, OSError, ValueError, ImportError) as exc:
        seconds = time.perf_counter() - start
        message = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        return ExperimentRecord(experiment.name, experiment.title, "failed", seconds, message)
    seconds = time.perf_counter() - start
    provenance = {
        **identity,
        "title": experiment.title,
        "seeds": ctx.seeds,
        "device": config.device,
        "backend": config.backend,
        "wall_seconds": seconds,
        "files": ctx.files,
        "headline": headline,
    }
    write_json(folder / PROVENANCE, provenance)
    return ExperimentRecord(experiment.name, experiment.title, "ran", seconds, "", headline)


def run_experiment(name: str, config: ReproduceConfig) -> ExperimentRecord:
    """Reuse, run or skip the registered experiment ``name`` alone, into ``config.out/name``.

    ``reproduce`` for one experiment, without rewriting ``summary.json``: what a reader of
    the results (a book chapter) calls first, so that it reads the folder ``reproduce`` wrote
    when the current code, versions, mode and data made it, and computes it once otherwise.
    ``config.only`` is ignored.

    Raises:
        InvalidSpecError: no registered experiment is called ``name``.
    """
    [experiment] = _selected(registered_experiments(), (name,))
    return _run_one(experiment, config)


def saved_provenance(name: str, config: ReproduceConfig) -> tuple[dict[str, Any], bool] | None:
    """The provenance of experiment ``name``'s finished folder in ``config.out``, never running it.

    Returns ``(provenance, current)``: ``current`` says whether the current code, package
    versions, lock file, mode and data made it, as ``run_experiment`` would reuse it; a
    reader shows a folder that is not current as stale (e.g. committed full-mode results
    that took hours, beside the quick run). None when there is no finished folder. Data
    that is absent now makes a folder not current.

    Raises:
        InvalidSpecError: no registered experiment is called ``name``.
    """
    [experiment] = _selected(registered_experiments(), (name,))
    folder = Path(config.out) / name
    saved = _provenance(folder)
    if saved is None:
        return None
    try:
        data = experiment.data(None if config.data_dir is None else Path(config.data_dir))
    except FileNotFoundError:
        return saved, False
    return saved, _finished(folder, _identity(experiment, config, data)) is not None


def _selected(experiments: Sequence[Experiment], only: Sequence[str]) -> list[Experiment]:
    names = [e.name for e in experiments]
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise InvalidSpecError(
            f"no experiment {', '.join(map(repr, unknown))}; registered: {', '.join(names)}"
        )
    return [e for e in experiments if not only or e.name in only]
