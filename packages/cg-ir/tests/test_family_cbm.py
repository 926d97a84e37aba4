"""The Channel-Bench-Macro families: keys, validation, search, the data files, graphs vs modules."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from cg_ir import ComputationGraph, InvalidSpecError, families
from cg_ir.families import cbm_mobilenet, cbm_resnet
from cg_ir.families._cbm import CbmFamily, CbmSpec

from .module_checks import assert_graph_matches_module, trainable_params, weighted_flops

FAMILIES = {"cbm-mobilenet": cbm_mobilenet.FAMILY, "cbm-resnet": cbm_resnet.FAMILY}
DATA_FILES = {"cbm-mobilenet": "Results_MobileNet.json", "cbm-resnet": "Results_ResNet.json"}
# the largest and smallest networks, and mixed ones
KEYS = ["4444444", "1111111", "4432214", "1234123"]


@cache
def _data(path: Path) -> dict[str, dict[str, Any]]:
    with path.open() as f:
        data: dict[str, dict[str, Any]] = json.load(f)
    return data


def _macs(graph: ComputationGraph) -> int:
    # the files' ``flops`` are the multiply-accumulates of the convs and the linear layer
    return weighted_flops(graph) // 2


def _check_against_file(family: CbmFamily, key: str, row: dict[str, Any]) -> None:
    spec = family.parse(key)
    graph = family.to_cg(spec)
    with torch.device("meta"):  # parameter shapes without the cost of initialising them
        module = family.to_module(spec)
    assert trainable_params(module) == graph.params == row["params"], key
    assert _macs(graph) == row["flops"], key


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> CbmFamily:
    return FAMILIES[request.param]


# -- keys and validation --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_registered_under_its_name(name: str) -> None:
    assert families.get(name) is FAMILIES[name]
    assert FAMILIES[name].name == name and FAMILIES[name].size == 4**7


def test_key_round_trip(family: CbmFamily) -> None:
    spec = family.parse("4432214")
    assert spec == CbmSpec((4, 4, 3, 2, 2, 1, 4)) and family.key(spec) == "4432214"
    assert family.parse(" 4432214\n") == spec
    assert CbmSpec(tuple(np.array([4, 4, 3, 2, 2, 1, 4]))) == spec  # numpy integers too
    rng = np.random.default_rng(0)
    for _ in range(20):
        sample = family.sample(rng)
        assert family.parse(family.key(sample)) == sample


def test_widths_are_quarters_of_the_bases() -> None:
    mobilenet, resnet = cbm_mobilenet.FAMILY, cbm_resnet.FAMILY
    assert mobilenet.widths(mobilenet.parse("4444444")) == (128, 768, 768, 768, 256, 1536, 1024)
    assert mobilenet.widths(mobilenet.parse("1111111")) == (32, 192, 192, 192, 64, 384, 256)
    assert resnet.widths(resnet.parse("4444444")) == (256, 256, 256, 512, 512, 512, 512)
    assert resnet.widths(resnet.parse("1234123")) == (64, 128, 192, 512, 128, 256, 384)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (4432214, "a cbm-resnet key is a string of 7 digits 1-4, e.g. '4432214', got 4432214"),
        ("443221", "cbm-resnet key '443221' has 6 characters; expected 7 digits 1-4"),
        ("44322144", "has 8 characters"),
        ("", "has 0 characters"),
        ("4432215", "cbm-resnet key '4432215': character 7 is '5', not a digit 1-4"),
        ("0432214", "character 1 is '0', not a digit 1-4"),
        ("44 2214", "character 3 is ' '"),
        ("4,3,2,1", "character 2 is ','"),
    ],
)
def test_parse_rejects_malformed_keys(key: object, message: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        cbm_resnet.FAMILY.parse(key)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_parse_names_its_family() -> None:
    with pytest.raises(InvalidSpecError, match="cbm-mobilenet key '12' has 2 characters"):
        cbm_mobilenet.FAMILY.parse("12")


@pytest.mark.parametrize(
    ("digits", "message"),
    [
        ((4, 4, 3, 2, 2, 1), "holds 7 digits (one per layer), got 6: [4, 4, 3, 2, 2, 1]"),
        ((1,) * 8, "got 8"),
        ("4432214", "holds 7 digits in 1-4, got '4432214'"),
        (4432214, "holds 7 digits in 1-4, got 4432214"),
        ((4, 4, 3, 2, 2, 1, 5), "digits[6] (layer 7) = 5 is not one of (1, 2, 3, 4)"),
        ((0, 4, 3, 2, 2, 1, 4), "digits[0] (layer 1) = 0 is not one of"),
        ((4, 4.0, 3, 2, 2, 1, 4), "digits[1] = 4.0 is not an integer"),
        ((4, 4, True, 2, 2, 1, 4), "digits[2] = True is not an integer"),
    ],
)
def test_spec_rejects_invalid_digits(digits: object, message: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        CbmSpec(digits)  # type: ignore[arg-type]
    assert message in str(info.value)


# -- search: enumerate, sample, mutate ------------------------------------------------------


def test_enumerate_lists_every_spec_once_in_key_order(family: CbmFamily) -> None:
    keys = [family.key(spec) for spec in family.enumerate()]
    assert len(keys) == len(set(keys)) == family.size
    assert keys == sorted(keys) and keys[0] == "1111111" and keys[-1] == "4444444"


def test_sample_is_seeded_and_uniform_over_digits(family: CbmFamily) -> None:
    assert family.sample(np.random.default_rng(5)) == family.sample(np.random.default_rng(5))
    rng = np.random.default_rng(0)
    digits = np.array([family.sample(rng).digits for _ in range(400)])
    for layer in range(7):
        counts = np.bincount(digits[:, layer], minlength=5)[1:]
        assert counts.min() > 60  # 100 expected per digit and layer


def test_mutate_changes_one_layer_and_the_graph(family: CbmFamily) -> None:
    rng = np.random.default_rng(2)
    spec = family.sample(rng)
    for _ in range(30):
        child = family.mutate(spec, rng)
        changed = [i for i in range(7) if child.digits[i] != spec.digits[i]]
        assert len(changed) == 1
        assert family.to_cg(child).canonical_hash() != family.to_cg(spec).canonical_hash()
        spec = child


def test_sample_distinct_refuses_more_than_the_space(family: CbmFamily) -> None:
    with pytest.raises(InvalidSpecError, match="has only 16384 specs, 16385 requested"):
        family.sample_distinct(np.random.default_rng(0), 16_385)


# -- graphs against the real module ---------------------------------------------------------


@pytest.mark.parametrize("key", ["4444444", "2143414"])
def test_graph_matches_module(family: CbmFamily, key: str) -> None:
    spec = family.parse(key)
    graph = assert_graph_matches_module(family, spec, logits=10)
    assert graph.input_shape == (3, 32, 32)


def test_mobilenet_graph_shape() -> None:
    hist = cbm_mobilenet.FAMILY.to_cg(cbm_mobilenet.FAMILY.parse("4432214")).op_histogram()
    assert hist["depthwise_conv"] == 4 and hist["conv"] == 1 + 4 * 2 + 1
    assert hist["add"] == 3  # every block but the strided third one
    assert hist["batch_norm"] == 1 + 4 * 3 + 1 and hist["relu"] == 1 + 4 * 2 + 1


def test_resnet_graph_shape() -> None:
    hist = cbm_resnet.FAMILY.to_cg(cbm_resnet.FAMILY.parse("4432214")).op_histogram()
    assert "depthwise_conv" not in hist and hist["conv"] == 1 + 5 * 2
    assert hist["add"] == 4  # every block but the strided third one
    assert hist["relu"] == 1 + 5 * 2


@pytest.mark.parametrize("key", KEYS)
def test_fast_graph_equals_traced_graph(family: CbmFamily, key: str) -> None:
    spec = family.parse(key)
    assert family.to_cg(spec).same_structure(family.trace_cg(spec))


@pytest.mark.slow
def test_fast_graph_equals_traced_graph_on_many_specs(family: CbmFamily) -> None:
    for spec in family.sample_distinct(np.random.default_rng(1), 150):
        assert family.to_cg(spec).same_structure(family.trace_cg(spec)), family.key(spec)


# -- the data files -------------------------------------------------------------------------


@pytest.mark.needs_data
def test_data_file_params_equal_real_modules(
    family: CbmFamily, benchmark_file: Callable[..., Path]
) -> None:
    data = _data(benchmark_file("channel-bench-macro", DATA_FILES[family.name]))
    keys = sorted(data)
    for i in np.random.default_rng(0).choice(len(keys), 25, replace=False):
        key = keys[int(i)]
        module = family.to_module(family.parse(key))
        assert trainable_params(module) == data[key]["params"], key
        _check_against_file(family, key, data[key])


@pytest.mark.slow
@pytest.mark.needs_data
def test_data_file_holds_every_spec_with_its_params_and_macs(
    family: CbmFamily, benchmark_file: Callable[..., Path]
) -> None:
    data = _data(benchmark_file("channel-bench-macro", DATA_FILES[family.name]))
    assert sorted(data) == [family.key(spec) for spec in family.enumerate()]
    for key, row in data.items():
        _check_against_file(family, key, row)
