"""NAS-Bench-Suite-Zero JSON loader on tiny hand-made files."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from cg_predict.data import ArchRecord, load_zc_nasbench
from cg_predict.errors import InvalidArgumentError, InvalidLabelError, MalformedDataError

ZC = "nas-bench-suite-zero"


def _write(tmp_path: Path, family_file: str, content: str) -> Path:
    folder = tmp_path / ZC
    folder.mkdir(parents=True, exist_ok=True)
    (folder / family_file).write_text(content)
    return tmp_path


def _fixture(assets: Path, name: str) -> Any:
    return json.loads((assets / ZC / name).read_text())


def test_nb101_wrapped_layout_with_bare_numbers(test_assets: Path):
    table = load_zc_nasbench("nb101", "cifar10", test_assets)
    assert (len(table), table.family, table.dataset, table.label_name) == (
        3,
        "nb101",
        "cifar10",
        "val_accuracy",
    )
    assert table.labels().tolist() == [91.5, 88.25, 93.0]
    assert "val_accuracy" not in table.proxy_names
    assert {"flops", "params", "synflow", "jacov"} <= set(table.proxy_names)
    first = table[0]
    assert first.key.startswith("(0, 1, 0, 0, 0, 0, 0, 0, 0, 1,")
    assert first.proxies["flops"] == 0.5 and dict(first.extra) == {}


@pytest.mark.parametrize(("dataset", "best"), [("cifar10", 90.5), ("ImageNet16-120", 40.0)])
def test_nb201_flat_layout_with_score_dicts(test_assets: Path, dataset: str, best: float):
    table = load_zc_nasbench("nb201", dataset, test_assets)
    assert len(table) == 3 and table.labels().max() == best
    record = table.get("(2, 2, 2, 2, 2, 2)")
    assert record.dataset == dataset
    assert record.info == {"idx": "2", "arch": "(2, 2, 2, 2, 2, 2)"}
    assert record.extra["synflow_time"] == pytest.approx(0.5 + 0.1 * 10)
    # the published file has one -inf nwot; it is kept as published
    assert table.get("(1, 1, 1, 1, 1, 1)").proxies["nwot"] == -math.inf


def test_nb301_keys_are_the_naslib_strings(test_assets: Path):
    table = load_zc_nasbench("nb301", "cifar10", test_assets)
    assert table.keys[0].startswith("[[(0, 0), (1, 5),")
    assert table.source.endswith("zc_nasbench301.json")


def test_both_layouts_are_accepted_for_any_family(test_assets: Path, tmp_path: Path):
    # NB-101 content in the flat layout with {"score", "time"} entries
    wrapped = _fixture(test_assets, "zc_nasbench101.json")["nasbench101"]
    for fields in wrapped["cifar10"].values():
        for name in list(fields):
            if name != "val_accuracy":
                fields[name] = {"score": fields[name], "time": 1.5}
    _write(tmp_path, "zc_nasbench101.json", json.dumps(wrapped))
    table = load_zc_nasbench("nb101", "cifar10", tmp_path)
    assert table.labels().tolist() == [91.5, 88.25, 93.0]
    assert table[0].proxies["flops"] == 0.5 and table[0].extra["flops_time"] == 1.5


def test_truncated_json_names_file_and_position(test_assets: Path, tmp_path: Path):
    text = (test_assets / ZC / "zc_nasbench201.json").read_text()
    _write(tmp_path, "zc_nasbench201.json", text[: len(text) // 2])
    with pytest.raises(MalformedDataError, match=r"invalid JSON at line \d+ column \d+") as info:
        load_zc_nasbench("nb201", "cifar10", tmp_path)
    assert "zc_nasbench201.json" in str(info.value) and "truncated" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_nan_label_is_rejected_with_the_key(test_assets: Path, tmp_path: Path):
    data = _fixture(test_assets, "zc_nasbench201.json")
    data["cifar100"]["(2, 2, 2, 2, 2, 2)"]["val_accuracy"] = float("nan")
    _write(tmp_path, "zc_nasbench201.json", json.dumps(data))
    with pytest.raises(InvalidLabelError, match=r"'\(2, 2, 2, 2, 2, 2\)'.*NaN"):
        load_zc_nasbench("nb201", "cifar100", tmp_path)
    # the other datasets of the same file are still readable
    assert len(load_zc_nasbench("nb201", "cifar10", tmp_path)) == 3


@pytest.mark.parametrize("label", [100.5, -1.0, "92.1", None, True])
def test_out_of_range_or_non_numeric_label(test_assets: Path, tmp_path: Path, label: object):
    data = _fixture(test_assets, "zc_nasbench301.json")
    key = next(iter(data["cifar10"]))
    data["cifar10"][key]["val_accuracy"] = label
    _write(tmp_path, "zc_nasbench301.json", json.dumps(data))
    with pytest.raises(InvalidLabelError, match="val_accuracy"):
        load_zc_nasbench("nb301", "cifar10", tmp_path)


def test_missing_label_field(test_assets: Path, tmp_path: Path):
    data = _fixture(test_assets, "zc_nasbench301.json")
    del next(iter(data["cifar10"].values()))["val_accuracy"]
    _write(tmp_path, "zc_nasbench301.json", json.dumps(data))
    with pytest.raises(MalformedDataError, match="no 'val_accuracy'"):
        load_zc_nasbench("nb301", "cifar10", tmp_path)


def test_duplicate_key_in_json_is_rejected(tmp_path: Path):
    key = '"(0, 2, 3, 2, 3, 1)"'
    entry = '{"val_accuracy": 50.0, "flops": {"score": 1.0, "time": 0.1}}'
    _write(tmp_path, "zc_nasbench201.json", f'{{"cifar10": {{{key}: {entry}, {key}: {entry}}}}}')
    with pytest.raises(MalformedDataError, match="duplicate JSON key"):
        load_zc_nasbench("nb201", "cifar10", tmp_path)


@pytest.mark.parametrize(
    ("key", "family"),
    [("(0, 2, 3, 2, 3)", "nb201"), ("(0, 2, 3, 2, 3, 5)", "nb201"), ("0,2,3,2,3,1", "nb201")],
)
def test_key_in_wrong_encoding_is_rejected(tmp_path: Path, key: str, family: str):
    content = {"cifar10": {key: {"val_accuracy": 50.0, "flops": 1.0}}}
    _write(tmp_path, "zc_nasbench201.json", json.dumps(content))
    with pytest.raises(MalformedDataError, match="NASLib 6-tuple"):
        load_zc_nasbench(family, "cifar10", tmp_path)


@pytest.mark.parametrize("score", ["1.0", {"time": 1.0}, {"score": None}, None, [1.0]])
def test_unreadable_proxy_score(tmp_path: Path, score: object):
    content = {"cifar10": {"(0, 2, 3, 2, 3, 1)": {"val_accuracy": 50.0, "synflow": score}}}
    _write(tmp_path, "zc_nasbench201.json", json.dumps(content))
    with pytest.raises(MalformedDataError, match="proxy 'synflow'"):
        load_zc_nasbench("nb201", "cifar10", tmp_path)


def test_missing_dataset_lists_what_the_file_has(test_assets: Path, tmp_path: Path):
    shutil.copytree(test_assets / ZC, tmp_path / ZC)
    data = _fixture(test_assets, "zc_nasbench201.json")
    del data["cifar100"]
    (tmp_path / ZC / "zc_nasbench201.json").write_text(json.dumps(data))
    with pytest.raises(MalformedDataError, match="no dataset 'cifar100'.*cifar10, ImageNet16-120"):
        load_zc_nasbench("nb201", "cifar100", tmp_path)


def test_arch_field_must_match_key(tmp_path: Path):
    content = {
        "cifar10": {"(0, 2, 3, 2, 3, 1)": {"val_accuracy": 50.0, "arch": "(0, 0, 0, 0, 0, 0)"}}
    }
    _write(tmp_path, "zc_nasbench201.json", json.dumps(content))
    with pytest.raises(MalformedDataError, match="different 'arch'"):
        load_zc_nasbench("nb201", "cifar10", tmp_path)


def test_unknown_family_or_dataset_lists_valid_options(test_assets: Path):
    with pytest.raises(InvalidArgumentError, match="nb101, nb201, nb301"):
        load_zc_nasbench("ofa-mbv3", "imagenet", test_assets)
    with pytest.raises(InvalidArgumentError, match="valid: cifar10$"):
        load_zc_nasbench("nb101", "cifar100", test_assets)


def test_records_are_immutable_and_hashable(test_assets: Path):
    record = load_zc_nasbench("nb101", "cifar10", test_assets)[0]
    assert isinstance(record, ArchRecord)
    with pytest.raises(AttributeError):
        record.label = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        record.proxies["flops"] = 1.0  # type: ignore[index]
    assert hash(record) == hash(load_zc_nasbench("nb101", "cifar10", test_assets)[0])
