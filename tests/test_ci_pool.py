"""tools/ci_pool.sh, which shares CI's pytest runs between two workers: exit status, output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

POOL = Path(__file__).resolve().parents[1] / "tools" / "ci_pool.sh"


def pool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(POOL), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_every_command_runs_and_its_output_is_printed_whole() -> None:
    done = pool("echo one; echo two", "echo three")
    assert done.returncode == 0, done.stderr
    assert "[ci] >>> echo one; echo two\none\ntwo\n[ci] <<< exit 0 after" in done.stdout
    assert "three\n" in done.stdout


@pytest.mark.parametrize(
    ("status", "message"), [(5, "collected no tests (exit 5)"), (3, "failed (exit 3)")]
)
def test_a_failing_command_fails_the_pool(status: int, message: str) -> None:
    done = pool(f"exit {status}", "true")
    assert done.returncode == 1
    assert f"{message}: exit {status}" in done.stderr


def test_no_command_starts_after_a_failure() -> None:
    done = pool("-j", "1", "false", "echo never")
    assert done.returncode == 1
    assert "never" not in done.stdout
    assert "not started after a failure: echo never" in done.stderr


def test_two_workers_run_two_commands_at_once(tmp_path: Path) -> None:
    # each command waits for the other to start: one worker alone would never finish them
    first, second = tmp_path / "first", tmp_path / "second"
    wait_for = "for _ in $(seq 200); do [ -e {} ] && exit 0; sleep 0.1; done; exit 1"
    done = pool(
        f"touch {first}; {wait_for.format(second)}", f"touch {second}; {wait_for.format(first)}"
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("args", [(), ("-j", "0", "true"), ("-j", "two", "true")])
def test_a_bad_call_is_refused_with_usage(args: tuple[str, ...]) -> None:
    done = pool(*args)
    assert done.returncode == 2
    assert done.stderr.startswith("usage:")
