"""The nb301 family: keys, validation, sampling, graphs vs real modules, fast path vs torch.fx."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from cg_ir import ComputationGraph, InvalidSpecError, families
from cg_ir.families.nb301 import FAMILY, NB301Spec, cell_plans
from cg_ir.testing.strategies import nb301_specs

from .module_checks import assert_graph_matches_module, trainable_params

DATA_FILE = ("nas-bench-suite-zero", "zc_nasbench301.json")
KEY = (
    "[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
    "[(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]"
)
SPEC = FAMILY.parse(KEY)
# the DARTS-V2 genotype of the DARTS paper, as (input_node, op_id) pairs
DARTS_V2 = NB301Spec(
    ((0, 3), (1, 3), (0, 3), (1, 3), (1, 3), (0, 2), (0, 2), (2, 5)),
    ((0, 0), (1, 0), (2, 2), (1, 0), (0, 0), (2, 2), (2, 2), (1, 0)),
)


def _keys(path: Path) -> list[str]:
    return list(json.loads(path.read_text())["cifar10"])


def _with(cell: int, position: int, pair: object) -> str:
    """KEY with one pair of one cell replaced by ``pair``."""
    cells: list[list[object]] = [list(SPEC.normal), list(SPEC.reduce)]
    cells[cell][position] = pair
    return str(cells)


# -- keys and validation --------------------------------------------------------------------


def test_registered_under_its_name() -> None:
    assert families.get("nb301") is FAMILY
    assert FAMILY.size is None


def test_key_round_trip_keeps_pair_order() -> None:
    assert FAMILY.key(SPEC) == KEY
    assert SPEC.normal[:2] == ((0, 0), (1, 5))  # (input_node, op_id), as NASLib writes them
    assert FAMILY.parse(KEY.replace(" ", "")) == SPEC
    assert FAMILY.parse(FAMILY.key(DARTS_V2)) == DARTS_V2


def test_names_give_the_darts_genotype() -> None:
    assert DARTS_V2.names("normal")[:3] == (
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
    )
    assert DARTS_V2.names("reduce")[-1] == ("max_pool_3x3", 1)


def test_spec_accepts_op_names() -> None:
    normal = tuple((s, DARTS_V2.names("normal")[i][0]) for i, (s, _) in enumerate(DARTS_V2.normal))
    assert NB301Spec(normal, DARTS_V2.reduce) == DARTS_V2  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("darts", "cannot parse nb301 key 'darts': expected NASLib's compact string"),
        ("[[(0, 0)]]", "is not a [normal, reduce] pair of cells"),
        (
            "[[(0, 0), (1, 5)], " + KEY[KEY.index("], [") + 3 :],
            "normal cell: expected 8 (input_node, op_id) pairs, two per intermediate node 2..5; "
            "got 2 pairs",
        ),
        (
            _with(0, 1, (2, 5)),
            "normal cell, pair 1 (node 2): input node 2 is not < 2; node 2 "
            "reads the cell inputs 0 or 1",
        ),
        (
            _with(1, 5, (4, 1)),
            "reduce cell, pair 5 (node 4): input node 4 is not < 4; node 4 "
            "reads the cell inputs 0, 1 or the earlier nodes 2..3",
        ),
        (_with(0, 6, (-1, 3)), "normal cell, pair 6 (node 5): input node -1 is not < 5"),
        (
            _with(0, 3, (0, 7)),
            "normal cell, pair 3 (node 3): unknown op id 7; ids are "
            "0=max_pool_3x3, 1=avg_pool_3x3, 2=skip_connect, 3=sep_conv_3x3, 4=sep_conv_5x5, "
            "5=dil_conv_3x3, 6=dil_conv_5x5",
        ),
        (
            _with(1, 1, (1, 2)),
            "reduce cell, node 2: both pairs read input 1; a DARTS node adds two distinct inputs",
        ),
        (
            _with(0, 2, (1, 2, 3)),
            "normal cell, pair 2 (node 3): expected an (input_node, op_id) pair, got (1, 2, 3)",
        ),
        (_with(0, 0, ("a", 2)), "input node 'a' is not an integer"),
        (_with(0, 0, (0, 1.5)), "op 1.5 is neither an op id nor an op name"),
        (_with(0, 0, (0, "conv")), "unknown op 'conv'; choose from"),
    ],
)
def test_parse_rejects_invalid_keys(key: str, message: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        FAMILY.parse(key)
    assert message in str(info.value)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidSpecError, match="an nb301 key is a string"):
        FAMILY.parse([[(0, 0)] * 8] * 2)  # type: ignore[arg-type]


def test_spec_rejects_a_cell_that_is_not_a_list() -> None:
    with pytest.raises(InvalidSpecError, match="reduce cell: expected 8 .* got 'abc'"):
        NB301Spec(SPEC.normal, "abc")  # type: ignore[arg-type]


# -- sampling and mutation ------------------------------------------------------------------


def test_sample_is_seeded_and_valid() -> None:
    assert FAMILY.sample(np.random.default_rng(4)) == FAMILY.sample(np.random.default_rng(4))
    specs = FAMILY.sample_distinct(np.random.default_rng(0), 30)
    for spec in specs:
        assert FAMILY.parse(FAMILY.key(spec)) == spec
    assert len({FAMILY.to_cg(s).canonical_hash() for s in specs}) == 30


def test_mutate_changes_one_pair_and_the_graph() -> None:
    rng = np.random.default_rng(2)
    spec = FAMILY.sample(rng)
    for _ in range(10):
        child = FAMILY.mutate(spec, rng)
        changed = [
            (a, b)
            for a, b in zip(spec.normal + spec.reduce, child.normal + child.reduce, strict=True)
            if a != b
        ]
        assert len(changed) == 1
        assert FAMILY.to_cg(child).canonical_hash() != FAMILY.to_cg(spec).canonical_hash()
        spec = child


def test_swapping_a_nodes_pairs_keeps_the_graph() -> None:
    normal = list(SPEC.normal)
    normal[0], normal[1] = normal[1], normal[0]
    swapped = NB301Spec(tuple(normal), SPEC.reduce)
    assert FAMILY.key(swapped) != KEY
    assert FAMILY.to_cg(swapped).same_structure(FAMILY.to_cg(SPEC))


# -- graphs against the real module ---------------------------------------------------------


def test_macro_layout() -> None:
    plans = cell_plans()
    assert [p.reduction for p in plans] == [False, False, True, False, False, True, False, False]
    assert [p.channels for p in plans] == [16, 16, 32, 32, 32, 64, 64, 64]
    assert plans[0].in0 == plans[0].in1 == (48, 32, 32)
    assert plans[3].in0 == (64, 32, 32) and plans[3].in1 == (128, 16, 16)
    assert plans[-1].out == (256, 8, 8)


@pytest.mark.parametrize("spec", [SPEC, DARTS_V2], ids=["zc-key", "darts-v2"])
def test_graph_matches_module(spec: NB301Spec) -> None:
    graph = assert_graph_matches_module(FAMILY, spec, logits=10)
    hist = graph.op_histogram()
    assert hist["add"] == 8 * 4
    # one concat per cell, plus one per FactorizedReduce (preprocessing after a reduction
    # and every stride-2 skip of the reduction cells)
    stride2_skips = sum(1 for s, op in spec.reduce if s < 2 and op == 2)
    assert hist["concat"] == 8 + 2 + 2 * stride2_skips


def test_darts_v2_graph_size() -> None:
    graph = FAMILY.to_cg(DARTS_V2)
    assert (graph.num_nodes, graph.num_edges, graph.params) == (372, 429, 246_106)


@pytest.mark.property
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nb301_specs())
def test_fast_path_equals_fx_path(spec: NB301Spec) -> None:
    fast = FAMILY.to_cg(spec)
    traced = FAMILY.trace_cg(spec)
    assert fast.same_structure(traced)
    assert fast.params == traced.params == trainable_params(FAMILY.to_module(spec))
    assert ComputationGraph.from_json(fast.to_json()) == fast


@pytest.mark.property
@settings(max_examples=50, deadline=None)
@given(nb301_specs())
def test_spec_key_round_trip(spec: NB301Spec) -> None:
    assert FAMILY.parse(FAMILY.key(spec)) == spec


# -- the data file --------------------------------------------------------------------------


@pytest.mark.needs_data
def test_every_data_key_round_trips(benchmark_file: Callable[..., Path]) -> None:
    keys = _keys(benchmark_file(*DATA_FILE))
    assert len(keys) == 725
    for key in keys:
        assert FAMILY.key(FAMILY.parse(key)) == key


@pytest.mark.needs_data
def test_data_keys_fast_path_equals_fx_path_few(benchmark_file: Callable[..., Path]) -> None:
    keys = _keys(benchmark_file(*DATA_FILE))
    for key in keys[:3]:
        spec = FAMILY.parse(key)
        assert FAMILY.to_cg(spec).same_structure(FAMILY.trace_cg(spec)), key


@pytest.mark.needs_data
@pytest.mark.slow
def test_data_keys_fast_path_equals_fx_path(benchmark_file: Callable[..., Path]) -> None:
    keys = _keys(benchmark_file(*DATA_FILE))
    for i in np.random.default_rng(0).choice(len(keys), 50, replace=False):
        spec = FAMILY.parse(keys[int(i)])
        assert FAMILY.to_cg(spec).same_structure(FAMILY.trace_cg(spec)), keys[int(i)]
