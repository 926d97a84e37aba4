"""The ``zoo-coverage`` experiment: cg-ir on torchvision's and timm's classifiers, and ONNX.

Quick mode checks ``QUICK_SAMPLE``; full mode every model of ``cg_ir.zoo.list_models`` (every
torchvision classifier, one model per convolutional timm architecture). Each model is checked
with ``cg_ir.zoo.check_model`` in a worker process (``run_isolated``), so a model that hangs
(``TIMEOUT_S``) or kills its interpreter costs only its own row, a raw failure (cg-ir must do
neither); then every torchvision model that converts makes the ONNX round trip
(``check_onnx``). The experiment's folder holds:

- ``zoo.json``: per source, the summary figures and one row per model; ``zoo.csv``: the rows;
  ``failures.md``: failures and inexact conversions grouped by error;
- ``onnx.json`` and ``onnx.csv``: the round trip's rows, laid out likewise;
- ``zoo.png``: per source, the models that are exact, convert but not exactly, or fail; and
  ``from_module``'s time against the graph's node count.

``zoo.json`` and ``onnx.json`` are rewritten after every model, so an interrupted run
(``cgnas reproduce --full --only zoo-coverage``) resumes: the rows that the current code wrote
(``code_digest("cg_ir")`` for the check, the same and this module's for the round trip, which
this module computes) are kept and the others are checked. ``--force`` reruns the experiment
but keeps those rows too; delete the folder to check everything again.

Needs torchvision, timm and onnx (the README's set-up).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing as mp
import re
import statistics
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from cg_ir import atomic_output
from cg_ir.errors import CgIrError, UnsupportedOperatorError
from cg_ir.experiments import Experiment, RunContext
from cg_ir.provenance import code_digest

__all__ = [
    "ONNX_CODE",
    "ONNX_FIELDS",
    "QUICK_SAMPLE",
    "RECYCLE",
    "TIMEOUT_S",
    "ZOO_COVERAGE",
    "Lost",
    "check_onnx",
    "failures_markdown",
    "run_isolated",
]

QUICK_SAMPLE: dict[str, tuple[str, ...]] = {
    "torchvision": (
        "resnet18",
        "mobilenet_v3_small",
        "efficientnet_b0",
        "shufflenet_v2_x0_5",
        "regnet_y_400mf",
        "squeezenet1_0",
        "convnext_tiny",
        "vit_b_32",
        "swin_t",
        "maxvit_t",
    ),
    "timm": (
        "resnet18",
        "efficientnet_lite0",
        "mixnet_s",
        "ghostnet_100",
        "rexnet_100",
        "repvgg_a0",
        "cspresnet50",
        "nf_resnet26",
        "resnest14d",
        "tf_efficientnet_b0",
        "mobilevit_xxs",
        "efficientformer_l1",
        "vit_tiny_patch16_224",
        "convnext_atto",
    ),
}
"""The models of each source (``cg_ir.zoo.SOURCES``) that quick mode checks: small ones of the
main kinds (residual, inverted-residual, grouped, re-parameterised and normaliser-free
convolutional networks, attention hybrids and vision transformers)."""

TIMEOUT_S = 300.0
"""Seconds a worker may spend on one model (its start included) before the model's row
becomes a raw ``Timeout``."""

RECYCLE = 20
"""Models a worker process checks before a fresh one replaces it (a bound on leaked memory)."""

ONNX_FIELDS = (
    "name",
    "exports",
    "imports",
    "same_structure",
    "params_equal",
    "onnx_nodes",
    "fx_nodes",
    "stage",
    "error_type",
    "error_message",
    "unsupported_op",
    "raw_exception",
    "seconds",
    "code_digest",
)
"""The columns of ``onnx.json``'s rows and ``onnx.csv``, as ``check_onnx`` returns them."""

_TIMEOUT = "Timeout"
_DIED = "WorkerDied"
_WORKING = object()  # what a worker's slot has while it works on its item


@dataclass(frozen=True)
class Lost:
    """A task that gave no result: it raised, ran past the timeout, or its process died.

    Attributes:
        error_type: the exception's class name, ``"Timeout"`` or ``"WorkerDied"``.
        message: the exception's message, or what happened to the worker.
    """

    error_type: str
    message: str


def _worker(conn: Connection, task: Callable[[Any], Any]) -> None:
    import torch

    torch.set_num_threads(1)  # one worker per core
    while (item := conn.recv()) is not None:
        try:
            result = task(item)
        except Exception as error:  # sent back as the failure it is; the worker goes on
            result = Lost(type(error).__name__, str(error))
        conn.send(result)


class _Slot:
    """One worker process and the item it is working on."""

    def __init__(self, context: Any, task: Callable[[Any], Any]) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, task), daemon=True)
        self.process.start()
        child.close()
        self.busy = False
        self.item: Any = None
        self.started = 0.0
        self.done = 0

    def give(self, item: Any) -> None:
        self.item, self.busy, self.started = item, True, time.monotonic()
        self.conn.send(item)

    def stop(self) -> None:
        if not self.busy:  # idle: let it exit by itself, so that it cleans up after torch
            with contextlib.suppress(OSError):  # it may have died meanwhile
                self.conn.send(None)
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()

    def collect(self, timeout: float) -> Any:
        """The item's result, a ``Lost`` when it hung or died, or ``_WORKING``."""
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            pass  # the process is gone
        else:
            if self.process.is_alive():
                if time.monotonic() - self.started <= timeout:
                    return _WORKING
                return Lost(_TIMEOUT, f"no result after {timeout:g} s")
        self.process.join(timeout=1)  # reaped, so that it has an exit code
        return Lost(_DIED, f"the worker process died (exit code {self.process.exitcode})")


def run_isolated(
    task: Callable[[Any], Any],
    items: Sequence[Any],
    workers: int,
    timeout: float,
    recycle: int = RECYCLE,
    progress: bool = False,
    desc: str = "",
) -> Iterator[tuple[Any, Any]]:
    """``(item, task(item))`` for every item, computed in ``workers`` spawned processes.

    The pairs come as the results do. A task that raises gives a ``Lost`` with its exception;
    one that runs past ``timeout`` seconds (counted from when its worker got it) or whose
    process dies gives a ``Lost`` of type ``"Timeout"`` or ``"WorkerDied"``, and its worker is
    replaced; the other items go on. Each worker runs torch on one thread and is replaced by
    a fresh one after ``recycle`` items. Closing the iterator early stops the workers.

    Args:
        task: a module-level function (workers import it by name), given one item.
        items: the task's arguments (picklable).
        workers: worker processes (at most one per item).
        timeout: seconds per item.
        recycle: items per worker process.
        progress: show a progress bar (tqdm).
        desc: the progress bar's label.

    Examples:
        >>> sorted(run_isolated(abs, [-2, 1], workers=1, timeout=60))
        [(-2, 2), (1, 1)]
    """
    from tqdm import tqdm

    context = mp.get_context("spawn")  # a fresh interpreter: no torch state forked mid-use
    pending = list(reversed(items))
    # a worker starts when it gets its first item, and after a hung or dead one's
    slots: list[_Slot | None] = [None] * min(workers, len(items))
    try:
        with tqdm(total=len(items), unit="model", desc=desc, disable=not progress) as bar:
            while pending or any(s is not None and s.busy for s in slots):
                for i, slot in enumerate(slots):
                    if not pending or (slot is not None and slot.busy):
                        continue
                    if slot is not None and slot.done >= recycle:
                        slot.stop()
                        slot = None
                    if slot is None:
                        slot = slots[i] = _Slot(context, task)
                    slot.give(pending.pop())
                busy = [s for s in slots if s is not None and s.busy]
                wait([s.conn for s in busy], timeout=1.0)
                for slot in busy:
                    result = slot.collect(timeout)
                    if result is _WORKING:
                        continue
                    item = slot.item
                    if isinstance(result, Lost) and result.error_type in (_TIMEOUT, _DIED):
                        slot.stop()
                        slots[slots.index(slot)] = None
                    else:
                        slot.busy, slot.item = False, None
                        slot.done += 1
                    bar.set_postfix_str(str(item), refresh=False)
                    bar.update()
                    yield item, result
    finally:
        for slot in slots:
            if slot is not None:
                slot.stop()


def _check_row(name: str) -> dict[str, Any]:
    """``check_model(name)`` as a row of ``zoo.json`` (the task of the check's workers)."""
    from cg_ir.zoo import ZooResult, check_model

    try:
        result = check_model(name)
    except CgIrError as error:  # a sampled name that the installed source no longer has
        result = ZooResult(
            name, stage="load", error_type=type(error).__name__, error_message=str(error)
        )
    return _zoo_row(result)


def _lost_check_row(name: str, lost: Lost) -> dict[str, Any]:
    """The row of a model whose check gave no result: a raw failure (a cg-ir bug)."""
    from cg_ir.zoo import ZooResult

    result = ZooResult(
        name,
        stage="convert",
        error_type=lost.error_type,
        error_message=lost.message,
        raw_exception=True,
    )
    return _zoo_row(result)


def _zoo_row(result: Any) -> dict[str, Any]:
    row = dataclasses.asdict(result)
    row["input_shape"] = list(result.input_shape)
    row["exact"] = result.exact
    row["code_digest"] = code_digest("cg_ir")
    return row


ONNX_CODE = ("cg_ir", __name__)
"""The code of ``check_onnx``'s rows (``code_digest``): this module computes them, so it counts."""


def _onnx_digest() -> str:
    return code_digest(*ONNX_CODE)


def _onnx_row(name: str, **values: Any) -> dict[str, Any]:
    """A row of ``onnx.json`` (``ONNX_FIELDS``) where nothing succeeded, updated by ``values``."""
    row: dict[str, Any] = {
        "name": name,
        "exports": False,
        "imports": False,
        "same_structure": False,
        "params_equal": False,
        "onnx_nodes": 0,
        "fx_nodes": 0,
        "stage": "",
        "error_type": "",
        "error_message": "",
        "unsupported_op": "",
        "raw_exception": False,
        "seconds": 0.0,
        "code_digest": _onnx_digest(),
    }
    return {**row, **values}


def check_onnx(name: str) -> dict[str, Any]:
    """The ONNX round trip of zoo model ``name``, compared with ``cg_ir.from_module``'s graph.

    The model is exported with torch's TorchScript exporter (``dynamo=False``; batch norm kept
    as its own operator, no constant folding, so that the file holds the network's own
    operators) and imported with ``cg_ir.from_onnx``; the two graphs should have the same
    structure (``ComputationGraph.same_structure``).

    Returns:
        A row of ``onnx.json`` (``ONNX_FIELDS``). A failure is recorded with its ``stage``
        (``"export"`` or ``"import"``), exception type and message; an exporter's exception is
        the exporter's limit, an ``UnsupportedOperatorError`` of the import names the ONNX
        operator (``unsupported_op``), and an import exception that is not a cg-ir error is a
        cg-ir bug (``raw_exception``).

    Raises:
        CgIrError: the model cannot be built or converted with ``from_module``.
    """
    import torch

    from cg_ir.fx import from_module
    from cg_ir.onnx import from_onnx
    from cg_ir.zoo import load_model

    module, shape = load_model(name)
    expected = from_module(module, shape)
    row = _onnx_row(name, fx_nodes=expected.num_nodes)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        try:
            with warnings.catch_warnings():
                # the legacy exporter is chosen on purpose; its deprecation and tracer
                # warnings would repeat for every model
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    module,
                    (torch.zeros(1, *shape),),
                    str(path),
                    dynamo=False,
                    training=torch.onnx.TrainingMode.PRESERVE,
                    do_constant_folding=False,
                )
        except Exception as error:  # the exporter's limit, not cg-ir's: reported as such
            return _onnx_failed(row, "export", error)
        row["exports"] = True
        try:
            graph = from_onnx(path)
        except UnsupportedOperatorError as error:
            return {**_onnx_failed(row, "import", error), "unsupported_op": error.op}
        except CgIrError as error:
            return _onnx_failed(row, "import", error)
        except Exception as error:  # recorded as the cg-ir bug it is
            return {**_onnx_failed(row, "import", error), "raw_exception": True}
    return {
        **row,
        "imports": True,
        "same_structure": graph.same_structure(expected),
        "params_equal": graph.params == expected.params,
        "onnx_nodes": graph.num_nodes,
        "seconds": time.perf_counter() - start,
    }


def _onnx_failed(row: dict[str, Any], stage: str, error: Exception) -> dict[str, Any]:
    return {**row, "stage": stage, "error_type": type(error).__name__, "error_message": str(error)}


def _lost_onnx_row(name: str, lost: Lost) -> dict[str, Any]:
    """The row of a model whose round trip gave no result: a raw failure."""
    return _onnx_row(
        name, error_type=lost.error_type, error_message=lost.message, raw_exception=True
    )


def _zoo_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    times = [r["seconds"] for r in rows if r["converts"]]
    return {
        "models": len(rows),
        "convert": sum(r["converts"] for r in rows),
        "exact": sum(r["exact"] for r in rows),
        "raw_exceptions": sum(r["raw_exception"] for r in rows),
        "from_module_median_s": statistics.median(times) if times else None,
        "from_module_max_s": max(times, default=None),
    }


def _onnx_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "models": len(rows),
        "exports": sum(r["exports"] for r in rows),
        "imports": sum(r["imports"] for r in rows),
        "same_structure": sum(r["same_structure"] for r in rows),
        "raw_exceptions": sum(r["raw_exception"] for r in rows),
    }


class _Rows:
    """The rows of one JSON file of the folder, per source, kept from an earlier run or added.

    The file is ``{"sources": {source: {"summary": ..., "rows": [...]}}}``, its rows in the
    order of ``models``; rows of models not asked for, or with another code digest, are
    dropped.
    """

    def __init__(
        self,
        ctx: RunContext,
        name: str,
        models: Mapping[str, Sequence[str]],
        digest: str,
        summary: Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]],
    ) -> None:
        self.ctx, self.name, self.models, self.summary = ctx, name, models, summary
        path = ctx.folder / name
        saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        wanted = {model for names in models.values() for model in names}
        self.rows = {
            row["name"]: row
            for part in saved.get("sources", {}).values()
            for row in part["rows"]
            if row["name"] in wanted and row["code_digest"] == digest
        }

    def todo(self) -> list[str]:
        """The models without a row, in order."""
        return [m for names in self.models.values() for m in names if m not in self.rows]

    def by_source(self) -> dict[str, list[dict[str, Any]]]:
        """Each source's rows, in the order of its models."""
        return {
            source: [self.rows[m] for m in names if m in self.rows]
            for source, names in self.models.items()
        }

    def add(self, row: dict[str, Any]) -> None:
        """Record ``row`` and rewrite the file."""
        self.rows[row["name"]] = row
        self.write()

    def write(self) -> None:
        """Write the file (atomically, so that an interrupted run can resume from it)."""
        parts = {
            source: {"summary": self.summary(rows), "rows": rows}
            for source, rows in self.by_source().items()
        }
        self.ctx.write_json(self.name, {"sources": parts})


def _error_key(row: Mapping[str, Any]) -> str:
    """The error with what varies between models (module paths, sizes) taken out."""
    message = re.sub(r" at '[^']*'", "", row["error_message"])
    # numbers that are not part of a name (Conv1d keeps its 1): sizes, line numbers, versions
    message = re.sub(r"(?<![A-Za-z_])\d+", "#", message.splitlines()[0] if message else "")
    return f"{row['stage']}: {row['error_type']}: {message[:220]}"


def _entry(row: Mapping[str, Any]) -> str:
    """The model's name, with graph-vs-torch figures where it converts but not exactly."""
    model = row["name"].partition(":")[2]
    if not row["converts"] or row["error_type"]:
        return str(model)
    return (
        f"{model} (params {row['params']} vs {row['forward_params']}, FLOPs "
        f"{row['conv_linear_flops']} vs {row['flop_counter_flops']})"
    )


def _why_not_exact(row: Mapping[str, Any]) -> str:
    reasons = []
    if row["params"] != row["forward_params"]:
        reasons.append("params differ")
    if row["conv_linear_flops"] != row["flop_counter_flops"]:
        reasons.append("conv/linear/matmul FLOPs differ")
    return "converts, not exact: " + " and ".join(reasons)


def _summary_line(source: str, rows: Sequence[Mapping[str, Any]]) -> str:
    figures = _zoo_summary(rows)
    timing = (
        f"from_module median {figures['from_module_median_s']:.2f} s, "
        f"max {figures['from_module_max_s']:.2f} s"
        if figures["convert"]
        else "no conversions"
    )
    return (
        f"{source}: {figures['convert']}/{len(rows)} convert, {figures['exact']}/{len(rows)} "
        f"exact, {figures['raw_exceptions']} raw exceptions; {timing}"
    )


def failures_markdown(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """Every source's failures and inexact conversions, grouped by error, largest group first.

    Args:
        results: each source's rows of ``zoo.json``.

    Returns:
        The Markdown of ``failures.md``: a summary line per source, then per source one item
        per error (a raw failure flagged ``[RAW]``) with its models.
    """
    lines = ["# cg-ir zoo coverage: failures grouped by error", ""]
    lines += [f"- {_summary_line(source, rows)}" for source, rows in results.items()]
    for source, rows in results.items():
        groups: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            if row["exact"]:
                continue
            key = _error_key(row) if row["error_type"] else _why_not_exact(row)
            flag = " [RAW]" if row["raw_exception"] else ""
            groups[key + flag].append(_entry(row))
        lines += ["", f"## {source}", ""]
        for key, models in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"- **{len(models)}** `{key}`: {', '.join(sorted(models))}")
        if not groups:
            lines.append("Every model converts exactly.")
    return "\n".join(lines) + "\n"


def _figure(ctx: RunContext, zoo: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    from matplotlib.ticker import MaxNLocator

    sources = list(zoo)
    exact = [sum(r["exact"] for r in zoo[s]) for s in sources]
    inexact = [sum(r["converts"] and not r["exact"] for r in zoo[s]) for s in sources]
    fail = [sum(not r["converts"] for r in zoo[s]) for s in sources]
    with ctx.figure("zoo.png", 2) as (bars, timing):
        bars.barh(sources, exact, color="tab:green", label="exact")
        bars.barh(sources, inexact, left=exact, color="tab:orange", label="converts, not exact")
        done = [a + b for a, b in zip(exact, inexact, strict=True)]
        bars.barh(sources, fail, left=done, color="tab:red", label="does not convert")
        bars.xaxis.set_major_locator(MaxNLocator(integer=True))
        bars.set_xlabel("models (count)")
        bars.set_ylabel("model source")
        # below the axes: the longest bar reaches the right edge
        bars.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
        timing.set_xlabel("graph size (nodes)")
        timing.set_ylabel("from_module time (s)")
        if not any(inexact) and not any(exact):  # nothing to place on log scales
            timing.text(0.5, 0.5, "no model converts", ha="center", transform=timing.transAxes)
            return
        for source in sources:
            converted = [r for r in zoo[source] if r["converts"]]
            timing.scatter(
                [r["nodes"] for r in converted],
                [r["seconds"] for r in converted],
                s=12,
                label=source,
            )
        timing.set_xscale("log")
        timing.set_yscale("log")
        timing.legend(fontsize="small")


def _workers() -> int:
    """One worker process per core that this experiment has: torch's thread count.

    ``reproduce`` sets it to the experiment's share of the cores when it runs experiments
    side by side; alone, torch uses every core.
    """
    import torch

    return max(1, torch.get_num_threads())


def _collect_rows(
    rows: _Rows,
    task: Callable[[str], dict[str, Any]],
    lost_row: Callable[[str, Lost], dict[str, Any]],
    ctx: RunContext,
    desc: str,
) -> None:
    """Run ``task`` on ``rows``' missing models, recording every result (a ``Lost`` too)."""
    for name, result in run_isolated(
        task, rows.todo(), _workers(), TIMEOUT_S, progress=ctx.progress, desc=desc
    ):
        rows.add(lost_row(name, result) if isinstance(result, Lost) else result)
    rows.write()  # also when every row was kept


def _zoo_coverage(ctx: RunContext) -> dict[str, Any]:
    """Check the zoo (quick: ``QUICK_SAMPLE``), then the ONNX round trip of torchvision's."""
    from cg_ir.zoo import SOURCES, ZooResult, import_zoo, list_models

    for source in SOURCES:
        import_zoo(source)  # a missing package fails the run here, naming the pip command
    models = {
        source: [
            f"{source}:{m}" for m in (QUICK_SAMPLE[source] if ctx.quick else list_models(source))
        ]
        for source in SOURCES
    }
    checks = _Rows(ctx, "zoo.json", models, code_digest("cg_ir"), _zoo_summary)
    _collect_rows(checks, _check_row, _lost_check_row, ctx, "zoo")
    zoo = checks.by_source()

    converted = {"torchvision": [r["name"] for r in zoo["torchvision"] if r["converts"]]}
    trips = _Rows(ctx, "onnx.json", converted, _onnx_digest(), _onnx_summary)
    _collect_rows(trips, check_onnx, _lost_onnx_row, ctx, "onnx")
    onnx = trips.by_source()

    fields = [f.name for f in dataclasses.fields(ZooResult)] + ["exact", "code_digest"]
    ctx.write_csv(
        "zoo.csv", fields, [[row[f] for f in fields] for rows in zoo.values() for row in rows]
    )
    ctx.write_csv(
        "onnx.csv",
        ONNX_FIELDS,
        [[row[f] for f in ONNX_FIELDS] for rows in onnx.values() for row in rows],
    )
    with atomic_output(ctx.path("failures.md")) as handle:
        handle.write(failures_markdown(zoo).encode("utf-8"))
    _figure(ctx, zoo)
    headline: dict[str, Any] = {}
    for source, rows in zoo.items():
        figures = _zoo_summary(rows)
        headline[source] = {k: figures[k] for k in ("models", "convert", "exact", "raw_exceptions")}
    headline["onnx"] = _onnx_summary(onnx["torchvision"])
    return headline


# quick: the quick run's measured CPU time (117 s on a shared 2-core machine). full: measured
# seconds per model times the zoo's counts: the quick sample's models took about 1.5 s per
# check and 4.6 s per ONNX round trip, four of torchvision's largest (vit_h_14, regnet_y_128gf,
# efficientnet_v2_l, vgg19_bn) about 10 s and 35 s; 246 timm and about 60 torchvision models at
# the sample's rates, 20 large torchvision ones at the large rates, and a worker start-up (about
# 8 s) per RECYCLE models make about 30 minutes
ZOO_COVERAGE = Experiment(
    "zoo-coverage",
    "Conversion of every torchvision/timm classifier, exact against torch; ONNX round trip",
    _zoo_coverage,
    code=("cg_ir",),
    order=20,
    full_minutes=30,
    quick_minutes=2,
)
