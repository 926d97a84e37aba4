"""Held-out folds written one file each, resumed by code identity (the selection tools).

A selection tool holds out each family in turn and writes that fold to ``WORK/<family>.json``
with the code digest that computed it, so folds run in several processes and a rerun resumes:
``resume_folds`` recomputes a fold made by other code and completes one that lacks candidates;
``finished_folds`` returns every fold once all are there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from cg_ir import write_json

Fold = dict[str, Any]


def resume_folds(
    work: Path,
    families: Iterable[str],
    digest: str,
    lacks: Callable[[Fold], bool],
    compute: Callable[[str, Fold | None], Fold],
) -> None:
    """Compute (or complete) the fold of each of ``families`` into ``work``.

    ``compute(family, done)`` returns the fold, keeping the candidates of ``done`` (the fold
    file of the same code, or None); it runs where there is no such file or ``lacks(done)``.
    """
    work.mkdir(parents=True, exist_ok=True)
    for family in families:
        path = work / f"{family}.json"
        done: Fold | None = json.loads(path.read_text()) if path.exists() else None
        if done is not None and done["code_digest"] != digest:
            done = None  # made by other code: every candidate again
        if done is None or lacks(done):
            write_json(path, compute(family, done))


def finished_folds(work: Path, expected: Sequence[str]) -> dict[str, Fold] | None:
    """Every fold of ``expected`` in ``work``, or None (saying which are done) while one lacks."""
    folds = {
        f: json.loads((work / f"{f}.json").read_text())
        for f in expected
        if (work / f"{f}.json").exists()
    }
    if set(folds) != set(expected):
        print(f"folds done: {sorted(folds)}; the report needs all of {list(expected)}")
        return None
    return folds
