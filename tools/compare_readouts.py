"""Compare encoder readouts (or other encoder settings) in leave-one-family-out transfer.

Runs ``cg_predict.evaluate`` in setting (a) once per readout and target with the same seeds,
source cells and epochs, and prints the SRCC of every learned method per shot count next to the
best proxy. This is how ``DEFAULT_MODEL``'s readout (``"mean-sum"``) was chosen.

Usage: python tools/compare_readouts.py [--targets nb101,nb201,nb301] [--readouts mean,mean-sum]
       [--seeds 2] [--source-cells 2000] [--epochs 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import time

from cg_ir import atomic_output
from cg_predict.evaluate import DEFAULT_MODEL, evaluate

METHODS = ("gnn-fine-tune", "gnn-head", "gnn-target-only", "gbm-flops-params-proxies")


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; print one block per (target, readout)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="nb101,nb201,nb301")
    parser.add_argument("--readouts", default="mean,mean-sum")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--shots", default="0,10,50")
    parser.add_argument("--source-cells", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--json", default=None, help="also write every summary row here")
    args = parser.parse_args(argv)
    shots = [int(k) for k in args.shots.split(",")]
    report = []
    for target in args.targets.split(","):
        for readout in args.readouts.split(","):
            model = copy.deepcopy(DEFAULT_MODEL)
            model["encoder"]["readout"] = readout
            start = time.perf_counter()
            result = evaluate(
                target,
                shots=shots,
                seeds=args.seeds,
                setting="a",
                model=model,
                source_limit=args.source_cells,
                epochs=args.epochs,
                progress=False,
            )
            rows = [r for r in result["results"] if r["unit"] == "class"]  # headline unit
            best = {
                k: max(
                    (r["srcc_mean"], r["method"][6:])
                    for r in rows
                    if r["method"].startswith("proxy:") and r["shots"] == k
                )
                for k in shots
            }
            print(f"{target} readout={readout} ({time.perf_counter() - start:.0f} s)")
            for method in METHODS:
                cells = []
                for k in shots:
                    row = next((r for r in rows if r["method"] == method and r["shots"] == k), None)
                    if row is None or row["srcc_mean"] is None:
                        cells.append(f"{k}: -")
                    else:
                        cells.append(f"{k}: {row['srcc_mean']:+.3f}")
                print(f"  {method:26} " + "  ".join(cells))
            print(
                "  best proxy                 "
                + "  ".join(f"{k}: {v:+.3f} ({n})" for k, (v, n) in best.items())
            )
            report.append({"target": target, "readout": readout, "results": rows})
    if args.json:
        with atomic_output(args.json) as handle:
            handle.write(json.dumps(report, indent=1).encode("utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
