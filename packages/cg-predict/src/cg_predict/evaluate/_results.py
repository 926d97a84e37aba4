"""The ``r.json`` results file: per-seed runs, their summaries, atomic writes and resuming.

``EvaluationResult`` is what ``evaluate`` returns and ``r.json`` holds, typed: its rows
(``ResultRow``) keep the fields ``setting``, ``method``, ``shots``, ``unit``, ``test_size``,
``srcc_mean`` and ``srcc_std`` that scripts outside the project read from the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import cg_ir
from cg_predict.errors import InvalidArgumentError, StaleResultError
from cg_predict.metrics import summarize

__all__ = [
    "EvaluationResult",
    "ResultRow",
    "config_hash",
    "load_finished",
    "summarize_runs",
    "write_json",
]

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
    """Write a results document: numpy scalars as numbers, NaN as null (``cg_ir.write_json``)."""
    cg_ir.write_json(path, _clean(data))


def load_finished(
    path: str | os.PathLike[str] | None,
    digest: str,
    *,
    code: str | None = None,
    force: bool = False,
    seeds: Collection[int] | None = None,
) -> list[dict[str, Any]]:
    """The finished per-seed runs of an earlier ``r.json`` with the same config hash.

    A missing file or another configuration gives ``[]`` (the run starts afresh and the file
    is overwritten); an unreadable file is an error rather than silently discarded work. With
    ``code`` (the running code's digest, ``cg_ir.provenance.code_digest``), a file of the same
    configuration must record that digest under ``"code_digest"``: one written by other code
    (or by a version that recorded none) raises ``StaleResultError``, unless ``force`` (then
    ``[]``: every run is recomputed and the file overwritten). With ``seeds`` (the configured
    runs), only their runs: the config hash leaves the seeds out, so that more seeds extend a
    run, and a resumed result must not summarise the file's other seeds.

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
    return [r for r in runs if isinstance(r, dict) and (seeds is None or r.get("seed") in seeds)]


def summarize_runs(runs: Iterable[Mapping[str, Any]]) -> tuple[ResultRow, ...]:
    """One row per (setting, method, shots, unit): means and sample stds over seeds, signs kept.

    ``unit`` says what each seed's correlation was computed over (``"class"``: one row per
    isomorphism class of the test cells, the headline; ``"row"``: every test cell) and
    ``test_size`` counts those units. The std is the sample standard deviation (``ddof=1``,
    ``metrics.summarize``); None with one seed, where it is undefined. Rows are sorted by
    (setting, method, shots, unit), so a method's class row comes before its row row.

    Examples:
        >>> run = {"setting": "a", "method": "m", "shots": 0, "unit": "class", "seed": 0,
        ...        "test_size": 3, "srcc": 0.5}
        >>> row, = summarize_runs([run, {**run, "seed": 1, "srcc": 0.7}])
        >>> round(row.srcc_mean, 3), round(row.srcc_std, 3), row.seeds
        (0.6, 0.141, (0, 1))
    """
    groups: dict[tuple[str, str, int, str], list[Mapping[str, Any]]] = {}
    for run in runs:
        key = (run["setting"], run["method"], run["shots"], run["unit"])
        groups.setdefault(key, []).append(run)
    rows = []
    for (setting, method, shots, unit), members in sorted(groups.items()):
        members.sort(key=lambda r: int(r["seed"]))
        per_seed = {m: [r.get(m) for r in members] for m in METRICS}
        srcc, kendall = _mean_std(per_seed["srcc"]), _mean_std(per_seed["kendall"])
        rows.append(
            ResultRow(
                setting=setting,
                method=method,
                shots=shots,
                unit=unit,
                seeds=tuple(int(r["seed"]) for r in members),
                test_size=int(np.mean([r["test_size"] for r in members])),
                srcc_mean=srcc[0],
                srcc_std=srcc[1],
                kendall_mean=kendall[0],
                kendall_std=kendall[1],
                per_seed=per_seed,
            )
        )
    return tuple(rows)


def _mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample std of per-seed values; None where a seed is undefined or one seed."""
    if not values or any(v is None or math.isnan(v) for v in values):
        return None, None
    mean, std = summarize([float(v) for v in values if v is not None])
    return mean, None if math.isnan(std) else std


@dataclass(frozen=True)
class ResultRow:
    """One summary row of a result: a method at a shot count, over every seed.

    Attributes:
        setting: the test setting (``"a"``, ``"b"``, ``"b-live"``, ``"b-all"``).
        method: ``gnn-fine-tune``, ``proxy:<name>``, ... (``cg_predict.evaluate``).
        shots: labelled target cells.
        unit: what the correlations were computed over: ``"class"`` (one row per isomorphism
            class of the test cells, the headline) or ``"row"`` (every test cell).
        seeds: the seeds summarised.
        test_size: the units (classes or cells) scored, averaged over seeds.
        srcc_mean: Spearman correlation, mean over seeds (None where a seed is undefined).
        srcc_std: its sample std (``ddof=1``); None for one seed.
        kendall_mean: Kendall's tau, mean over seeds.
        kendall_std: its sample std.
        per_seed: ``{metric: [value per seed]}`` of every metric.

    Examples:
        >>> row = ResultRow("a", "gnn-head", 10, "class", (0, 1), 290, 0.81, 0.03, 0.6, 0.02, {})
        >>> row.srcc_text()
        '+0.810 ± 0.030'
        >>> ResultRow.from_dict(row.to_dict()) == row
        True
    """

    setting: str
    method: str
    shots: int
    unit: str
    seeds: tuple[int, ...]
    test_size: int
    srcc_mean: float | None
    srcc_std: float | None
    kendall_mean: float | None
    kendall_std: float | None
    per_seed: Mapping[str, Sequence[float | None]]

    def srcc_text(self, *, signed: bool = True) -> str:
        """``+0.812 ± 0.031`` (no spread for one seed), or ``–`` where undefined."""
        if self.srcc_mean is None:
            return "–"
        text = f"{self.srcc_mean:+.3f}" if signed else f"{self.srcc_mean:.3f}"
        return text if self.srcc_std is None else f"{text} ± {self.srcc_std:.3f}"

    def to_dict(self) -> dict[str, Any]:
        """The row as ``r.json`` stores it (fields in this order)."""
        return {
            "setting": self.setting,
            "method": self.method,
            "shots": self.shots,
            "unit": self.unit,
            "seeds": list(self.seeds),
            "test_size": self.test_size,
            "srcc_mean": self.srcc_mean,
            "srcc_std": self.srcc_std,
            "kendall_mean": self.kendall_mean,
            "kendall_std": self.kendall_std,
            "per_seed": {k: list(v) for k, v in self.per_seed.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResultRow:
        """Read a row of ``r.json``; a row of a file written before units is per cell (``row``).

        Raises:
            InvalidArgumentError: a required field is missing.
        """
        try:
            return cls(
                setting=str(data["setting"]),
                method=str(data["method"]),
                shots=int(data["shots"]),
                unit=str(data.get("unit", "row")),
                seeds=tuple(int(s) for s in data.get("seeds", ())),
                test_size=int(data["test_size"]),
                srcc_mean=_optional_float(data["srcc_mean"]),
                srcc_std=_optional_float(data["srcc_std"]),
                kendall_mean=_optional_float(data.get("kendall_mean")),
                kendall_std=_optional_float(data.get("kendall_std")),
                per_seed={str(k): list(v) for k, v in data.get("per_seed", {}).items()},
            )
        except KeyError as exc:
            raise InvalidArgumentError(f"a result row has no field {exc}: {dict(data)}") from exc


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class EvaluationResult:
    """What ``evaluate`` returns and ``r.json`` holds.

    Attributes:
        config: the run's ``ProtocolConfig.to_dict()`` (JSON).
        config_hash: its digest (``ProtocolConfig.digest``): resuming needs the same.
        code_digest: of the code that computed it (``cg_ir.provenance.code_digest``).
        metadata: seeds, source cells, source training, versions, timings.
        runs: the per-seed rows (every metric of one seed).
        results: the summary rows over seeds (``summarize_runs``).

    Examples:
        >>> run = {"setting": "a", "method": "proxy:synflow", "shots": 0, "unit": "class",
        ...        "seed": 0, "test_size": 3, "srcc": 0.5}
        >>> result = EvaluationResult.from_runs({"shots": [0]}, "c0ffee", None, {}, [run])
        >>> result.row("a", "proxy:synflow", 0).srcc_mean
        0.5
        >>> result.best_proxy("a", 0).method  # an oracle choice: picked on the test cells
        'proxy:synflow'
        >>> EvaluationResult.from_json(result.to_json()) == result
        True
    """

    config: Mapping[str, Any]
    config_hash: str
    code_digest: str | None
    metadata: Mapping[str, Any]
    runs: tuple[Mapping[str, Any], ...]
    results: tuple[ResultRow, ...]

    @classmethod
    def from_runs(
        cls,
        config: Mapping[str, Any],
        config_hash: str,
        code_digest: str | None,
        metadata: Mapping[str, Any],
        runs: Iterable[Mapping[str, Any]],
    ) -> EvaluationResult:
        """The result of ``runs``, summarised over seeds (``summarize_runs``)."""
        runs = tuple(runs)
        return cls(config, config_hash, code_digest, metadata, runs, summarize_runs(runs))

    @property
    def shots(self) -> tuple[int, ...]:
        """The shot counts of the run, ascending."""
        return tuple(int(k) for k in self.config["shots"])

    @property
    def settings(self) -> tuple[str, ...]:
        """The settings of the rows (``b-live`` included), in the run's order."""
        return tuple(self.config["settings"])

    def rows(
        self,
        setting: str | None = None,
        *,
        method: str | None = None,
        shots: int | None = None,
        unit: str | None = "class",
    ) -> tuple[ResultRow, ...]:
        """The summary rows that match every given field (None: any), in file order."""
        return tuple(
            r
            for r in self.results
            if (setting is None or r.setting == setting)
            and (method is None or r.method == method)
            and (shots is None or r.shots == shots)
            and (unit is None or r.unit == unit)
        )

    def find(self, setting: str, method: str, shots: int, unit: str = "class") -> ResultRow | None:
        """The row of ``method`` at ``shots`` in ``setting``, or None if the run has none."""
        return next(iter(self.rows(setting, method=method, shots=shots, unit=unit)), None)

    def row(self, setting: str, method: str, shots: int, unit: str = "class") -> ResultRow:
        """The row of ``method`` at ``shots`` in ``setting``.

        Raises:
            InvalidArgumentError: the run has no such row; the message lists its methods.
        """
        found = self.find(setting, method, shots, unit)
        if found is None:
            methods = sorted({r.method for r in self.rows(setting, unit=None)})
            raise InvalidArgumentError(
                f"no result row (setting={setting!r}, method={method!r}, shots={shots}, "
                f"unit={unit!r}); settings {list(self.settings)}, shots {list(self.shots)}, "
                f"methods of {setting!r}: {methods}"
            )
        return found

    def best_proxy(self, setting: str, shots: int, unit: str = "class") -> ResultRow | None:
        """The row of the zero-cost proxy with the highest mean SRCC (None if none scored).

        An **oracle** choice: the proxy is picked by its SRCC on the very test cells it is
        reported on, which no label-free method could do. Report it as such ("best proxy
        (oracle)"), an upper bound of "use a proxy", not a method.
        """
        scored = [
            r
            for r in self.rows(setting, shots=shots, unit=unit)
            if r.method.startswith("proxy:") and r.srcc_mean is not None
        ]
        # ties go to the later name, as every table of earlier versions had it
        return max(scored, key=lambda r: (r.srcc_mean or 0.0, r.method), default=None)

    def table(
        self, setting: str, methods: Sequence[str], *, unit: str = "class"
    ) -> tuple[list[str], list[list[str]]]:
        """Header and rows (one per shot count) of SRCC cells for display.

        Columns: ``shots``, each of ``methods`` (``ResultRow.srcc_text``; ``–`` where the run
        has no row), then ``best proxy (oracle)``: the best proxy's SRCC and name, picked on
        the test cells (``best_proxy``).

        Examples:
            >>> run = {"setting": "a", "method": "gnn-head", "shots": 0, "unit": "class",
            ...        "seed": 0, "test_size": 3, "srcc": 0.5}
            >>> result = EvaluationResult.from_runs({"shots": [0]}, "", None, {}, [run])
            >>> header, rows = result.table("a", ["gnn-head", "gnn-fine-tune"])
            >>> header
            ['shots', 'gnn-head', 'gnn-fine-tune', 'best proxy (oracle)']
            >>> rows
            [['0', '+0.500', '–', '–']]
        """
        header = ["shots", *methods, "best proxy (oracle)"]
        body = []
        for k in self.shots:
            cells = [
                (r.srcc_text() if (r := self.find(setting, m, k, unit)) else "–") for m in methods
            ]
            best = self.best_proxy(setting, k, unit)
            proxy = (
                "–"
                if best is None
                else f"{best.srcc_text()} ({best.method.removeprefix('proxy:')})"
            )
            body.append([str(k), *cells, proxy])
        return header, body

    def to_json(self) -> dict[str, Any]:
        """The ``r.json`` document (strict JSON once ``write_json`` has cleaned it).

        Keys: ``config``, ``config_hash``, ``code_digest``, ``metadata``, ``runs``, ``results``.
        """
        return {
            "config": dict(self.config),
            "config_hash": self.config_hash,
            "code_digest": self.code_digest,
            "metadata": dict(self.metadata),
            "runs": [dict(r) for r in self.runs],
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvaluationResult:
        """Read an ``r.json`` document (``to_json``'s, or one an earlier version wrote).

        Raises:
            InvalidArgumentError: it is not an ``r.json`` document.
        """
        missing = [k for k in ("config", "config_hash", "runs", "results") if k not in data]
        if missing:
            raise InvalidArgumentError(f"not an evaluate results document: no {missing}")
        code = data.get("code_digest")
        return cls(
            config=data["config"],
            config_hash=str(data["config_hash"]),
            code_digest=code if isinstance(code, str) else None,
            metadata=data.get("metadata", {}),
            runs=tuple(data["runs"]),
            results=tuple(ResultRow.from_dict(r) for r in data["results"]),
        )

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> EvaluationResult:
        """Read an ``r.json`` file.

        Raises:
            InvalidArgumentError: unreadable, not JSON, or not a results document.
        """
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InvalidArgumentError(f"{path}: cannot read results ({exc})") from exc
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"{path}: not an evaluate results document")
        return cls.from_json(data)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write ``to_json()`` to ``path`` as strict JSON, atomically (``write_json``)."""
        write_json(path, self.to_json())
