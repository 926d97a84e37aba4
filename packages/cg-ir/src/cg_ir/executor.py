"""One function over many items: in this process, in local worker processes, or on Ray.

An ``Executor`` has one job: ``map(fn, items)`` returns ``[fn(x) for x in items]``, in input
order, wherever the calls run. ``LocalExecutor(workers=1)`` calls ``fn`` in this process;
``LocalExecutor(workers=N)`` uses a pool of N "spawn" processes; ``RayExecutor`` submits the calls
as Ray tasks, to a local Ray it starts or to an existing cluster. ``get_executor`` picks one by
name (``BACKENDS``). Code that fans work out (``cg_ir.bulk.convert_many``, cg-predict's live
proxies) takes an ``executor`` and stays the same whichever backend runs it.

Outside this process, ``fn`` must be picklable (a module-level function, or a
``functools.partial`` of one) and importable where it runs, and the items and results must be
picklable. Each call made outside this process runs with the caller's torch thread count (when
the caller has imported torch), so numbers that depend on it (reductions split across threads)
come out the same on every backend; the caller's own setting is never touched.

Examples:
    >>> from cg_ir.executor import get_executor
    >>> with get_executor("local") as executor:
    ...     executor.map(abs, [-2, 1, -3])
    [2, 1, 3]
"""

from __future__ import annotations

import abc
import concurrent.futures
import concurrent.futures.process
import contextlib
import functools
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from cg_ir.errors import (
    BackendUnavailableError,
    ExecutorClosedError,
    InvalidArgumentError,
    UnknownBackendError,
)

__all__ = [
    "BACKENDS",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "get_executor",
    "torch_threads",
]

BACKENDS = ("local", "ray")

T = TypeVar("T")
R = TypeVar("R")

# tasks per worker when no chunk size is given: few round trips, yet a balanced end
_TASKS_PER_WORKER = 16
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


class Executor(abc.ABC):
    """Runs one function over many items and returns the results in input order.

    Subclasses implement ``map`` and ``close``; an executor is a context manager that closes
    itself on exit. ``in_process`` tells callers whether ``fn`` runs in this process (then it
    need not be picklable, and may be a closure or a bound method).

    Examples:
        >>> class Serial(Executor):  # another backend: map and close
        ...     in_process = True
        ...     def map(self, fn, items, *, progress=False, desc=None):
        ...         return [fn(item) for item in items]
        ...     def close(self):
        ...         pass
        >>> with Serial() as executor:
        ...     executor.map(abs, [-1, 2])
        [1, 2]
    """

    in_process: bool = False

    @abc.abstractmethod
    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        progress: bool = False,
        desc: str | None = None,
    ) -> list[R]:
        """``[fn(item) for item in items]``, computed by this executor's backend.

        Args:
            fn: a module-level callable (picklable and importable where it runs, unless
                ``in_process``).
            items: its arguments, one call each (picklable, unless ``in_process``).
            progress: show a tqdm progress bar on stderr.
            desc: the progress bar's label.

        Returns:
            The results, in the order of ``items``.

        Raises:
            Exception: the first exception raised by a call of ``fn``, re-raised here.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the worker processes or the backend (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class LocalExecutor(Executor):
    """This process (``workers=1``) or a pool of local "spawn" worker processes.

    The pool starts on the first ``map`` that needs it and is reused until ``close``. Items are
    sent in chunks of ``chunksize``; None picks one that gives each worker about 16 tasks.

    Args:
        workers: processes to use; 1 calls ``fn`` in this process (nothing is pickled).
        chunksize: items per task sent to a worker.

    Raises:
        InvalidArgumentError: ``workers`` or ``chunksize`` is below 1.

    Examples:
        >>> with LocalExecutor() as executor:
        ...     executor.map(len, ["a", "bcd", ""])
        [1, 3, 0]
        >>> LocalExecutor().in_process, LocalExecutor(workers=2).in_process
        (True, False)
    """

    def __init__(self, workers: int = 1, *, chunksize: int | None = None) -> None:
        if workers < 1:
            raise InvalidArgumentError(f"workers must be at least 1, got {workers}")
        if chunksize is not None and chunksize < 1:
            raise InvalidArgumentError(f"chunksize must be at least 1, got {chunksize}")
        self.workers = workers
        self.chunksize = chunksize
        self.in_process = workers == 1
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"LocalExecutor(workers={self.workers})"

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        progress: bool = False,
        desc: str | None = None,
    ) -> list[R]:
        """``[fn(item) for item in items]``, in this process or the worker pool; see ``Executor``.

        Examples:
            >>> LocalExecutor().map(str.upper, ["a", "b"])
            ['A', 'B']
        """
        todo = list(items)
        results: list[R] = []
        with _progress_bar(len(todo), progress, desc) as update:
            if self.in_process:
                for item in todo:
                    results.append(fn(item))
                    update(1)
                return results
            if not todo:
                return results
            if self._pool is None:
                # "spawn": nothing of this process is inherited (no forked locks or threads);
                # a worker that dies or cannot unpickle its task breaks the pool (an error,
                # where multiprocessing.Pool would wait forever)
                context = multiprocessing.get_context("spawn")
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    self.workers, mp_context=context
                )
            task = functools.partial(_run_chunk, fn, threads=_caller_threads())
            chunks = _chunks(todo, _chunk_size(len(todo), self.workers, self.chunksize))
            try:
                for chunk in self._pool.map(task, chunks):
                    results.extend(chunk)
                    update(len(chunk))
            except concurrent.futures.process.BrokenProcessPool:
                self.close()  # unusable now; the next map starts a fresh pool
                raise
        return results

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor(Executor):
    """Ray tasks: on a local Ray started here, or on an existing Ray cluster.

    If Ray is not initialised yet, ``ray.init`` is called with ``address``, ``num_cpus=workers``
    (only when starting a local Ray: no ``address`` and no ``RAY_ADDRESS``), no dashboard and no
    worker output on the driver (except through Ray Client, ``ray://``), and ``init_kwargs``
    (which override those defaults). No ``runtime_env`` is set: workers use the Python
    environment they run in, which must have cg-ir (and whatever ``fn`` imports) installed.
    ``close`` shuts Ray down only if this executor started it. Items are sent in chunks that
    give each CPU of the cluster about 16 tasks, unless ``chunksize`` is given.

    Args:
        workers: CPUs of a local Ray started here (None: all of this machine's).
        address: an existing cluster: ``"auto"`` (the one running on this machine),
            ``"ray://host:10001"`` (Ray Client) or ``"host:6379"``; None starts a local Ray
            unless ``RAY_ADDRESS`` names one.
        chunksize: items per Ray task.
        **init_kwargs: more keyword arguments of ``ray.init``.

    Raises:
        BackendUnavailableError: Ray is not installed (``pip install "cg-ir[ray]"``).
        InvalidArgumentError: ``workers`` or ``chunksize`` is below 1.

    Examples:
        A local Ray with two workers, or an existing cluster (not run as doctests: starting
        Ray takes seconds; ``tests/test_executor.py`` runs a local Ray)::

            with RayExecutor(workers=2) as executor:
                executor.map(abs, [-2, 1, -3])  # [2, 1, 3]
            RayExecutor(address="ray://head-node:10001")  # or "auto", or $RAY_ADDRESS
    """

    def __init__(
        self,
        workers: int | None = None,
        address: str | None = None,
        *,
        chunksize: int | None = None,
        **init_kwargs: Any,
    ) -> None:
        if workers is not None and workers < 1:
            raise InvalidArgumentError(f"workers must be at least 1, got {workers}")
        if chunksize is not None and chunksize < 1:
            raise InvalidArgumentError(f"chunksize must be at least 1, got {chunksize}")
        ray = _import_ray()
        self.workers = workers
        self.address = address
        self.chunksize = chunksize
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            # what ray.init connects to: RAY_ADDRESS stands in for None and "auto"
            target = address
            if address in (None, "auto"):
                target = os.environ.get("RAY_ADDRESS") or address
            options: dict[str, Any] = {"address": address, "ignore_reinit_error": True}
            if target is None or "://" not in target:
                # settings of this driver (Ray Client would pass them on to the server's)
                options.update(include_dashboard=False, log_to_driver=False)
            if target is None and workers is not None:
                options["num_cpus"] = workers  # a local Ray only: a cluster has its CPUs
            ray.init(**{**options, **init_kwargs})
        self._task: Any = ray.remote(_run_chunk)
        self._closed = False

    def __repr__(self) -> str:
        where = f"address={self.address!r}" if self.address else f"workers={self.workers}"
        return f"RayExecutor({where})"

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        progress: bool = False,
        desc: str | None = None,
    ) -> list[R]:
        """``[fn(item) for item in items]`` as Ray tasks; see ``Executor``.

        Raises:
            ExecutorClosedError: the executor is closed.
        """
        if self._closed:
            raise ExecutorClosedError("this RayExecutor is closed")
        ray = _import_ray()

        todo = list(items)
        results: list[R] = []
        if not todo:
            return results
        cpus = int(ray.cluster_resources().get("CPU", self.workers or 1))
        threads = _caller_threads()
        chunks = _chunks(todo, _chunk_size(len(todo), max(1, cpus), self.chunksize))
        shared = ray.put(fn)  # serialised once; Ray passes each task the value
        refs = [self._task.remote(shared, chunk, threads=threads) for chunk in chunks]
        finished: dict[Any, list[R]] = {}
        pending = list(refs)
        with _progress_bar(len(todo), progress, desc) as update:
            try:
                while pending:
                    done, pending = ray.wait(pending, num_returns=1)
                    for ref in done:
                        # raises a failed task's exception (also an instance of its own class)
                        finished[ref] = ray.get(ref)
                        update(len(finished[ref]))
            except BaseException:
                for ref in pending:  # a failure or an interrupt: stop the rest
                    ray.cancel(ref)
                raise
        for ref in refs:
            results.extend(finished[ref])
        return results

    def close(self) -> None:
        """Shut down the Ray instance if this executor started it (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._owns_ray:
            ray = _import_ray()
            if ray.is_initialized():
                ray.shutdown()


def get_executor(backend: str = "local", workers: int = 1, address: str | None = None) -> Executor:
    """An executor of ``backend`` (one of ``BACKENDS``).

    Args:
        backend: ``"local"`` (``LocalExecutor``) or ``"ray"`` (``RayExecutor``).
        workers: worker processes (local; 1 = this process) or CPUs of a local Ray started here.
        address: a Ray cluster to connect to (ray only; see ``RayExecutor``).

    Raises:
        UnknownBackendError: ``backend`` is not one of ``BACKENDS``; the message lists them.
        BackendUnavailableError: the backend's package is not installed.
        InvalidArgumentError: ``workers`` is below 1, or ``address`` with the local backend.

    Examples:
        >>> get_executor("local", workers=2)
        LocalExecutor(workers=2)
        >>> get_executor("dask")
        Traceback (most recent call last):
        ...
        cg_ir.errors.UnknownBackendError: unknown executor backend 'dask'; valid: 'local', 'ray'
    """
    if backend == "local":
        if address is not None:
            raise InvalidArgumentError(f"address={address!r} is for the 'ray' backend, not 'local'")
        return LocalExecutor(workers)
    if backend == "ray":
        return RayExecutor(workers=workers, address=address)
    valid = ", ".join(repr(name) for name in BACKENDS)
    raise UnknownBackendError(f"unknown executor backend {backend!r}; valid: {valid}")


# -- helpers (module level: they run in the workers) -----------------------------------------
def _import_ray() -> Any:
    # Any: ray's own annotations leave much of its API untyped (mypy --strict would object)
    try:
        import ray
    except ImportError as exc:
        raise BackendUnavailableError(
            f'the "ray" executor backend needs Ray ({exc}): pip install "cg-ir[ray]"'
        ) from exc
    return ray


def _chunk_size(n_items: int, workers: int, chunksize: int | None) -> int:
    return chunksize or max(1, n_items // (_TASKS_PER_WORKER * workers))


def _chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _caller_threads() -> int | None:
    # only if the caller uses torch: importing it here would make every map pay for it
    torch = sys.modules.get("torch")
    return None if torch is None else int(torch.get_num_threads())


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads, restoring this process's setting after.

    None leaves the setting alone. Small graphs train and score fastest on one thread: on a
    loaded 2-core machine two threads made a fine-tuning step over 20x slower.

    Examples:
        >>> with torch_threads(1):
        ...     pass
    """
    if threads is None:
        yield
    elif "torch" in sys.modules:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)
    else:
        # torch is not loaded yet: if the task imports it, it starts with this many threads
        saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
        os.environ.update(dict.fromkeys(_THREAD_VARIABLES, str(threads)))
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _run_chunk(fn: Callable[[T], R], chunk: Sequence[T], threads: int | None) -> list[R]:
    with torch_threads(threads):
        return [fn(item) for item in chunk]


@contextlib.contextmanager
def _progress_bar(total: int, progress: bool, desc: str | None) -> Iterator[Callable[[int], Any]]:
    from tqdm.auto import tqdm  # tqdm.auto imports slowly: only when mapping

    bar = tqdm(total=total, desc=desc, disable=not progress)
    try:
        yield bar.update
    finally:
        bar.close()
