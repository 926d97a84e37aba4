"""The ofa-mbv3 family: keys, validation, the data file's params and MACs, graphs vs modules."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from cg_ir import ComputationGraph, InvalidSpecError, families
from cg_ir.families.ofa_mbv3 import FAMILY, RESOLUTIONS, OfaMbv3Family, OfaMbv3Spec
from cg_ir.testing.strategies import ofa_mbv3_specs

from .module_checks import assert_graph_matches_module, trainable_params, weighted_flops

DATA_FILE = ("ofa-mbv3", "ofa_mbv3_w10_imagenet_top1.csv")


def _data_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _row_key(row: dict[str, str]) -> str:
    # the form cg-predict's loader builds: every slot kept, comma-joined
    join = ",".join
    return (
        f"ks={join(row['ks'].split())}|e={join(row['e'].split())}"
        f"|d={join(row['d'].split())}|r={row['r']}"
    )


def _spec(
    ks: int = 3, e: int = 3, d: tuple[int, ...] = (2, 2, 2, 2, 2), r: int = 224
) -> OfaMbv3Spec:
    return OfaMbv3Spec((ks,) * 20, (e,) * 20, d, r)


# -- keys and validation --------------------------------------------------------------------


def test_registered_under_its_name() -> None:
    assert families.get("ofa-mbv3") is FAMILY


def test_unused_slots_are_canonicalised() -> None:
    spec = _spec(ks=7, e=6, d=(2, 3, 4, 2, 2))
    assert (
        spec.ks[:4] == (7, 7, 3, 3) and spec.ks[4:8] == (7, 7, 7, 3) and spec.ks[8:12] == (7,) * 4
    )
    assert spec.e[16:] == (6, 6, 3, 3)
    key = FAMILY.key(spec)
    assert key.startswith("ks=7,7,3,3,7,7,7,3,7,7,7,7,7,7,3,3,7,7,3,3|e=6,6,3,3,")
    assert key.endswith("|d=2,3,4,2,2|r=224")
    assert FAMILY.parse(key) == spec
    # any valid choice in an unused slot names the same network
    other = key.replace("ks=7,7,3,3", "ks=7,7,5,7")
    assert other != key and FAMILY.key(FAMILY.parse(other)) == key


def test_parse_accepts_spaces_around_values() -> None:
    key = FAMILY.key(_spec())
    assert FAMILY.parse(key.replace(",", ", ").replace("|", " | ")) == _spec()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("ks=3", "lacks field(s) ['e', 'd', 'r']"),
        ("ks=3|e=3|d=2|r=224|x=1", "bad or repeated field 'x=1'"),
        ("ks=3|ks=3|e=3|d=2", "bad or repeated field 'ks=3'"),
        ("hello", "bad or repeated field 'hello'"),
        ("ks=a|e=3|d=2|r=224", "not an integer"),
        (
            "ks=" + ",".join(["3"] * 19) + "|e=3|d=2|r=224",
            "ks needs 20 entries (5 stages x 4 slots), got 19",
        ),
    ],
)
def test_parse_rejects_malformed_keys(key: str, message: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        FAMILY.parse(key)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ks": (3,) * 19}, "ks needs 20 entries (5 stages x 4 slots), got 19"),
        ({"e": (3,) * 21}, "e needs 20 entries"),
        ({"d": (2, 2, 2, 2)}, "d needs 5 entries, got 4"),
        ({"d": (2, 2, 5, 2, 2)}, "d[2] (stage 3) = 5 is not a depth; choose from (2, 3, 4)"),
        ({"d": (1, 2, 2, 2, 2)}, "d[0] (stage 1) = 1 is not a depth"),
        (
            {"ks": (3,) * 5 + (4,) + (3,) * 14},
            "ks[5] (stage 2, slot 2) = 4 is not one of (3, 5, 7)",
        ),
        ({"e": (3,) * 19 + (5,)}, "e[19] (stage 5, slot 4) = 5 is not one of (3, 4, 6)"),
        (
            {"r": 225},
            "r = 225 is not a resolution of the space; choose a multiple of 4 from 128 to 224",
        ),
        ({"r": 256}, "r = 256 is not a resolution"),
        ({"r": 224.0}, "r must be an integer resolution"),
        ({"ks": (3.0,) * 20}, "ks must hold integers"),
        ({"d": (True,) * 5}, "d must hold integers"),
    ],
)
def test_spec_rejects_invalid_fields(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"ks": (3,) * 20, "e": (3,) * 20, "d": (2,) * 5, "r": 224}
    fields.update(kwargs)
    with pytest.raises(InvalidSpecError) as info:
        OfaMbv3Spec(**fields)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_family_rejects_resolutions_outside_the_space() -> None:
    with pytest.raises(InvalidSpecError, match=r"not in the space: \[100\]"):
        OfaMbv3Family(resolutions=(100, 224))
    with pytest.raises(InvalidSpecError, match="non-empty"):
        OfaMbv3Family(resolutions=())


# -- sample and mutate ----------------------------------------------------------------------


def test_sample_is_seeded_and_covers_resolutions() -> None:
    a = [FAMILY.sample(np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(0)
    specs = [FAMILY.sample(rng) for _ in range(200)]
    assert {s.r for s in specs} <= set(RESOLUTIONS) and len({s.r for s in specs}) > 10
    assert {d for s in specs for d in s.d} == {2, 3, 4}
    fixed = OfaMbv3Family(resolutions=(224,))
    assert {fixed.sample(rng).r for _ in range(20)} == {224}


def test_mutate_changes_the_graph() -> None:
    rng = np.random.default_rng(1)
    for family in (FAMILY, OfaMbv3Family(resolutions=(224,))):
        spec = family.sample(rng)
        for _ in range(40):
            child = family.mutate(spec, rng)
            assert family.key(child) != family.key(spec)
            assert family.to_cg(child).canonical_hash() != family.to_cg(spec).canonical_hash()
            if family is not FAMILY:
                assert child.r == 224
            spec = child


# -- the data file --------------------------------------------------------------------------


@pytest.mark.needs_data
def test_data_file_keys_params_and_macs(benchmark_file: Callable[..., Path]) -> None:
    rows = _data_rows(benchmark_file(*DATA_FILE))
    assert len(rows) == 2223
    canonical: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        spec = FAMILY.parse(_row_key(row))
        canonical.setdefault(FAMILY.key(spec), []).append(row)
    assert len(canonical) == 2162  # 57 groups of 118 rows collapse to 57 keys
    assert sum(1 for group in canonical.values() if len(group) > 1) == 57
    assert sum(len(group) for group in canonical.values() if len(group) > 1) == 118
    for key, group in canonical.items():
        graph = FAMILY.to_cg(FAMILY.parse(key))
        for row in group:
            assert graph.params == int(row["params"]), key
            # the published MACs are exactly the conv and linear multiply-accumulates
            assert weighted_flops(graph) // 2 == int(row["macs"]), key


@pytest.mark.needs_data
def test_data_file_params_equal_real_modules(benchmark_file: Callable[..., Path]) -> None:
    rows = _data_rows(benchmark_file(*DATA_FILE))
    picks = np.random.default_rng(0).choice(len(rows), 20, replace=False)
    for i in picks:
        spec = FAMILY.parse(_row_key(rows[i]))
        assert trainable_params(FAMILY.to_module(spec)) == int(rows[i]["params"])


# -- graphs against the real module ---------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    # small resolutions: a CPU forward pass of the largest subnet at 224 takes seconds
    [_spec(ks=7, e=6, d=(4, 4, 4, 4, 4), r=128), _spec(ks=5, e=4, d=(3, 2, 4, 3, 2), r=132)],
)
def test_graph_matches_module(spec: OfaMbv3Spec) -> None:
    graph = assert_graph_matches_module(FAMILY, spec, logits=1000)
    assert graph.input_shape == (3, spec.r, spec.r)


def test_fast_graph_equals_traced_graph() -> None:
    for spec in (_spec(), _spec(ks=7, e=6, d=(4, 3, 2, 4, 3), r=160)):
        assert FAMILY.to_cg(spec).same_structure(FAMILY.trace_cg(spec))


def test_graph_shape_and_json_round_trip() -> None:
    graph = FAMILY.to_cg(_spec(d=(2, 3, 2, 2, 4)))
    hist = graph.op_histogram()
    # stem + first block + 13 stage blocks + final expand + feature mix
    assert hist["depthwise_conv"] == 14
    assert hist["mul"] == 3 + 2 + 4  # SE in stages 2, 4, 5
    assert hist["add"] == 1 + (2 + 1 + 1 + 1 + 3)  # the first block + all but each stage's first
    again = ComputationGraph.from_json(graph.to_json())
    assert again == graph and again.canonical_hash() == graph.canonical_hash()


@pytest.mark.property
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ofa_mbv3_specs())
def test_property_fast_path_equals_module(spec: OfaMbv3Spec) -> None:
    graph = FAMILY.to_cg(spec)
    assert FAMILY.parse(FAMILY.key(spec)) == spec
    assert ComputationGraph.from_json(graph.to_json()) == graph
    assert graph.same_structure(FAMILY.trace_cg(spec))
    assert graph.params == trainable_params(FAMILY.to_module(spec))


@pytest.mark.property
@settings(max_examples=30, deadline=None)
@given(ofa_mbv3_specs(), ofa_mbv3_specs())
def test_property_keys_identify_networks(a: OfaMbv3Spec, b: OfaMbv3Spec) -> None:
    assert (FAMILY.key(a) == FAMILY.key(b)) == (a == b)
    if a != b:
        assert FAMILY.to_cg(a).canonical_hash() != FAMILY.to_cg(b).canonical_hash()
    child = FAMILY.mutate(a, np.random.default_rng(0))
    assert FAMILY.to_cg(child).canonical_hash() != FAMILY.to_cg(a).canonical_hash()
