"""Shared fixtures of cg-predict's tests: synthetic NB-201-like computation graphs.

The ``test_assets`` fixture lays the hand-made data files of ``tests/assets`` out as a data
folder, once per session, in a pytest-managed temporary folder.

The graphs are built directly with ``cg_ir.Node`` (no family or tracer needed) and their
labels are a synthetic function of the ops, so the model tests run anywhere, fast. The tests
marked ``needs_data`` take the real benchmark folder from the ``data_dir`` fixture of the
repository's root ``conftest.py``, which also skips them where ``$CGNAS_DATA_DIR`` is unset.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from cg_ir import ComputationGraph, Node


@pytest.fixture(scope="session")
def test_assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the hand-made fixtures under the real NAS-Bench-Suite-Zero names.

    They are committed as ``suite-zero-<n>.json`` so that nothing in the repository looks like
    (or could be mistaken for) the real benchmark files. The folder is pytest-managed, so
    pytest removes it with its other old temporary folders.
    """
    root = tmp_path_factory.mktemp("cgnas-test-data")
    shutil.copytree(Path(__file__).parent / "assets" / "data", root, dirs_exist_ok=True)
    suite = root / "nas-bench-suite-zero"
    for tiny in suite.glob("suite-zero-*.json"):
        tiny.rename(suite / tiny.name.replace("suite-zero-", "zc_nasbench"))
    return root


EDGE_OPS = ("skip", "conv3", "conv1", "pool")
# synthetic "accuracy" contribution of each edge op
_OP_VALUE = {"skip": 0.2, "conv3": 1.0, "conv1": 0.6, "pool": -0.3}


def toy_graph(
    ops: tuple[str, ...], channels: int = 8, size: int = 8, cells: int = 2
) -> ComputationGraph:
    """A stem, ``cells`` NB-201-style cells with the 6 edge ``ops``, global pool and linear."""
    shape = (channels, size, size)
    nodes: list[Node] = [Node("input", (3, size, size), (3, size, size))]
    edges: list[tuple[int, int]] = []

    def add(node: Node, *inputs: int) -> int:
        nodes.append(node)
        edges.extend((i, len(nodes) - 1) for i in inputs)
        return len(nodes) - 1

    conv = dict(
        stride=(1, 1), dilation=(1, 1), groups=1, in_channels=channels, out_channels=channels
    )
    x = add(Node("conv", (3, size, size), shape, (3, 3), (1, 1), (1, 1), (1, 1), 1, 3, channels), 0)
    x = add(Node("batch_norm", shape, shape, affine=True), x)

    def edge(op: str, src: int) -> int:
        if op == "skip":
            return src
        if op == "pool":
            return add(Node("avg_pool", shape, shape, (3, 3), (1, 1), (1, 1), (1, 1)), src)
        k = 3 if op == "conv3" else 1
        r = add(Node("relu", shape, shape), src)
        c = add(Node("conv", shape, shape, kernel_size=(k, k), padding=(k // 2, k // 2), **conv), r)
        return add(Node("batch_norm", shape, shape, affine=True), c)

    for _ in range(cells):
        n0 = x
        n1 = edge(ops[0], n0)
        n2 = add(Node("add", shape, shape), edge(ops[1], n0), edge(ops[3], n1))
        x = add(Node("add", shape, shape), edge(ops[2], n0), edge(ops[4], n1), edge(ops[5], n2))
    x = add(Node("global_avg_pool", shape, (channels, 1, 1)), x)
    x = add(
        Node(
            "linear", (channels, 1, 1), (10, 1, 1), in_channels=channels, out_channels=10, bias=True
        ),
        x,
    )
    add(Node("output", (10, 1, 1), (10, 1, 1)), x)
    return ComputationGraph(nodes, edges)


def toy_label(ops: tuple[str, ...]) -> float:
    return float(sum(_OP_VALUE[o] for o in ops))


ToyData = Callable[..., tuple[list[ComputationGraph], np.ndarray]]


@pytest.fixture
def toy_data() -> ToyData:
    """``make(n, seed=0, channels=8) -> (graphs, labels)``: random cells, synthetic labels."""

    def make(n: int, seed: int = 0, channels: int = 8, noise: float = 0.05):  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(seed)
        graphs, labels = [], []
        for _ in range(n):
            ops = tuple(EDGE_OPS[i] for i in rng.integers(0, len(EDGE_OPS), size=6))
            graphs.append(toy_graph(ops, channels=channels))
            labels.append(toy_label(ops) + noise * rng.standard_normal())
        return graphs, np.asarray(labels)

    return make


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():  # type: ignore[no-untyped-def]
    """Tiny graphs gain nothing from threads, and on a busy 2-core runner torch's default
    thread pool oversubscribes the cores and runs ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
