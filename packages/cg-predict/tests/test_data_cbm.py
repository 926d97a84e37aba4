"""Channel-Bench-Macro loader: the real files and tiny malformed ones."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from cg_predict.data import (
    BENCHMARKS,
    CBM_FAMILIES,
    clear_table_cache,
    load_benchmark,
    load_channel_bench_macro,
)
from cg_predict.errors import (
    BenchmarkDataError,
    InvalidArgumentError,
    InvalidLabelError,
    MalformedDataError,
)
from cg_predict.metrics import spearman

ROW: dict[str, Any] = {
    "acc": [91.0, 91.5, 91.25],
    "std": 0.2,
    "flops": 120_000_000,
    "params": 700_000,
    "mean": 91.25,
}


def _write(tmp_path: Path, text: str, family: str = "cbm-mobilenet") -> Path:
    """A data folder under tmp_path whose ``family`` file holds ``text``."""
    path = tmp_path / "channel-bench-macro" / CBM_FAMILIES[family]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return tmp_path


def _with(**fields: Any) -> str:
    """A one-architecture file whose row has ``fields`` changed (None: removed)."""
    row = {k: v for k, v in {**ROW, **fields}.items() if v is not None}
    return json.dumps({"4432214": row})


# -- the fixtures and the registry -------------------------------------------------------------


@pytest.mark.parametrize("family", sorted(CBM_FAMILIES))
def test_records_carry_label_costs_and_runs(test_assets: Path, family: str) -> None:
    table = load_channel_bench_macro(family, test_assets)
    assert (table.name, table.family, table.dataset, table.label_name) == (
        family,
        family,
        "cifar10",
        "mean",
    )
    assert table.keys == ("4444444", "1111111", "4432214")  # file order
    assert table.proxy_names == ("flops", "params")
    record = table.get("4444444")
    assert record.extra["acc_2"] == (91.75 if family == "cbm-mobilenet" else 93.75)
    assert set(record.extra) == {"acc_1", "acc_2", "acc_3", "std", "flops", "params"}


@pytest.mark.parametrize("family", sorted(CBM_FAMILIES))
def test_registered_as_benchmarks(test_assets: Path, family: str) -> None:
    assert BENCHMARKS[family] == (family, ("cifar10",))
    assert load_benchmark(family, test_assets) is load_channel_bench_macro(family, test_assets)
    with pytest.raises(InvalidArgumentError, match="has no dataset 'cifar100'; valid: cifar10"):
        load_benchmark(family, test_assets, dataset="cifar100")


def test_unknown_space(test_assets: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="valid: cbm-mobilenet, cbm-resnet"):
        load_channel_bench_macro("mobilenet", test_assets)


# -- missing and malformed files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "name"),
    [("cbm-mobilenet", "Results_MobileNet.json"), ("cbm-resnet", "Results_ResNet.json")],
)
def test_missing_file_says_where_to_get_it(tmp_path: Path, family: str, name: str) -> None:
    with pytest.raises(BenchmarkDataError) as info:
        load_benchmark(family, tmp_path)
    message = str(info.value)
    expected = tmp_path.resolve() / "channel-bench-macro" / name
    assert str(expected) in message and f"place it at channel-bench-macro/{name}" in message
    assert "xiusu/Channel-Bench-Macro" in message and "CGNAS_DATA_DIR" in message
    assert info.value.path == str(expected)
    assert isinstance(info.value, FileNotFoundError)


def test_truncated_json(test_assets: Path, tmp_path: Path) -> None:
    text = (test_assets / "channel-bench-macro" / "Results_ResNet.json").read_text()
    data_dir = _write(tmp_path, text[: len(text) // 2], "cbm-resnet")
    with pytest.raises(MalformedDataError, match="invalid JSON at line .*truncated or corrupt"):
        load_channel_bench_macro("cbm-resnet", data_dir)


def test_nan_label_names_the_key(tmp_path: Path) -> None:
    data_dir = _write(tmp_path, _with(mean=float("nan")))
    with pytest.raises(InvalidLabelError, match="architecture '4432214', label 'mean' is NaN"):
        load_channel_bench_macro("cbm-mobilenet", data_dir)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"flops": float("nan")}, MalformedDataError, "'4432214', 'flops' is nan; expected a fin"),
        ({"params": float("inf")}, MalformedDataError, "'params' is inf; expected a finite num"),
        ({"params": "700000"}, MalformedDataError, "'params' is '700000'; expected a finite"),
        ({"flops": True}, MalformedDataError, "'flops' is True"),
        ({"flops": -1}, MalformedDataError, "'flops' is -1; it cannot be negative"),
        ({"std": None}, MalformedDataError, "'4432214' lacks field(s) std"),
        ({"mean": None, "params": None}, MalformedDataError, "lacks field(s) mean, params"),
        ({"acc": [91.0, 91.5]}, MalformedDataError, "'acc' is [91.0, 91.5]; expected a list of 3"),
        ({"acc": 91.0}, MalformedDataError, "expected a list of 3 runs"),
        ({"acc": [91.0, float("nan"), 91.0]}, InvalidLabelError, "label 'acc[1]' is NaN"),
        ({"mean": 191.25}, InvalidLabelError, "is 191.25, outside the accuracy range"),
        ({"mean": "91.25"}, InvalidLabelError, "label 'mean' is '91.25', not a number"),
    ],
)
def test_bad_fields_name_key_and_field(
    tmp_path: Path, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    data_dir = _write(tmp_path, _with(**fields))
    with pytest.raises(error) as info:
        load_channel_bench_macro("cbm-mobilenet", data_dir)
    assert message in str(info.value)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps({"443221": ROW}), "key '443221' is not 7 digits 1-4"),
        (json.dumps({"4432215": ROW}), "key '4432215' is not 7 digits 1-4"),
        (json.dumps({"4432214": [1, 2]}), "architecture '4432214' holds list, not an object"),
        (json.dumps([ROW]), "top level is list; expected an object of 7-digit width keys"),
        ("{}", "top level is an empty object"),
        ('{"4432214": {}, "4432214": {}}', "duplicate JSON key '4432214'"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    data_dir = _write(tmp_path, text)
    with pytest.raises(MalformedDataError) as info:
        load_channel_bench_macro("cbm-mobilenet", data_dir)
    assert message in str(info.value)


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    data_dir = _write(tmp_path, _with())
    assert load_channel_bench_macro("cbm-mobilenet", data_dir).get("4432214").label == 91.25
    _write(tmp_path, _with(mean=91.5))  # another size, so the memo sees the change
    assert load_channel_bench_macro("cbm-mobilenet", data_dir).get("4432214").label == 91.5
    clear_table_cache()


# -- the real files ----------------------------------------------------------------------------


@pytest.mark.needs_data
@pytest.mark.parametrize(("family", "flops_rho"), [("cbm-mobilenet", 0.74), ("cbm-resnet", 0.86)])
def test_real_files_hold_every_configuration(family: str, flops_rho: float, data_dir: Path) -> None:
    table = load_benchmark(family, data_dir)
    every = {"".join(d) for d in itertools.product("1234", repeat=7)}
    assert len(table) == 16_384 and set(table.keys) == every
    labels = table.labels()
    assert 85.0 < labels.min() and labels.max() < 95.0
    for record in table.records[:200]:
        runs = [record.extra[f"acc_{i}"] for i in (1, 2, 3)]
        assert record.label == pytest.approx(sum(runs) / 3)
    # data README: FLOPs alone ranks each space well
    assert round(spearman(labels, table.proxy("flops")), 2) == flops_rho
