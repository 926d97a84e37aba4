"""``cg_ir.experiments``: what ``cgnas reproduce`` runs, reuses, skips and records."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from cg_ir import experiments, provenance
from cg_ir.errors import InvalidSpecError, UnknownFamilyError
from cg_ir.experiments import (
    Experiment,
    ReproduceConfig,
    RunContext,
    _framework,
    _reproduce,
    reproduce,
)

CALLS: list[str] = []


def _squares(ctx: RunContext) -> dict[str, int]:
    CALLS.append(ctx.mode)
    ctx.seeds.append(0)
    ctx.write_json("squares.json", {"squares": [i * i for i in range(4)]})
    ctx.write_csv("squares.csv", ["i", "square"], [[i, i * i] for i in range(4)])
    return {"largest": 9}


def _missing(data_dir: Path | None) -> dict[str, Path]:
    raise FileNotFoundError("benchmark file data/x.csv is missing: get it from example.org")


def _broken(ctx: RunContext) -> dict[str, int]:
    ctx.write_json("partial.json", {})
    raise UnknownFamilyError("no family 'nb999'")


SQUARES = Experiment("squares", "Squares", _squares, code=("cg_ir.errors",), order=1)
NEEDS_DATA = Experiment("needs-data", "Needs data", _squares, code=("cg_ir",), data=_missing)
BROKEN = Experiment("broken", "Broken", _broken, code=("cg_ir",))


def _config(tmp_path: Path, **overrides: object) -> ReproduceConfig:
    return ReproduceConfig(out=tmp_path / "results", progress=False, **overrides)  # type: ignore[arg-type]


def test_a_run_writes_its_files_and_provenance_then_is_reused(tmp_path: Path) -> None:
    CALLS.clear()
    [record] = reproduce([SQUARES], _config(tmp_path))
    assert (record.status, record.headline) == ("ran", {"largest": 9})
    folder = tmp_path / "results" / "squares"
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["files"] == ["squares.json", "squares.csv"]
    assert provenance["seeds"] == [0] and provenance["mode"] == "quick"
    assert provenance["versions"]["cg-ir"] and provenance["wall_seconds"] >= 0
    assert len(provenance["code_digest"]) == 64 and "lock_hash" in provenance
    assert (folder / "squares.csv").read_text().splitlines()[:2] == ["i,square", "0,0"]
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert [r["status"] for r in summary["records"]] == ["ran"]
    # the same code, mode and data: reused, not rerun
    assert [r.status for r in reproduce([SQUARES], _config(tmp_path))] == ["reused"]
    assert CALLS == ["quick"]
    # another mode, or --force: rerun
    assert [r.status for r in reproduce([SQUARES], _config(tmp_path, force=True))] == ["ran"]
    assert [r.status for r in reproduce([SQUARES], _config(tmp_path, mode="full"))] == ["ran"]
    assert CALLS == ["quick", "quick", "full"]


def test_other_code_or_a_lost_file_means_a_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reproduce([SQUARES], _config(tmp_path))
    real = provenance.code_digest
    monkeypatch.setattr(_framework, "code_digest", lambda *names: "edited:" + real(*names))
    assert [r.status for r in reproduce([SQUARES], _config(tmp_path))] == ["ran"]
    (tmp_path / "results" / "squares" / "squares.csv").unlink()
    assert [r.status for r in reproduce([SQUARES], _config(tmp_path))] == ["ran"]


def test_other_package_versions_or_lock_mean_a_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reproduce([SQUARES], _config(tmp_path))
    real = _framework._versions
    monkeypatch.setattr(_framework, "_versions", lambda: {**real(), "torch": "0.0.1"})
    assert [r.status for r in reproduce([SQUARES], _config(tmp_path))] == ["ran"]
    monkeypatch.setattr(_framework, "_lock_hash", lambda: "another lock")
    assert [r.status for r in reproduce([SQUARES], _config(tmp_path))] == ["ran"]
    assert [r.status for r in reproduce([SQUARES], _config(tmp_path))] == ["reused"]


def test_the_experiment_module_is_in_its_digest_and_out_of_its_package_digest() -> None:
    # an experiments module only arranges cached results: editing it must not stale them ...
    sources = [name for name, _ in provenance._sources("cg_ir")]
    assert "provenance.py" in sources
    assert not any(name.startswith(("cli/", "experiments/")) for name in sources)
    # ... but it does change what reproduce ran, so reproduce's identity digests it: the
    # machinery and the experiment's own module, not the other experiments of its package
    assert SQUARES.identity_code == ("cg_ir.errors", "cg_ir.experiments._framework", __name__)


def test_missing_data_skips_and_a_failure_does_not_stop_the_rest(tmp_path: Path) -> None:
    records = reproduce([NEEDS_DATA, BROKEN, SQUARES], _config(tmp_path))
    by_name = {r.name: r for r in records}
    assert [r.name for r in records] == ["needs-data", "broken", "squares"]  # given order
    assert by_name["needs-data"].status == "skipped"
    assert "data/x.csv" in by_name["needs-data"].message
    assert by_name["broken"].status == "failed"
    assert by_name["broken"].message == "UnknownFamilyError: no family 'nb999'"
    assert not (tmp_path / "results" / "broken" / "provenance.json").exists()  # unfinished
    assert by_name["squares"].status == "ran"


def test_run_experiment_runs_one_registered_experiment_and_keeps_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_framework, "registered_experiments", lambda: [SQUARES, BROKEN])
    monkeypatch.setattr(_reproduce, "registered_experiments", lambda: [SQUARES, BROKEN])
    reproduce(None, _config(tmp_path))
    summary = (tmp_path / "results" / "summary.json").read_text()
    record = experiments.run_experiment("squares", _config(tmp_path))
    assert (record.name, record.status) == ("squares", "reused")
    assert (tmp_path / "results" / "summary.json").read_text() == summary
    with pytest.raises(InvalidSpecError, match="no experiment 'nope'"):
        experiments.run_experiment("nope", _config(tmp_path))


def test_a_run_of_some_experiments_keeps_the_others_in_the_summary(tmp_path: Path) -> None:
    def records() -> list[tuple[str, str]]:
        summary = json.loads((tmp_path / "results" / "summary.json").read_text())
        return [(r["name"], r["status"]) for r in summary["records"]]

    reproduce([SQUARES, BROKEN], _config(tmp_path))
    assert records() == [("squares", "ran"), ("broken", "failed")]
    reproduce([SQUARES], _config(tmp_path))  # --only squares: broken's record stays
    assert records() == [("squares", "reused"), ("broken", "failed")]
    reproduce([BROKEN, SQUARES], _config(tmp_path, force=True))  # in place, whatever the order
    assert records() == [("squares", "ran"), ("broken", "failed")]
    reproduce([SQUARES], _config(tmp_path, mode="full"))  # another mode: a summary of its own
    assert records() == [("squares", "ran")]


def test_workers_run_experiments_in_processes_with_the_same_records(tmp_path: Path) -> None:
    # worker processes import an experiment's functions by module name, so this test uses
    # cg-ir's own (a test module is not importable there under pytest's importlib mode)
    from cg_ir.statistics import GRAPH_STATISTICS

    pair = [replace(GRAPH_STATISTICS, name="statistics-copy"), GRAPH_STATISTICS]
    alone = reproduce(pair, _config(tmp_path / "alone"))
    together = reproduce(pair, _config(tmp_path / "two", workers=2))
    assert (
        [(r.name, r.status) for r in together]
        == [(r.name, r.status) for r in alone]
        == [
            ("statistics-copy", "ran"),
            ("graph-statistics", "ran"),
        ]
    )  # the given order, whatever order the workers finished in
    for record in together:
        folder = tmp_path / "two" / "results" / record.name
        assert json.loads((folder / "provenance.json").read_text())["files"]
    with pytest.raises(InvalidSpecError, match="workers must be at least 1"):
        _config(tmp_path, workers=0)


def _fan_out(ctx: RunContext) -> dict[str, object]:
    with ctx.executor() as executor:
        return {
            "workers": ctx.workers,
            "executor": repr(executor),
            "squares": executor.map(abs, [-2, 3]),
        }


def test_an_experiment_alone_fans_out_to_every_worker(tmp_path: Path) -> None:
    fan_out = Experiment("fan-out", "Fan out", _fan_out, code=("cg_ir",))
    [alone] = reproduce([fan_out], _config(tmp_path / "alone", workers=2))
    assert alone.headline == {
        "workers": 2,
        "executor": "LocalExecutor(workers=2)",
        "squares": [2, 3],
    }
    # beside another experiment it gets one (here workers=1: both run in this process)
    records = reproduce([fan_out, SQUARES], _config(tmp_path / "both"))
    assert records[0].headline["workers"] == 1


def test_the_longest_expected_chain_starts_first() -> None:
    quick = Experiment("quick-one", "Quick", _squares, code=("cg_ir",), quick_minutes=1)
    slow = Experiment("slow-one", "Slow", _squares, code=("cg_ir",), quick_minutes=9)
    assert (slow.minutes("quick"), slow.minutes("full")) == (9, 0)
    assert _reproduce._chains([quick, SQUARES, slow], "quick") == [[slow], [quick], [SQUARES]]
    assert _reproduce._chains([quick, slow], "full") == [[quick], [slow]]  # ties: as given


def test_an_experiment_runs_after_the_one_it_follows() -> None:
    first = Experiment("fills", "Fills", _squares, code=("cg_ir",), quick_minutes=5)
    then = Experiment("reads", "Reads", _squares, code=("cg_ir",), quick_minutes=3, follows="fills")
    after = Experiment("last", "Last", _squares, code=("cg_ir",), follows="reads")
    long = Experiment("long", "Long", _squares, code=("cg_ir",), quick_minutes=7)
    # one chain of 8 minutes, before a lone 7; a predecessor not selected: no constraint
    assert _reproduce._chains([after, then, long, first], "quick") == [[first, then, after], [long]]
    assert _reproduce._chains([then], "quick") == [[then]]
    loop = Experiment("loop", "Loop", _squares, code=("cg_ir",), follows="reads")
    with pytest.raises(InvalidSpecError, match="cycle"):
        _reproduce._chains([replace(then, follows="loop"), loop], "quick")


def test_followers_run_after_their_predecessor_in_one_run(tmp_path: Path) -> None:
    order: list[str] = []

    def noting(name: str) -> Callable[[RunContext], dict[str, object]]:
        def run(ctx: RunContext) -> dict[str, object]:
            order.append(name)
            return {}

        return run

    reads = Experiment("reads", "Reads", noting("reads"), code=("cg_ir",), follows="fills")
    fills = Experiment("fills", "Fills", noting("fills"), code=("cg_ir",))
    records = reproduce([reads, SQUARES, fills], _config(tmp_path))
    assert order == ["fills", "reads"]
    assert [r.name for r in records] == ["reads", "squares", "fills"]  # the given order


def test_only_selects_and_unknown_names_are_refused(tmp_path: Path) -> None:
    records = reproduce([SQUARES, BROKEN], _config(tmp_path, only=("squares",)))
    assert [r.name for r in records] == ["squares"]
    with pytest.raises(InvalidSpecError, match="no experiment 'nope'; registered: squares"):
        reproduce([SQUARES], _config(tmp_path, only=("nope",)))
    with pytest.raises(InvalidSpecError, match="mode 'paper'"):
        _config(tmp_path, mode="paper")


def test_a_figure_has_rows_of_panels_and_is_saved_when_the_block_ends(tmp_path: Path) -> None:
    ctx = RunContext(tmp_path, "quick", None, "local", "cpu", False)
    with ctx.figure("grid.png", 3, (2.0, 2.0), rows=2) as axes:
        assert len(axes) == 6
        assert not (tmp_path / "grid.png").exists()  # written when the block ends
        for ax in axes:
            ax.plot([0, 1], [0, 1])
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"
    assert ctx.files == ["grid.png"]


def test_saved_provenance_reads_a_finished_folder_and_says_if_it_is_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_framework, "registered_experiments", lambda: [SQUARES, NEEDS_DATA])
    assert experiments.saved_provenance("squares", _config(tmp_path)) is None  # never runs it
    assert not (tmp_path / "results" / "squares").exists()
    reproduce([SQUARES], _config(tmp_path))
    saved, current = experiments.saved_provenance("squares", _config(tmp_path))
    assert current and saved["headline"] == {"largest": 9}
    real = provenance.code_digest
    monkeypatch.setattr(_framework, "code_digest", lambda *names: "edited:" + real(*names))
    saved, current = experiments.saved_provenance("squares", _config(tmp_path))
    assert not current and saved["headline"] == {"largest": 9}  # stale, still readable
    with pytest.raises(InvalidSpecError, match="no experiment 'nope'"):
        experiments.saved_provenance("nope", _config(tmp_path))
