"""Executors: this process, spawn workers and Ray give the same results, in input order."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import textwrap
import time

import pytest

from cg_ir import (
    BackendUnavailableError,
    CgIrError,
    ExecutorClosedError,
    InvalidArgumentError,
    UnknownBackendError,
)
from cg_ir.bulk import convert_many
from cg_ir.executor import BACKENDS, LocalExecutor, RayExecutor, get_executor

KEYS = ["(0, 1, 2, 3, 4, 0)", "(1, 1, 1, 1, 1, 1)", "(2, 2, 2, 2, 2, 2)", "(4, 3, 2, 1, 0, 1)"]
SEEDS = list(range(10))
HAS_RAY = importlib.util.find_spec("ray") is not None

# Jobs run in fresh worker processes, which must import them by name: test modules are not
# importable there (pytest's importlib mode), so the jobs live in a small module on sys.path
# (spawn workers start with the caller's sys.path; Ray's get the module by value, see below).
JOBS = textwrap.dedent("""
    import numpy as np


    def seeded(seed):
        rng = np.random.default_rng(seed)
        a = rng.standard_normal((40, 40))
        return float(np.linalg.eigvalsh(a @ a.T).sum()), rng.integers(0, 10, 3).tolist()


    def fail_on_three(item):
        if item == 3:
            raise KeyError(f"item {item}")
        return item


    def torch_threads(_):
        import torch

        return torch.get_num_threads()
""")


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("jobs"))
    with open(f"{root}/cg_executor_jobs.py", "w") as handle:
        handle.write(JOBS)
    sys.path.insert(0, root)
    try:
        yield importlib.import_module("cg_executor_jobs")
    finally:
        sys.path.remove(root)
        sys.modules.pop("cg_executor_jobs", None)


@pytest.fixture(scope="module")
def two_workers():
    with LocalExecutor(workers=2) as executor:  # one pool for the module: spawning is slow
        yield executor


@pytest.fixture
def one_torch_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)


def test_local_one_and_two_workers_give_the_same_ordered_results(jobs, two_workers):
    serial = LocalExecutor().map(jobs.seeded, SEEDS)
    assert serial == [jobs.seeded(s) for s in SEEDS]
    assert two_workers.map(jobs.seeded, SEEDS) == serial
    assert LocalExecutor(workers=2, chunksize=1).map(jobs.seeded, SEEDS) == serial
    assert two_workers.map(jobs.seeded, reversed(SEEDS)) == serial[::-1]  # pool reused
    assert two_workers.map(jobs.seeded, []) == []
    assert LocalExecutor().in_process and not two_workers.in_process


def test_local_errors_reach_the_caller(jobs, two_workers):
    for executor in (LocalExecutor(), two_workers):
        with pytest.raises(KeyError, match="item 3"):
            executor.map(jobs.fail_on_three, range(6))
    assert two_workers.map(jobs.fail_on_three, [1, 2]) == [1, 2]  # still usable


def test_progress_bar_and_close(capsys):
    with LocalExecutor() as executor:
        assert executor.map(abs, [-1, -2], progress=True, desc="absolutes") == [1, 2]
    assert "absolutes" in capsys.readouterr().err
    executor = LocalExecutor(workers=2)
    executor.close()  # never started: nothing to stop
    executor.close()


def test_workers_get_the_callers_torch_threads(jobs, two_workers, one_torch_thread):
    torch = one_torch_thread
    # the pool's workers have torch's default (cores) unless told; the caller runs with 1
    assert two_workers.map(jobs.torch_threads, range(4)) == [1] * 4
    torch.set_num_threads(2)
    assert two_workers.map(jobs.torch_threads, range(4)) == [2] * 4
    assert LocalExecutor().map(jobs.torch_threads, range(2)) == [2] * 2
    assert torch.get_num_threads() == 2  # the caller's setting is left alone


def test_get_executor_and_its_errors():
    assert BACKENDS == ("local", "ray")
    executor = get_executor()
    assert isinstance(executor, LocalExecutor) and executor.workers == 1
    assert get_executor("local", workers=3).workers == 3
    with pytest.raises(UnknownBackendError, match="'dask'; valid: 'local', 'ray'") as info:
        get_executor("dask")
    assert isinstance(info.value, ValueError) and isinstance(info.value, CgIrError)
    with pytest.raises(InvalidArgumentError, match="workers must be at least 1, got 0"):
        get_executor("local", workers=0)
    with pytest.raises(InvalidArgumentError, match="chunksize must be at least 1, got 0"):
        LocalExecutor(2, chunksize=0)
    with pytest.raises(InvalidArgumentError, match="is for the 'ray' backend"):
        get_executor("local", address="auto")
    with pytest.raises(InvalidArgumentError, match="workers must be at least 1"):
        RayExecutor(workers=0)  # checked before Ray is imported or started


def test_ray_missing_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(BackendUnavailableError, match=r'pip install "cg-ir\[ray\]"') as info:
        get_executor("ray", workers=2)
    assert isinstance(info.value, ImportError) and isinstance(info.value, CgIrError)


@pytest.mark.skipif(not HAS_RAY, reason='ray is not installed: pip install "cg-ir[ray]"')
def test_ray_matches_the_local_backend(jobs, two_workers, one_torch_thread):
    import ray

    assert not ray.is_initialized(), "another test left Ray running"
    # Ray's workers do not see this sys.path: ship the jobs' code with the tasks instead
    ray.cloudpickle.register_pickle_by_value(jobs)
    local_graphs = convert_many("nb201", KEYS * 2, progress=False)
    local_numbers = two_workers.map(jobs.seeded, SEEDS)
    start = time.perf_counter()
    try:
        with RayExecutor(workers=2) as executor:
            assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 2
            graphs = convert_many("nb201", KEYS * 2, executor=executor, progress=False)
            assert graphs == local_graphs
            assert executor.map(jobs.seeded, SEEDS, progress=True, desc="ray") == local_numbers
            assert executor.map(jobs.seeded, SEEDS[::-1]) == local_numbers[::-1]
            assert executor.map(jobs.torch_threads, range(3)) == [1] * 3
            one_torch_thread.set_num_threads(2)  # Ray's workers start with 1 (OMP_NUM_THREADS)
            assert executor.map(jobs.torch_threads, range(3)) == [2] * 3
            with pytest.raises(KeyError, match="item 3"):
                executor.map(jobs.fail_on_three, range(6))
            # a second executor joins the running Ray and leaves it running when closed
            with RayExecutor() as joined:
                assert joined.map(jobs.seeded, SEEDS[:3]) == local_numbers[:3]
            assert ray.is_initialized()
        assert not ray.is_initialized()  # the one that started Ray shut it down
        with pytest.raises(ExecutorClosedError, match="closed"):
            executor.map(abs, [1])
    finally:
        ray.cloudpickle.unregister_pickle_by_value(jobs)
        if ray.is_initialized():
            ray.shutdown()
    print(f"Ray test: {time.perf_counter() - start:.1f} s")
