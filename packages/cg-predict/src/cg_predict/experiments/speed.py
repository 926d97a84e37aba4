"""How fast the shipped predictor scores graphs: the ``inference-speed`` experiment.

``Predictor.predict`` on ready-made NB-201 computation graphs: packing them into tensors plus
the network's forward pass, in batches, on one torch thread. Converting specs to graphs
(``family.to_cg``) and packing alone are timed separately, since callers that score many specs
of a family reuse cached graphs (``cg_predict.graphs.family_graphs``). Wall-clock throughput
and throughput per CPU-second of this process are reported: with one thread the latter is the
speed on a core of its own, also when other jobs share the machine.

The network is the shipped default checkpoint (what ``cgnas predict`` runs); its file is
checksummed into the provenance, so a new checkpoint makes the result stale.

Examples:
    >>> InferenceBench.quick().count, InferenceBench().count
    (1024, 2048)
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cg_ir import families
from cg_ir.executor import torch_threads
from cg_ir.experiments import Experiment, RunContext
from cg_ir.timing import timed

__all__ = ["INFERENCE_SPEED", "InferenceBench", "measure_inference"]

SEED = 0


@dataclass(frozen=True)
class InferenceBench:
    """What ``measure_inference`` times.

    Attributes:
        count: NB-201 graphs scored (distinct seeded samples).
        batch_size: graphs per forward pass.
        repeats: timed runs after one warm-up batch; the fastest is reported.
        threads: torch threads while timing.
    """

    count: int = 2048
    batch_size: int = 256
    repeats: int = 3
    threads: int = 1

    @classmethod
    def quick(cls) -> InferenceBench:
        """CI's size: half the graphs, two runs."""
        return cls(count=1024, repeats=2)


def measure_inference(bench: InferenceBench, device: str = "cpu") -> dict[str, Any]:
    """Throughput of the default predictor on ``bench.count`` NB-201 graphs (JSON-able report).

    Examples:
        >>> report = measure_inference(InferenceBench(count=8, batch_size=4, repeats=1))
        >>> report["graphs"], report["predict_graphs_per_s"] > 0
        (8, True)
    """
    from cg_predict.predictor import Predictor

    family = families.get("nb201")
    specs = family.sample_distinct(np.random.default_rng(SEED), bench.count)
    converted = timed(lambda: [family.to_cg(spec) for spec in specs])
    graphs = converted.value
    predictor = Predictor.default(device=device)
    predictor.batch_size = bench.batch_size
    with torch_threads(bench.threads):
        predictor.predict(graphs[: bench.batch_size])  # warm-up: first calls allocate
        runs = [timed(lambda: predictor.predict(graphs)) for _ in range(bench.repeats)]
        walls = [run.wall_s for run in runs]
        packed = timed(lambda: predictor.graphs(graphs))
    return {
        **asdict(bench),
        "graphs": len(graphs),
        "mean_nodes": float(np.mean([graph.num_nodes for graph in graphs])),
        "device": device,
        "predict_seconds_runs": walls,
        "predict_graphs_per_s": len(graphs) / min(walls),
        "predict_graphs_per_cpu_s": len(graphs) / max(min(run.cpu_s for run in runs), 1e-9),
        "pack_graphs_per_s": len(graphs) / packed.wall_s,
        "to_cg_graphs_per_s": len(graphs) / converted.wall_s,
        "load_average_1min": os.getloadavg()[0],
    }


def _shipped_checkpoint(data_dir: Path | None) -> dict[str, Path]:
    """The default checkpoint's file, checksummed into the provenance like a benchmark file."""
    from cg_predict.errors import CheckpointError
    from cg_predict.predictor import default_checkpoint_resource

    try:
        resource = default_checkpoint_resource()
    except CheckpointError as exc:  # reproduce skips an experiment whose data file is absent
        raise FileNotFoundError(str(exc)) from exc
    with resources.as_file(resource) as path:
        return {"default checkpoint": path}


def _inference(ctx: RunContext) -> dict[str, Any]:
    bench = InferenceBench.quick() if ctx.quick else InferenceBench()
    ctx.seeds.append(SEED)
    report = measure_inference(bench, ctx.device)
    ctx.write_json("inference-speed.json", report)
    columns = ["graphs", "batch_size", "threads", "predict_graphs_per_s"]
    columns += ["predict_graphs_per_cpu_s", "pack_graphs_per_s", "to_cg_graphs_per_s"]
    ctx.write_csv("inference-speed.csv", columns, [[report[c] for c in columns]])
    return {
        "scored / s": report["predict_graphs_per_s"],
        "scored / CPU-s": report["predict_graphs_per_cpu_s"],
    }


INFERENCE_SPEED = Experiment(
    "inference-speed",
    "Scoring speed: the default predictor on NB-201 graphs, one thread",
    _inference,
    code=("cg_ir", "cg_predict"),
    data=_shipped_checkpoint,
    order=13,
    quick_minutes=0.3,
    full_minutes=0.5,
)
