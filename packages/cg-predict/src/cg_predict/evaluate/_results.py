"""The ``r.json`` results file: per-seed runs, their summaries, atomic writes and resuming."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from cg_ir import atomic_output
from cg_predict.errors import InvalidArgumentError, StaleResultError
from cg_predict.metrics import summarize

__all__ = ["config_hash", "load_finished", "summarize_runs", "write_json"]

# metrics recorded per seed, in the order the summaries list them
METRICS = ("srcc", "kendall", "precision@5%", "precision@10%", "ndcg@10", "mae")


def _clean(value: Any) -> Any:
    """JSON-able copy: numpy scalars to Python, NaN/inf to None (strict JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of everything that changes the numbers."""
    return hashlib.sha256(json.dumps(_clean(config), sort_keys=True).encode()).hexdigest()


def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write ``data`` as strict JSON atomically (``cg_ir.atomic_output``: the usual permissions)."""
    text = json.dumps(_clean(data), indent=1, allow_nan=False) + "\n"
    with atomic_output(path) as f:
        f.write(text.encode())


def load_finished(
    path: str | os.PathLike[str] | None,
    digest: str,
    *,
    code: str | None = None,
    force: bool = False,
) -> list[dict[str, Any]]:
    """The finished per-seed runs of an earlier ``r.json`` with the same config hash.

    A missing file or another configuration gives ``[]`` (the run starts afresh and the file
    is overwritten); an unreadable file is an error rather than silently discarded work. With
    ``code`` (the running code's digest, ``cg_ir.provenance.code_digest``), a file of the same
    configuration must record that digest under ``"code_digest"``: one written by other code
    (or by a version that recorded none) raises ``StaleResultError``, unless ``force`` (then
    ``[]``: every run is recomputed and the file overwritten).

    Raises:
        InvalidArgumentError: the file exists but cannot be read as JSON.
        StaleResultError: the file's runs were computed by other code (and not ``force``).

    Examples:
        >>> load_finished(None, "any")
        []
    """
    if path is None or not Path(path).exists():
        return []
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidArgumentError(
            f"{path}: cannot resume from it ({exc}); move it away or choose another --out"
        ) from exc
    if not isinstance(data, dict) or data.get("config_hash") != digest:
        return []
    stored = data.get("code_digest")
    if code is not None and stored != code:
        if force:
            return []
        raise StaleResultError(path, stored if isinstance(stored, str) else None, code)
    runs = data.get("runs", [])
    return [r for r in runs if isinstance(r, dict)]


def summarize_runs(runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (setting, method, shots, unit): means and sample stds over seeds, signs kept.

    ``unit`` says what each seed's correlation was computed over (``"class"``: one row per
    isomorphism class of the test cells, the headline; ``"row"``: every test cell) and
    ``test_size`` counts those units. The std is the sample standard deviation (``ddof=1``,
    ``metrics.summarize``); None with one seed, where it is undefined. Rows are sorted by
    (setting, method, shots, unit), so a method's class row comes before its row row.
    """
    groups: dict[tuple[str, str, int, str], list[dict[str, Any]]] = {}
    for run in runs:
        key = (run["setting"], run["method"], run["shots"], run["unit"])
        groups.setdefault(key, []).append(run)
    rows = []
    for (setting, method, shots, unit), members in sorted(groups.items()):
        members.sort(key=lambda r: r["seed"])
        row: dict[str, Any] = {
            "setting": setting,
            "method": method,
            "shots": shots,
            "unit": unit,
            "seeds": [r["seed"] for r in members],
            "test_size": int(np.mean([r["test_size"] for r in members])),
        }
        per_seed = {}
        for m in METRICS:
            values = [r.get(m) for r in members]
            per_seed[m] = values
            if m in ("srcc", "kendall"):
                mean, std = _mean_std(values)
                row[f"{m}_mean"], row[f"{m}_std"] = mean, std
        row["per_seed"] = per_seed
        rows.append(row)
    return rows


def _mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample std of per-seed values; None where a seed is undefined or one seed."""
    if not values or any(v is None or math.isnan(v) for v in values):
        return None, None
    mean, std = summarize([float(v) for v in values if v is not None])
    return mean, None if math.isnan(std) else std
