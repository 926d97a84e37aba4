"""``cg_ir.timing.timed``: what every speed experiment's wall and CPU seconds come from."""

from __future__ import annotations

import subprocess
import sys

from cg_ir.timing import timed


def test_the_value_and_both_clocks_are_returned() -> None:
    result = timed(lambda: sorted(range(100_000), reverse=True)[0])
    assert result.value == 99_999
    assert result.wall_s > 0
    assert result.cpu_s >= 0


def test_a_finished_child_process_counts_its_cpu_time() -> None:
    burn = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.3: pass"
    result = timed(lambda: subprocess.run([sys.executable, "-c", burn], check=True))
    assert result.cpu_s >= 0.3
