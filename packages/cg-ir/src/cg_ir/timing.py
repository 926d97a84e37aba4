"""Wall and CPU seconds of a call: what every speed measurement of cg-nas reports.

On a machine shared with other jobs the wall time grows with their load; the CPU time (of
this process and of the child processes that finished during the call: workers, a command
run with ``subprocess``) measures the code. Speed results report both.

Examples:
    >>> result = timed(lambda: sum(range(1000)))
    >>> result.value
    499500
    >>> result.wall_s >= 0 and result.cpu_s >= 0
    True
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Timed", "timed"]

T = TypeVar("T")


@dataclass(frozen=True)
class Timed(Generic[T]):
    """A call's return value, with the wall and CPU seconds it took."""

    value: T
    wall_s: float
    cpu_s: float


def _cpu_s() -> float:
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(call: Callable[[], T]) -> Timed[T]:
    """``call()``, its wall seconds and the CPU seconds of this process and its children."""
    cpu, start = _cpu_s(), time.perf_counter()
    value = call()
    return Timed(value, time.perf_counter() - start, _cpu_s() - cpu)
