"""What the benchmark families' graphs are made of, and how fast they are built.

Two ``cgnas reproduce`` experiments beside ``graph-statistics`` (``cg_ir.statistics``):

- ``graph-anatomy``: the operator mix of each family (the share of nodes per op) and how many
  isomorphism classes (canonical hashes) its distinct specs give, on the seeded specs of
  ``graph-statistics``' sample;
- ``conversion-speed``: the structural fast path (``Family.to_cg``) against tracing the real
  module with torch.fx (``Family.trace_cg``), checking that both give the same graph, and all
  15,625 NB-201 cells through the fast path. It times specs of other seeds, so that
  an experiment run before it in the same process has not warmed the fast paths' caches with
  them (a first conversion is what a user waits for).

Examples:
    >>> from pathlib import Path
    >>> ctx = RunContext(Path("."), "quick", None, "local", "cpu", progress=False)
    >>> len(sample_specs(families.get("nb201"), ctx))  # what both experiments read in quick mode
    50
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cg_ir import families
from cg_ir.experiments._framework import Experiment, RunContext
from cg_ir.families import Family
from cg_ir.timing import Timed, timed

__all__ = ["CONVERSION_SPEED", "GRAPH_ANATOMY", "sample_specs"]

SEED = 0


def sample_specs(family: Family[Any], ctx: RunContext, seed: int = SEED) -> list[Any]:
    """``family``'s distinct seeded specs of the mode's sample size (``graph-statistics``')."""
    return family.sample_distinct(np.random.default_rng(seed), 50 if ctx.quick else 1000)


def _anatomy(ctx: RunContext) -> dict[str, Any]:
    """Every family's operator shares and isomorphism classes over its seeded sample."""
    ctx.seeds.append(SEED)
    table: dict[str, dict[str, Any]] = {}
    for name in families.names():
        family = families.get(name)
        graphs = [family.to_cg(spec) for spec in sample_specs(family, ctx)]
        ops: Counter[str] = Counter()
        for graph in graphs:
            ops.update(graph.op_histogram())
        total = sum(ops.values())
        table[name] = {
            "graphs": len(graphs),
            "classes": len({graph.canonical_hash() for graph in graphs}),
            "op_share": {op: count / total for op, count in ops.most_common()},
        }
    ctx.write_json("anatomy.json", {"seed": SEED, "families": table})
    all_ops = sorted({op for row in table.values() for op in row["op_share"]})
    ctx.write_csv(
        "op-share.csv",
        ["family", "graphs", "classes", *all_ops],
        [
            [name, row["graphs"], row["classes"], *(row["op_share"].get(op, 0.0) for op in all_ops)]
            for name, row in table.items()
        ],
    )
    _anatomy_figure(ctx, table)
    return {name: {"graphs": r["graphs"], "classes": r["classes"]} for name, r in table.items()}


def _anatomy_figure(ctx: RunContext, table: dict[str, dict[str, Any]]) -> None:
    """Stacked bars: each family's nodes split by op (the 8 commonest ops overall, then rest)."""
    weight: Counter[str] = Counter()
    for row in table.values():
        weight.update(row["op_share"])
    shown = [op for op, _ in weight.most_common(8)]
    names = list(table)
    with ctx.figure("op-share.png", panel_size=(8.0, 3.8)) as (axes,):
        left = np.zeros(len(names))
        for op in [*shown, "other"]:
            if op == "other":
                share = [1 - sum(table[n]["op_share"].get(o, 0.0) for o in shown) for n in names]
            else:
                share = [table[n]["op_share"].get(op, 0.0) for n in names]
            axes.barh(names, 100 * np.asarray(share), left=left, label=op)
            left += 100 * np.asarray(share)
        axes.set_xlabel("share of the graph's nodes (%)")
        axes.set_xlim(0, 100)
        axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")


def _convert_all(convert: Callable[[Any], Any], specs: Sequence[Any]) -> Timed[list[Any]]:
    """``convert`` of every spec, with the wall and CPU seconds it took."""
    return timed(lambda: [convert(spec) for spec in specs])


def _family_speed(family: Family[Any], ctx: RunContext) -> dict[str, Any]:
    """The fx path on a few specs and, where the family has one, the fast path on its sample."""
    traced_specs = family.sample_distinct(np.random.default_rng(SEED + 1), 3 if ctx.quick else 10)
    fast_path = type(family).to_cg is not Family.to_cg
    family.trace_cg(traced_specs[0])  # warm-up: imports and caches are not conversion time
    traced = _convert_all(family.trace_cg, traced_specs)
    row: dict[str, Any] = {
        "fast_path": fast_path,
        "fx_specs": len(traced_specs),
        "fx_ms_per_graph": 1000 * traced.wall_s / len(traced_specs),
    }
    if not fast_path:
        return row
    fast = [family.to_cg(spec) for spec in traced_specs]
    row["identical"] = sum(a.same_structure(b) for a, b in zip(fast, traced.value, strict=True))
    run = _convert_all(family.to_cg, sample_specs(family, ctx, SEED + 2))
    graphs, wall, cpu = run.value, run.wall_s, run.cpu_s
    row.update(
        specs=len(graphs),
        ms_per_graph=1000 * wall / len(graphs),
        graphs_per_s=len(graphs) / wall,
        graphs_per_cpu_s=len(graphs) / cpu if cpu > 0 else float("inf"),
        mean_nodes=float(np.mean([graph.num_nodes for graph in graphs])),
    )
    row["speed_up"] = row["fx_ms_per_graph"] / row["ms_per_graph"]
    return row


def _all_nb201() -> dict[str, float]:
    """Every NB-201 cell through the fast path, in this process."""
    nb201 = families.get("nb201")
    run = _convert_all(nb201.to_cg, list(nb201.enumerate()))
    return {"graphs": len(run.value), "wall_s": run.wall_s, "cpu_s": run.cpu_s}


def _speed(ctx: RunContext) -> dict[str, Any]:
    """The fast path against torch.fx for every family (one process, after a warm-up)."""
    ctx.seeds.extend([SEED + 1, SEED + 2])
    table = {name: _family_speed(families.get(name), ctx) for name in families.names()}
    different = [n for n, r in table.items() if r.get("identical", r["fx_specs"]) < r["fx_specs"]]
    if different:  # a fast path that is not the traced graph is a bug, not a measurement
        raise ValueError(f"the fast path and the fx path differ for {', '.join(different)}")
    whole = _all_nb201()  # ~6 s: in every mode
    payload = {"families": table, "all_nb201": whole}
    ctx.write_json("conversion-speed.json", payload)
    columns = ["fx_specs", "fx_ms_per_graph", "identical", "specs", "ms_per_graph", "speed_up"]
    columns += ["graphs_per_s", "graphs_per_cpu_s", "mean_nodes"]
    ctx.write_csv(
        "conversion-speed.csv",
        ["family", *columns],
        [[name, *(row.get(c, "") for c in columns)] for name, row in table.items()],
    )
    _speed_figure(ctx, table)
    headline: dict[str, Any] = {
        name: {key: row[key] for key in ("fx_ms_per_graph", "ms_per_graph") if key in row}
        for name, row in table.items()
    }
    return {**headline, "all nb201 (s)": whole["wall_s"]}


def _speed_figure(ctx: RunContext, table: dict[str, dict[str, Any]]) -> None:
    names = list(table)
    y = np.arange(len(names))
    with ctx.figure("conversion-speed.png", panel_size=(7.0, 3.6)) as (axes,):
        axes.barh(y + 0.2, [table[n]["fx_ms_per_graph"] for n in names], 0.4, label="torch.fx")
        fast = [table[n].get("ms_per_graph", np.nan) for n in names]
        axes.barh(y - 0.2, fast, 0.4, label="fast path")
        axes.set_yticks(y, names)
        axes.set_xscale("log")
        axes.set_xlabel("milliseconds per graph (log scale, one process)")
        axes.legend()


GRAPH_ANATOMY = Experiment(
    "graph-anatomy",
    "Operator mix and isomorphism classes of every family's graphs",
    _anatomy,
    code=("cg_ir",),
    order=11,
    quick_minutes=0.2,
    full_minutes=2,
)

CONVERSION_SPEED = Experiment(
    "conversion-speed",
    "Fast path against torch.fx: the same graphs, and how much faster",
    _speed,
    code=("cg_ir",),
    order=12,
    quick_minutes=0.5,
    full_minutes=5,
)
