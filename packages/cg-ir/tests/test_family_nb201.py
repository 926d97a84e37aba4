"""The nb201 family: keys, pruning, enumeration, graphs vs real modules, fast path vs torch.fx."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cg_ir import CgIrError, ComputationGraph, InvalidSpecError, families
from cg_ir.families.nb201 import FAMILY, OP_NAMES, NB201Spec, live_edges
from cg_ir.testing.strategies import nb201_specs

from .module_checks import assert_graph_matches_module, trainable_params

KEY = "(0, 2, 3, 2, 3, 1)"
ARCH = "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|"
# cells covering the pruning cases: everything, dead ends, zero cells, identity cells
CASES = [
    "(2, 2, 2, 2, 2, 2)",  # the largest network
    "(1, 1, 1, 1, 1, 1)",  # all none: zero cells
    "(2, 1, 1, 1, 1, 1)",  # 0->1 is a dead end: zero cells
    "(0, 0, 0, 0, 0, 0)",  # skips only: adds of the same tensor
    "(1, 1, 0, 1, 1, 1)",  # only skip 0->3: every cell is the identity
    "(2, 3, 1, 4, 1, 1)",  # 0->1->2 and 0->2 dead (2 does not reach 3): zero cells
    "(4, 1, 1, 1, 3, 1)",  # 0->1->3 chain
    "(3, 1, 2, 1, 1, 4)",  # 2 is unreachable: 2->3 dropped
    KEY,
]


# -- keys and validation --------------------------------------------------------------------


def test_registered_under_its_name() -> None:
    assert families.get("nb201") is FAMILY
    assert FAMILY.size == 15_625


def test_key_round_trip_and_arch_string() -> None:
    spec = FAMILY.parse(KEY)
    assert spec.ops == (0, 2, 3, 2, 3, 1)
    assert spec.names == (
        "skip_connect",
        "nor_conv_3x3",
        "nor_conv_1x1",
        "nor_conv_3x3",
        "nor_conv_1x1",
        "none",
    )
    assert FAMILY.key(spec) == KEY
    assert FAMILY.arch_str(spec) == ARCH
    assert FAMILY.parse(ARCH) == spec
    assert FAMILY.parse(" (0,2,3,2,3,1) ") == spec
    assert NB201Spec(spec.names) == spec  # names and ids both work


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("(0, 2, 3)", "i.e. 6 ops; got (0, 2, 3)"),
        ("(0, 2, 3, 2, 3, 1, 0)", "i.e. 6 ops"),
        (
            "(0, 2, 3, 2, 3, 5)",
            "edge 5 (2, 3): op id 5 is out of range; ids are 0=skip_connect, "
            "1=none, 2=nor_conv_3x3, 3=nor_conv_1x1, 4=avg_pool_3x3",
        ),
        ("(0, -1, 3, 2, 3, 1)", "edge 1 (0, 2): op id -1 is out of range"),
        ("(0, x, 3, 2, 3, 1)", "holds a value that is not an integer op id"),
        ("0, 2, 3, 2, 3, 1", "expected NASLib's 6-tuple like '(0, 2, 3, 2, 3, 1)'"),
        ("|skip_connect~0|+|none~0|none~1|", "has 2 node groups; expected 3 joined by '+'"),
        (
            "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "edge 0 (0, 1): unknown op 'conv'; choose from ('skip_connect', 'none', "
            "'nor_conv_3x3', 'nor_conv_1x1', 'avg_pool_3x3')",
        ),
        (
            "|none~0|+|none~1|none~0|+|none~0|none~1|none~2|",
            "node 2 lists sources [1, 0], expected [0, 1]",
        ),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 lists sources [0], expected [0, 1]"),
        (
            "|none0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "'none0' is not of the form 'op~source'",
        ),
    ],
)
def test_parse_rejects_invalid_keys(key: str, message: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        FAMILY.parse(key)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (
            (0, 1, 2, 3, 4),
            "one op per edge ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)), i.e. 6",
        ),
        ("012341", "i.e. 6 ops; got '012341'"),
        ((0, 1, 2, 3, 4, 2.0), "edge 5 (2, 3): op 2.0 is neither an op id nor an op name"),
        ((0, 1, 2, 3, 4, True), "op True is neither an op id nor an op name"),
    ],
)
def test_spec_rejects_invalid_ops(ops: object, message: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        NB201Spec(ops)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidSpecError, match="an nb201 key is a string, got 7"):
        FAMILY.parse(7)  # type: ignore[arg-type]


def test_enumerate_lists_every_spec_once_in_tuple_order() -> None:
    specs = list(FAMILY.enumerate())
    assert len(specs) == len({s.ops for s in specs}) == FAMILY.size
    assert specs[0].ops == (0,) * 6 and specs[-1].ops == (4,) * 6
    assert [s.ops for s in specs] == sorted(s.ops for s in specs)


# -- pruning --------------------------------------------------------------------------------


def test_pruning_drops_none_dead_ends_and_unreachable_nodes() -> None:
    assert live_edges((2, 2, 2, 2, 2, 2)) == (
        (0, 1, 2),
        (0, 2, 2),
        (1, 2, 2),
        (0, 3, 2),
        (1, 3, 2),
        (2, 3, 2),
    )
    assert live_edges((1, 1, 1, 1, 1, 1)) is None
    assert live_edges((2, 1, 1, 1, 1, 1)) is None  # 0->1 leads nowhere
    assert live_edges((2, 3, 1, 4, 1, 1)) is None  # node 2 never reaches 3
    assert live_edges((3, 1, 2, 1, 1, 4)) == ((0, 3, 2),)  # 2->3: node 2 is unreachable
    assert live_edges((2, 3, 4, 1, 1, 1)) == ((0, 3, 4),)  # 0->1, 0->2 are dead ends
    assert live_edges((1, 1, 0, 1, 1, 1)) == ((0, 3, 0),)


def test_zero_cells_become_one_zero_node_each() -> None:
    graph = FAMILY.to_cg(FAMILY.parse("(2, 1, 1, 1, 1, 1)"))
    zeros = [n for n in graph.nodes if n.op == "zero"]
    assert len(zeros) == 15
    assert {n.output_shape for n in zeros} == {(16, 32, 32), (32, 16, 16), (64, 8, 8)}
    assert graph.op_histogram().get("conv", 0) == 1 + 2 * 3  # stem + two reduction blocks


def test_identity_cells_vanish() -> None:
    graph = FAMILY.to_cg(FAMILY.parse("(1, 1, 0, 1, 1, 1)"))
    # stem (2), two reduction blocks (9 each), head (4) + input and output
    assert graph.num_nodes == 1 + 2 + 18 + 4 + 1


def test_skip_sums_add_the_same_tensor_twice() -> None:
    graph = FAMILY.to_cg(FAMILY.parse("(0, 0, 0, 0, 0, 0)"))
    add = next(i for i, n in enumerate(graph.nodes) if n.op == "add")
    sources = [s for s, d in graph.edges if d == add]
    assert len(sources) == 2 and sources[0] == sources[1]


# -- graphs vs modules ----------------------------------------------------------------------


@pytest.mark.parametrize("key", CASES)
def test_graph_matches_module(key: str) -> None:
    assert_graph_matches_module(FAMILY, FAMILY.parse(key), logits=10)


def test_largest_network_has_nas_bench_201_parameter_count() -> None:
    # NAS-Bench-201 reports 1.531546 M parameters for the all-nor_conv_3x3 cell on CIFAR-10
    assert FAMILY.to_cg(FAMILY.parse("(2, 2, 2, 2, 2, 2)")).params == 1_531_546


def test_zero_cell_module_outputs_constant_logits() -> None:
    module = FAMILY.to_module(FAMILY.parse("(1, 1, 1, 1, 1, 1)")).eval()
    a, b = module(torch.randn(1, 3, 32, 32)), module(torch.randn(1, 3, 32, 32))
    assert torch.equal(a, b)


@pytest.mark.parametrize("key", CASES)
def test_fast_path_equals_torch_fx(key: str) -> None:
    spec = FAMILY.parse(key)
    fast, traced = FAMILY.to_cg(spec), FAMILY.trace_cg(spec)
    assert fast.same_structure(traced)
    assert fast.canonical_hash() == traced.canonical_hash()


@pytest.mark.property
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nb201_specs())
def test_fast_path_equals_torch_fx_on_random_specs(spec: NB201Spec) -> None:
    fast = FAMILY.to_cg(spec)
    assert fast.same_structure(FAMILY.trace_cg(spec))
    assert fast.params == trainable_params(FAMILY.to_module(spec))


# -- sampling and mutation ------------------------------------------------------------------


def test_sampling_is_seeded() -> None:
    a = [FAMILY.sample(np.random.default_rng(3)) for _ in range(5)]
    b = [FAMILY.sample(np.random.default_rng(3)) for _ in range(5)]
    assert a == b
    assert len(FAMILY.sample_distinct(np.random.default_rng(0), 50)) == 50


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(nb201_specs(), st.integers(0, 2**32 - 1))
def test_mutate_changes_one_edge_and_the_graph(spec: NB201Spec, seed: int) -> None:
    child = FAMILY.mutate(spec, np.random.default_rng(seed))
    assert sum(a != b for a, b in zip(spec.ops, child.ops, strict=True)) == 1
    assert FAMILY.to_cg(child).canonical_hash() != FAMILY.to_cg(spec).canonical_hash()


def test_mutate_reports_when_no_neighbour_changes_the_graph(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # no real spec has this problem; make every graph hash alike to reach the error
    monkeypatch.setattr(ComputationGraph, "canonical_hash", lambda self: "same")
    with pytest.raises(
        CgIrError,
        match=r"no one-edge mutation of nb201 spec \(0, 2, 3, 2, 3, 1\) "
        r"changes its graph \(24 neighbours tried\)",
    ):
        FAMILY.mutate(FAMILY.parse(KEY), np.random.default_rng(0))


# -- benchmark data -------------------------------------------------------------------------


@pytest.mark.needs_data
def test_every_nb201_csv_key_round_trips(benchmark_file: Callable[..., Path]) -> None:
    path = benchmark_file("nb201", "nb201_200ep_test_acc.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == FAMILY.size
    for row in rows:
        spec = FAMILY.parse(row["key"])
        assert FAMILY.key(spec) == row["key"]
        assert FAMILY.parse(row["arch_str"]) == spec
        assert FAMILY.arch_str(spec) == row["arch_str"]


@pytest.mark.needs_data
def test_every_zc_nasbench201_key_round_trips(benchmark_file: Callable[..., Path]) -> None:
    data = json.loads(benchmark_file("nas-bench-suite-zero", "zc_nasbench201.json").read_text())
    keys = {key for task in data.values() for key in task}
    assert len(keys) >= 724
    for key in keys:
        assert FAMILY.key(FAMILY.parse(key)) == key
    assert all(name in OP_NAMES for key in keys for name in FAMILY.parse(key).names)
