"""Compare encoder readouts (or other encoder settings) in leave-one-family-out transfer.

Runs ``cg_predict.evaluate`` in setting (a) once per readout and target with the same seeds,
source cells and epochs, and prints the SRCC of every learned method per shot count next to the
best proxy (an oracle choice, picked on the test cells). This is how ``EncoderConfig``'s default
readout (``"mean-sum"``) was chosen.

Usage: python tools/compare_readouts.py [--targets nb101,nb201,nb301] [--readouts mean,mean-sum]
       [--seeds 2] [--source-cells 2000] [--epochs 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

from cg_ir import atomic_output
from cg_predict.encoder import EncoderConfig
from cg_predict.evaluate import ProtocolConfig, SourceTraining, evaluate

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
            source = SourceTraining(
                encoder=EncoderConfig(readout=readout), cells=args.source_cells, epochs=args.epochs
            )
            config = ProtocolConfig.full(
                target, shots=tuple(shots), seeds=args.seeds, settings="a", source=source
            )
            start = time.perf_counter()
            result = evaluate(config, progress=False)
            print(f"{target} readout={readout} ({time.perf_counter() - start:.0f} s)")
            header, rows = result.table("a", METHODS)  # per isomorphism class, the headline
            for column, name in enumerate(header[1:], start=1):
                cells = "  ".join(f"{row[0]}: {row[column]}" for row in rows)
                print(f"  {name:26} {cells}")
            summary = [r.to_dict() for r in result.rows("a")]
            report.append({"target": target, "readout": readout, "results": summary})
    if args.json:
        with atomic_output(args.json) as handle:
            handle.write(json.dumps(report, indent=1).encode("utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
