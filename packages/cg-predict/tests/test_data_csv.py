"""NB-101 30k, NB-201 200-epoch and OFA-MobileNetV3 CSV loaders on tiny hand-made files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cg_predict.data import (
    load_nb101_csv,
    load_nb201_csv,
    load_ofa_mbv3,
    nb201_key_from_arch_str,
    ofa_key,
)
from cg_predict.errors import InvalidArgumentError, InvalidLabelError, MalformedDataError

NB101 = Path("nb101") / "nb101_nasbenchvis_30k.csv"
NB201 = Path("nb201") / "nb201_200ep_test_acc.csv"
OFA = Path("ofa-mbv3") / "ofa_mbv3_w10_imagenet_top1.csv"


def _edited(assets: Path, tmp_path: Path, relative: Path, old: str, new: str) -> Path:
    """A copy of one fixture file under tmp_path with ``old`` replaced (once) by ``new``."""
    text = (assets / relative).read_text()
    assert old in text
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / relative).write_text(text.replace(old, new, 1))
    return tmp_path


# --- NB-101 -------------------------------------------------------------------------------------


def test_nb101_keys_are_matrix_and_ops_as_in_the_row(test_assets: Path):
    table = load_nb101_csv(test_assets)
    assert len(table) == 3 and table.family == "nb101" and table.dataset == "cifar10"
    assert table.keys[2] == "0100|input|output"
    assert table.keys[1] == (
        "0111000001000010000100000|input|conv3x3-bn-relu|conv1x1-bn-relu|maxpool3x3|output"
    )
    assert table.labels().tolist() == [92.5, 89.75, 10.5]
    first = table[0]
    assert first.label_name == "val_acc_108"
    assert first.info["hash"] == "aaaa0000000000000000000000000001"
    assert first.proxies == {"params": 3000000.0}
    assert first.extra["train_seconds_108"] == 1500.5 and first.extra["val_acc_4"] == 50.5


def test_table_keys_are_built_once(test_assets: Path):
    """Callers index ``keys`` per record: rebuilding it on every access made that quadratic."""
    table = load_nb101_csv(test_assets)
    assert table.keys is table.keys
    assert table.keys == tuple(r.key for r in table)


@pytest.mark.parametrize(("epochs", "first"), [(4, 50.5), (12, 80.0), (36, 90.25), (108, 92.5)])
def test_nb101_epochs_choose_the_label(test_assets: Path, epochs: int, first: float):
    table = load_nb101_csv(test_assets, epochs=epochs)
    assert table.label_name == f"val_acc_{epochs}" and table[0].label == first


def test_nb101_bad_epochs(test_assets: Path):
    with pytest.raises(InvalidArgumentError, match="4, 12, 36, 108"):
        load_nb101_csv(test_assets, epochs=200)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("0100,input|output", "0110,input|output", "not strictly upper triangular"),
        ("0100,input|output", "010,input|output", "not 2x2 bits"),
        ("0100,input|output", "0100,input|conv3x3-bn-relu", "must start with 'input'"),
        ("maxpool3x3|output", "avgpool3x3|output", "op outside"),
        ("45.25", "n/a", r"line 3: column 'val_acc_4' is 'n/a'"),
        (",300.0", "", "line 4: expected 9 fields"),
    ],
)
def test_nb101_bad_rows_name_file_and_line(
    test_assets: Path, tmp_path: Path, old: str, new: str, message: str
):
    _edited(test_assets, tmp_path, NB101, old, new)
    with pytest.raises(MalformedDataError, match=message) as info:
        load_nb101_csv(tmp_path)
    assert "nb101_nasbenchvis_30k.csv" in str(info.value)


def test_nb101_missing_column(test_assets: Path, tmp_path: Path):
    _edited(test_assets, tmp_path, NB101, "val_acc_12,", "")
    with pytest.raises(MalformedDataError, match="missing column.*val_acc_12"):
        load_nb101_csv(tmp_path)


def test_nb101_nan_label_names_the_key(test_assets: Path, tmp_path: Path):
    _edited(test_assets, tmp_path, NB101, "10.5,", "nan,")
    with pytest.raises(InvalidLabelError, match=r"'0100\|input\|output'.*val_acc_108.*NaN"):
        load_nb101_csv(tmp_path)


def test_nb101_duplicate_cell_names_both_lines(test_assets: Path, tmp_path: Path):
    text = (test_assets / NB101).read_text()
    last = text.strip().splitlines()[-1]
    (tmp_path / NB101).parent.mkdir()
    (tmp_path / NB101).write_text(text + last + "\n")
    with pytest.raises(MalformedDataError, match=r"duplicate .* at line 5 \(first at line 4\)"):
        load_nb101_csv(tmp_path)


# --- NB-201 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dataset", "column", "best"),
    [
        ("cifar10", "cifar10_test", 94.0),
        ("cifar100", "cifar100_test", 72.5),
        ("ImageNet16-120", "imagenet16_120_test", 45.75),
    ],
)
def test_nb201_datasets(test_assets: Path, dataset: str, column: str, best: float):
    table = load_nb201_csv(dataset, test_assets)
    assert (len(table), table.dataset, table.label_name) == (3, dataset, column)
    record = table.get("(2, 2, 2, 2, 2, 2)")
    assert record.label == best and record.extra[column] == best
    assert record.info["arch_str"].startswith("|nor_conv_3x3~0|")
    assert table.proxy_names == ()


def test_nb201_unknown_dataset(test_assets: Path):
    with pytest.raises(InvalidArgumentError, match="cifar10, cifar100, ImageNet16-120"):
        load_nb201_csv("imagenet", test_assets)


def test_nb201_key_must_agree_with_arch_str(test_assets: Path, tmp_path: Path):
    _edited(test_assets, tmp_path, NB201, '"(4, 3, 3, 0, 0, 0)"', '"(4, 3, 0, 3, 0, 0)"')
    with pytest.raises(
        MalformedDataError, match=r"line 2: key '\(4, 3, 0, 3, 0, 0\)' but arch_str"
    ):
        load_nb201_csv("cifar10", tmp_path)


def test_nb201_label_out_of_range(test_assets: Path, tmp_path: Path):
    _edited(test_assets, tmp_path, NB201, "94.0,", "194.0,")
    with pytest.raises(InvalidLabelError, match=r"'\(2, 2, 2, 2, 2, 2\)'.*outside"):
        load_nb201_csv("cifar10", tmp_path)


def test_arch_str_conversion_orders_edges_like_naslib():
    # official order (0->1), (0->2) (1->2), (0->3) (1->3) (2->3); NASLib: 01 02 03 12 13 23
    arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|none~0|skip_connect~1|none~2|"
    assert nb201_key_from_arch_str(arch) == "(2, 3, 1, 4, 0, 1)"
    with pytest.raises(ValueError, match="not a NAS-Bench-201 string"):
        nb201_key_from_arch_str("|nor_conv_3x3~0|+|nor_conv_1x1~0|")
    with pytest.raises(ValueError, match="op outside"):
        nb201_key_from_arch_str(arch.replace("none~0", "conv~0"))


# --- OFA ----------------------------------------------------------------------------------------


def test_ofa_keys_labels_and_costs(test_assets: Path):
    table = load_ofa_mbv3(test_assets)
    assert (len(table), table.family, table.dataset, table.label_name) == (
        3,
        "ofa-mbv3",
        "imagenet",
        "top1",
    )
    key = "ks=" + ",".join(["7"] * 20) + "|e=" + ",".join(["6"] * 20) + "|d=4,4,4,4,4|r=224"
    record = table.get(key)
    assert record.label == 77.5
    assert record.proxies == {"macs": 600000000.0, "params": 7500000.0} == record.extra
    assert table.proxy("macs").tolist() == [150000000.0, 600000000.0, 350000000.0]


def test_ofa_key_helper():
    assert ofa_key(" 3 5 ", "4 6", "2", "224\n") == "ks=3,5|e=4,6|d=2|r=224"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("2 2 2 2 2,224", "2 2 2 2,224", "is not 'ks="),
        (
            "3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3,3",
            "9 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3,3",
            "is not",
        ),
        (",150000000,", ",lots,", "column 'macs'"),
    ],
)
def test_ofa_bad_rows(test_assets: Path, tmp_path: Path, old: str, new: str, message: str):
    _edited(test_assets, tmp_path, OFA, old, new)
    with pytest.raises(MalformedDataError, match=message):
        load_ofa_mbv3(tmp_path)


def test_ofa_missing_top1_column(test_assets: Path, tmp_path: Path):
    _edited(test_assets, tmp_path, OFA, "top1", "top5")
    with pytest.raises(MalformedDataError, match="missing column.*top1"):
        load_ofa_mbv3(tmp_path)


def test_fixture_copy_is_readable(test_assets: Path, tmp_path: Path):
    # guards the helpers above: an unedited copy loads like the original
    shutil.copytree(test_assets, tmp_path / "d")
    assert load_ofa_mbv3(tmp_path / "d").keys == load_ofa_mbv3(test_assets).keys
