"""``cgnas proxy-agreement``: live proxies against NAS-Bench-Suite-Zero's, from the command line."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from cg_ir.cli import main

pytestmark = pytest.mark.needs_data


def test_entry_point_is_declared() -> None:
    points = {ep.name: ep.value for ep in entry_points(group="cgnas.commands")}
    assert points.get("proxy-agreement") == "cg_predict.cli:register_proxy_agreement"


def test_a_run_prints_writes_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["proxy-agreement", "--targets", "nb201/cifar10", "--n-cells", "3"]
    argv += ["--proxies", "synflow,flops", "--no-progress", "-o", str(tmp_path)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "nb201 cifar10: 3 cells" in printed and "synflow" in printed
    run = tmp_path / "nb201-cifar10-smooth.json"  # the default input
    saved = json.loads(run.read_text())
    assert saved["config"]["n_cells"] == 3 and set(saved["proxies"]) == {"synflow", "flops"}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {(r["proxy"], r["input"]) for r in summary} == {
        ("synflow", "smooth"),
        ("flops", "smooth"),
    }
    assert main(argv) == 0  # every cell is in the file: reused, timings included
    assert json.loads(run.read_text())["proxies"] == saved["proxies"]


def test_an_unknown_target_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["proxy-agreement", "--targets", "nb999", "--n-cells", "2", "-o", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nb999" in err[0]


@pytest.mark.parametrize(
    ("option", "value"), [("--proxies", "synflow,sinflow"), ("--inputs", "noise")]
)
def test_an_unknown_name_is_refused_while_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    assert main(["proxy-agreement", option, value, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and value in err[0] and "of " in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_the_parsers_names_are_the_registries() -> None:
    from cg_predict.cli.names import DEFAULT_INPUT_NAME, PROXY_NAMES, SYNTHETIC_INPUT_NAMES
    from cg_predict.proxies import ALL, DEFAULT_INPUT, SYNTHETIC_INPUTS

    assert PROXY_NAMES == tuple(ALL)
    assert SYNTHETIC_INPUT_NAMES == tuple(sorted(SYNTHETIC_INPUTS))
    assert DEFAULT_INPUT_NAME == DEFAULT_INPUT
