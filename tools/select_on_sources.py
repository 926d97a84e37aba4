"""Choose the protocol's model defaults without a target's labels: nested leave-one-family-out.

For every target, ``cg_predict.evaluate.select_on_sources`` scores each candidate (readout x
graph-level head features x fine-tuning epochs x fine-tuning mode) on the target's source
families only: each source in turn is held out, the model is trained on the others and scored
on it without labels and with ``--shots`` labels (the mean of the two; ``--k-only``: the labels
alone). The target's cells are never loaded. Inner evaluations are shared between targets and
resumable (``--work``); the summary, with provenance, is written to ``--out`` atomically and
printed. ``Selection.best`` keeps the package's defaults unless a candidate beats them on every
held-out family.

Usage: python tools/select_on_sources.py [--targets nb101,nb201,nb301,ofa-mbv3]
       [--readouts mean,mean-sum,attention] [--fine-tune-epochs 25,50,100]
       [--graph-features none,log_flops+log_params+depth] [--graph-feature-scalings fixed,set]
       [--k-only] [--seeds 3]
       [--shots 50] [--source-cells 1000] [--epochs 15] --work DIR --out selection.json
"""

from __future__ import annotations

import argparse
import json
import time

import cg_ir
import cg_predict
from cg_ir import atomic_output
from cg_ir.provenance import code_digest
from cg_predict.evaluate import (
    RESULTS_CODE,
    ProtocolConfig,
    SelectionGrid,
    SourceTraining,
    select_on_sources,
)
from cg_predict.training import FINE_TUNE_MODE

DEFAULT_TARGETS = ("nb101", "nb201", "nb301", "ofa-mbv3")


def main(argv: list[str] | None = None) -> int:
    """Select for every target; print each ranking's head and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default=",".join(DEFAULT_TARGETS))
    parser.add_argument("--readouts", default="mean,mean-sum,attention")
    parser.add_argument("--fine-tune-epochs", default="25,50,100")
    parser.add_argument(
        "--graph-features",
        default="none",
        help="comma-separated head feature sets, features joined by '+' ('none': no features)",
    )
    parser.add_argument("--graph-feature-scalings", default="fixed", help="fixed, set or fixed,set")
    parser.add_argument(
        "--k-only", action="store_true", help="score --shots labels alone (no zero-shot term)"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--shots", type=int, default=50)
    parser.add_argument("--source-cells", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--work", required=True, help="folder for the inner evaluations")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    grid = SelectionGrid(
        readouts=tuple(args.readouts.split(",")),
        fine_tune_epochs=tuple(int(e) for e in args.fine_tune_epochs.split(",")),
        graph_features=tuple(
            () if text == "none" else tuple(text.split("+"))
            for text in args.graph_features.split(",")
        ),
        graph_feature_scalings=tuple(args.graph_feature_scalings.split(",")),
        shots=args.shots,
        zero_shot=not args.k_only,
    )
    training = SourceTraining(cells=args.source_cells, epochs=args.epochs)
    selections = {}
    for target in args.targets.split(","):
        base = ProtocolConfig.full(target, seeds=args.seeds, source=training)
        selection = select_on_sources(base, grid, work_dir=args.work)
        selections[target] = selection.to_dict()
        top, score, _ = selection.ranking[0]
        print(
            f"{target}: {selection.best.name} (best mean SRCC over {len(selection.folds)} "
            f"folds: {top.name} {score:+.3f})"
        )
    report = {
        "config": vars(args),
        "grid": grid.to_dict(),
        # what the protocol runs for every target when this was written
        "protocol": {
            target: {
                "readout": config.source.encoder.readout,
                "graph_features": list(config.source.head.graph_features),
                "graph_feature_scaling": config.source.head.graph_feature_scaling,
                "ft": config.fine_tune_epochs,
                "mode": FINE_TUNE_MODE,
            }
            for target in selections
            for config in [ProtocolConfig.full(target)]
        },
        # the book marks the selection stale when the protocol's code has changed since
        "provenance": {
            "code_digest": code_digest(*RESULTS_CODE),
            "versions": {"cg_ir": cg_ir.__version__, "cg_predict": cg_predict.__version__},
            "wall_s": time.perf_counter() - start,
        },
        "targets": selections,
    }
    with atomic_output(args.out) as handle:
        handle.write(json.dumps(report, indent=1).encode("utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
