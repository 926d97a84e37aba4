"""The resnet family: keys, validation, enumeration, graphs vs real modules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from cg_ir import ComputationGraph, InvalidSpecError, families
from cg_ir.families.resnet import FAMILY, ResNetSpec
from cg_ir.testing.strategies import resnet_specs

from .module_checks import assert_graph_matches_module, trainable_params

BASIC = ResNetSpec("basic", (1, 2, 2, 1), (32, 64, 128, 256))
BOTTLENECK = ResNetSpec("bottleneck", (2, 1, 1, 3), (16, 48, 96, 128))


def test_registered_under_its_name() -> None:
    assert families.get("resnet") is FAMILY


def test_key_round_trip() -> None:
    key = "block=basic|depths=1,2,2,1|widths=32,64,128,256"
    assert FAMILY.parse(key) == BASIC and FAMILY.key(BASIC) == key
    assert FAMILY.parse(" widths=32, 64,128,256 | block=basic|depths=1,2,2,1") == BASIC


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("block=basic", "lacks field(s) ['depths', 'widths']"),
        (
            "block=basic|depths=1,1,1,1|widths=16,32,64,128|extra=1",
            "bad or repeated field 'extra=1'",
        ),
        ("resnet18", "bad or repeated field 'resnet18'"),
        ("block=basic|depths=1,x,1,1|widths=16,32,64,128", "not an integer"),
        (
            "block=wide|depths=1,1,1,1|widths=16,32,64,128",
            "block 'wide' is not a block type; choose from ('basic', 'bottleneck')",
        ),
        ("block=basic|depths=1,1,1|widths=16,32,64,128", "depths needs one integer per stage (4)"),
        (
            "block=basic|depths=1,5,1,1|widths=16,32,64,128",
            "depths[1] (stage 2) = 5 is not a depth; choose from (1, 2, 3, 4)",
        ),
        (
            "block=basic|depths=1,0,1,1|widths=16,32,64,128",
            "depths[1] (stage 2) = 0 is not a depth",
        ),
        (
            "block=basic|depths=1,1,1,1|widths=16,32,64,100",
            "widths[3] (stage 4) = 100 is not a width of that stage; choose from (128, 192, 256)",
        ),
        ("block=basic|depths=1,1,1,1|widths=32,16,64,128", "widths[1] (stage 2) = 16"),
    ],
)
def test_parse_rejects_invalid_keys(key: str, message: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        FAMILY.parse(key)
    assert message in str(info.value)


def test_spec_rejects_non_integers() -> None:
    with pytest.raises(InvalidSpecError, match="depths must hold integers"):
        ResNetSpec("basic", (1.0, 1, 1, 1), (16, 32, 64, 128))  # type: ignore[arg-type]
    with pytest.raises(InvalidSpecError, match="widths needs one integer per stage"):
        ResNetSpec("basic", (1, 1, 1, 1), 16)  # type: ignore[arg-type]


def test_enumerate_lists_every_spec_once() -> None:
    specs = list(itertools.islice(FAMILY.enumerate(), 0, None, 97))
    assert FAMILY.size == 41_472
    assert sum(1 for _ in FAMILY.enumerate()) == FAMILY.size
    assert len({FAMILY.key(s) for s in specs}) == len(specs)


def test_sample_is_seeded_and_mutate_changes_the_graph() -> None:
    assert FAMILY.sample(np.random.default_rng(5)) == FAMILY.sample(np.random.default_rng(5))
    rng = np.random.default_rng(2)
    spec = FAMILY.sample(rng)
    for _ in range(6):
        child = FAMILY.mutate(spec, rng)
        assert FAMILY.to_cg(child).canonical_hash() != FAMILY.to_cg(spec).canonical_hash()
        spec = child


@pytest.mark.parametrize("spec", [BASIC, BOTTLENECK])
def test_graph_matches_module(spec: ResNetSpec) -> None:
    graph = assert_graph_matches_module(FAMILY, spec, logits=10)
    blocks = sum(spec.depths)
    hist = graph.op_histogram()
    assert hist["add"] == blocks
    assert hist["conv"] == 1 + blocks * (2 if spec.block == "basic" else 3) + sum(
        1 for node in graph.nodes if node.name.endswith("shortcut.0")
    )


@pytest.mark.parametrize(
    "spec", [BASIC, BOTTLENECK, ResNetSpec("basic", (2, 1, 1, 1), (16, 32, 64, 128))]
)
def test_fast_graph_equals_traced_graph(spec: ResNetSpec) -> None:
    assert FAMILY.to_cg(spec).same_structure(FAMILY.trace_cg(spec))


def test_shortcuts_project_only_when_shapes_change() -> None:
    # stem 16 -> stage 1 width 16: identity; every other stage starts with a projection
    spec = ResNetSpec("basic", (2, 1, 1, 1), (16, 32, 64, 128))
    module = FAMILY.to_module(spec)
    projections = [n for n, m in module.named_modules() if n.endswith("shortcut.0")]
    assert projections == [
        "stages.1.0.shortcut.0",
        "stages.2.0.shortcut.0",
        "stages.3.0.shortcut.0",
    ]


@pytest.mark.property
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resnet_specs())
def test_property_graph_is_valid_and_exact(spec: ResNetSpec) -> None:
    graph = FAMILY.to_cg(spec)
    assert FAMILY.parse(FAMILY.key(spec)) == spec
    assert graph.same_structure(FAMILY.trace_cg(spec))
    assert graph.params == trainable_params(FAMILY.to_module(spec))
    assert ComputationGraph.from_json(graph.to_json()) == graph
    child = FAMILY.mutate(spec, np.random.default_rng(0))
    assert FAMILY.to_cg(child).canonical_hash() != graph.canonical_hash()
