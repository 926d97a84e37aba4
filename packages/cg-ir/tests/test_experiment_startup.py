"""``cli-startup``: the ``cgnas`` command's start-up, timed in fresh processes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cg_ir.experiments import ReproduceConfig, reproduce, startup
from cg_ir.provenance import code_digest


def _quick_commands(net: Path) -> dict[str, list[str]]:
    return {"cgnas --help": [*startup._cgnas(), "--help"]}


def test_time_commands_reports_wall_and_cpu_seconds_and_the_error_line() -> None:
    ok, failing = startup.time_commands(
        {
            "ok": [sys.executable, "-c", "0"],
            "failing": [sys.executable, "-c", "import sys; sys.exit('broken input')"],
        },
        runs=2,
    )
    assert ok["command"] == "ok" and ok["error"] == ""
    assert 0 < ok["min_s"] <= ok["median_s"] and ok["cpu_s"] >= 0
    assert failing["error"] == "broken input"


def test_every_installed_command_is_timed_with_a_first_prediction(tmp_path: Path) -> None:
    commands = startup._commands(tmp_path / "net.py")
    helps = {name for name in commands if name.endswith("--help")}
    assert "cgnas --help" in helps and "cgnas convert --help" in helps
    assert {f"cgnas {name} --help" for name in startup._plugin_modules()} <= helps
    assert "cgnas predict --module (first prediction)" in commands


def test_the_key_covers_the_code_of_every_installed_command() -> None:
    experiment = startup.cli_startup()
    assert {"cg_ir", "cg_ir.cli", *startup._plugin_modules().values()} <= set(experiment.code)
    assert len(code_digest(*experiment.code)) == 64


def test_the_experiment_writes_its_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(startup, "_commands", _quick_commands)
    [record] = reproduce([startup.cli_startup()], ReproduceConfig(out=tmp_path, progress=False))
    assert record.status == "ran", record.message
    report = json.loads((tmp_path / "cli-startup" / "cli-startup.json").read_text())
    assert [row["command"] for row in report["rows"]] == ["cgnas --help"]
    assert report["help_target_s"] == startup.HELP_TARGET_S
    assert isinstance(report["no_bytecode_cache"], bool)
    assert record.headline[f"--help over {startup.HELP_TARGET_S:g} s"] in (0, 1)
    header = (tmp_path / "cli-startup" / "cli-startup.csv").read_text().splitlines()[0]
    assert header == "command,median_s,min_s,cpu_s"


def test_a_failing_command_fails_the_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        startup, "_commands", lambda net: {"bad": [*startup._cgnas(), "no-such-command"]}
    )
    [record] = reproduce([startup.cli_startup()], ReproduceConfig(out=tmp_path, progress=False))
    assert record.status == "failed"
    assert record.message.startswith("ValueError: commands failed: bad: ")
    assert not (tmp_path / "cli-startup" / "cli-startup.json").exists()
