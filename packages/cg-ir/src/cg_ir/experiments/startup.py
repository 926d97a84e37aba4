"""Start-up cost of the ``cgnas`` command, in fresh processes: the ``cli-startup`` experiment.

Target (issue "cg-ir: the networks people actually write", section 3): ``cgnas --help`` and
``cgnas <command> --help`` answer in under ``HELP_TARGET_S``. Every installed command is timed
(cg-ir's own and each package's plugin, entry-point group ``cgnas.commands``), and, where a
``predict`` command is installed, a user's first prediction: ``cgnas predict --module`` on a
small CNN written to a temporary file (interpreter start, torch, the shipped checkpoint,
tracing and scoring). Each command runs once untimed, so the file cache is warm for all alike,
then ``runs`` times; the median and fastest wall time and the median CPU time (user + system)
of the child process, and of this one starting it, are reported (``cg_ir.timing``), the CPU
time being what other load on the machine inflates least. Whether the environment forbids
writing bytecode caches (``PYTHONDONTWRITEBYTECODE``) is recorded: then every process compiles
again each module without a cached bytecode file (here a first prediction took 12.7 s before
torch-geometric's caches existed, 7 s after).

The results are keyed by the code of every installed command (``cli_startup``), not only
cg-ir's: a plugin's new option changes what its ``--help`` imports.

Examples:
    >>> [row["command"] for row in time_commands({"python": [sys.executable, "-c", "0"]}, 1)]
    ['python']
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from cg_ir.cli.program import BUILTIN_COMMANDS, COMMAND_GROUP
from cg_ir.experiments._framework import Experiment, RunContext
from cg_ir.timing import timed

__all__ = ["HELP_TARGET_S", "cli_startup", "time_commands"]

HELP_TARGET_S = 1.0
_SMALL_NET = """\
import torch.nn as nn


def build():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )
"""


def _cgnas() -> list[str]:
    """The installed ``cgnas`` console script next to this interpreter (what a user runs)."""
    script = Path(sys.executable).with_name("cgnas")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cg_ir.cli"]


def _plugin_modules() -> dict[str, str]:
    """``{command: module}`` of every installed plugin command."""
    return {point.name: point.module for point in entry_points(group=COMMAND_GROUP)}


def _commands(net: Path) -> dict[str, list[str]]:
    """What a user runs first: every command's ``--help`` and a first prediction."""
    cgnas = _cgnas()
    names = [*BUILTIN_COMMANDS, *sorted(set(_plugin_modules()) - set(BUILTIN_COMMANDS))]
    commands = {"cgnas --help": [*cgnas, "--help"]}
    commands.update({f"cgnas {name} --help": [*cgnas, name, "--help"] for name in names})
    if "predict" in names:
        commands["cgnas predict --module (first prediction)"] = [
            *cgnas, "predict", "--module", f"{net}:build", "--input-shape", "1,3,32,32",
        ]  # fmt: skip
    return commands


def _time_command(command: Sequence[str], runs: int) -> dict[str, Any]:
    """Wall and CPU seconds of ``runs`` runs after an untimed one, and that run's error line."""
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    error = "" if first.returncode == 0 else (first.stderr.strip().splitlines() or ["?"])[-1]
    runs_timed = [
        timed(lambda: subprocess.run(command, capture_output=True, check=False))
        for _ in range(runs)
    ]
    walls = [run.wall_s for run in runs_timed]
    return {
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "cpu_s": statistics.median(run.cpu_s for run in runs_timed),
        "error": error,
    }


def time_commands(commands: Mapping[str, Sequence[str]], runs: int) -> list[dict[str, Any]]:
    """One row per command: its name and ``_time_command``'s figures."""
    return [{"command": name, **_time_command(command, runs)} for name, command in commands.items()]


def _startup(ctx: RunContext) -> dict[str, Any]:
    runs = 2 if ctx.quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        net = Path(tmp) / "small_net.py"
        net.write_text(_SMALL_NET)
        rows = time_commands(_commands(net), runs)
    failed = [f"{row['command']}: {row['error']}" for row in rows if row["error"]]
    if failed:  # a command that fails measures nothing
        raise ValueError(f"commands failed: {'; '.join(failed)}")
    report = {
        "runs": runs,
        "help_target_s": HELP_TARGET_S,
        "no_bytecode_cache": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
        "rows": rows,
    }
    ctx.write_json("cli-startup.json", report)
    columns = ["median_s", "min_s", "cpu_s"]
    table = [[row["command"], *(row[column] for column in columns)] for row in rows]
    ctx.write_csv("cli-startup.csv", ["command", *columns], table)
    helps = [row["median_s"] for row in rows if "--help" in row["command"]]
    over = sum(seconds >= HELP_TARGET_S for seconds in helps)
    return {"slowest --help (s)": max(helps), f"--help over {HELP_TARGET_S:g} s": over}


def cli_startup() -> Experiment:
    """The ``cli-startup`` experiment, keyed by the code of every installed command."""
    modules = set(_plugin_modules().values())
    code = {"cg_ir", "cg_ir.cli", *modules, *(module.split(".")[0] for module in modules)}
    return Experiment(
        "cli-startup",
        "Start-up of the cgnas command: every --help and a first prediction",
        _startup,
        code=tuple(sorted(code)),
        order=14,
        quick_minutes=1,
        full_minutes=2,
    )
