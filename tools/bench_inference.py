"""Measure batched inference speed of cg-predict on NB-201 computation graphs (CPU).

Times ``Predictor.predict`` on ready-made ``ComputationGraph`` objects: packing them into
tensors (featurisation) plus the network's forward pass, in batches of ``--batch-size``.
Converting specs to graphs (``family.to_cg``) is timed separately, since callers that score
many specs of a family reuse the cached graphs of ``cg_predict.graphs.family_graphs``.

Reports wall-clock throughput and throughput per CPU-second of this process (the same on an
idle machine with ``--threads 1``; on a busy one only the latter measures the code).

Usage: python tools/bench_inference.py [--count 2048] [--batch-size 256] [--threads N]
       [--checkpoint ck.pt] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from cg_ir import families, write_json
from cg_predict.model import PredictorNet
from cg_predict.predictor import Predictor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2048, help="NB-201 graphs to score")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--checkpoint", default=None, help="default: an untrained k-GNN")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    family = families.get("nb201")
    rng = np.random.default_rng(0)
    specs = [family.sample(rng) for _ in range(args.count)]
    start = time.perf_counter()
    graphs = [family.to_cg(s) for s in specs]
    to_cg_s = time.perf_counter() - start

    if args.checkpoint:
        predictor = Predictor.load(args.checkpoint, device=args.device)
    else:
        torch.manual_seed(0)
        predictor = Predictor(PredictorNet(), device=args.device)
    predictor.batch_size = args.batch_size
    predictor.predict(graphs[: args.batch_size])  # warm-up
    timings, cpu_timings = [], []
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        predictor.predict(graphs)
        timings.append(time.perf_counter() - start)
        cpu_timings.append(time.process_time() - cpu_start)
    best = min(timings)
    pack_start = time.perf_counter()
    predictor.graphs(graphs)
    pack_s = time.perf_counter() - pack_start
    report = {
        "graphs": args.count,
        "mean_nodes": float(np.mean([g.num_nodes for g in graphs])),
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "device": args.device,
        "encoder": predictor.model.encoder.config.to_dict(),
        "predict_cgs_per_s": args.count / best,
        "predict_seconds_runs": timings,
        # CPU seconds of this process: with one thread, the speed on a core of its own even
        # when other jobs share the machine (wall-clock numbers then drop)
        "predict_cgs_per_cpu_s": args.count / min(cpu_timings),
        "load_average_1min": os.getloadavg()[0],
        "pack_cgs_per_s": args.count / pack_s,
        "to_cg_cgs_per_s": args.count / to_cg_s,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
