"""``cg_ir.timing.timed``: what every speed experiment's wall and CPU seconds come from."""

from __future__ import annotations

import subprocess
import sys
import time

from cg_ir.timing import timed


def _busy(seconds: float) -> int:
    """Spin for ``seconds`` of this process's CPU time; how many rounds it took."""
    start, rounds = time.process_time(), 0
    while time.process_time() - start < seconds:
        rounds += 1
    return rounds


def test_the_value_and_both_clocks_are_returned() -> None:
    result = timed(lambda: _busy(0.2))
    assert result.value > 0
    assert result.cpu_s >= 0.2  # this process's own CPU time counts
    # the CPU time was spent during the call; the two clocks tick apart, so the wall clock can
    # read a fraction of a millisecond less (seen: 0.19989 s against 0.20005 s of CPU)
    assert result.wall_s >= 0.19


def test_a_finished_child_process_counts_its_cpu_time() -> None:
    burn = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.3: pass"
    result = timed(lambda: subprocess.run([sys.executable, "-c", burn], check=True))
    assert result.cpu_s >= 0.3
