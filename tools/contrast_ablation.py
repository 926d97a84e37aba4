"""Run cg-contrast's pretraining ablation and print its tables (``cg_contrast.ablation``).

Defaults are the full-size run the book's full mode computes: a pool of 50,000 unlabeled CGs of
five families, 5 pretraining epochs per method, targets NB-101, NB-201 and NB-301 (CIFAR-10,
setting a), 5 seeds, 2,000 source cells per family. Everything is resumable from ``--work``;
split the work over cores by running one process per method first, then one per target:

    python tools/contrast_ablation.py --work abl --methods retrieval,dropout --targets ""
    python tools/contrast_ablation.py --work abl --methods augment --targets ""
    python tools/contrast_ablation.py --work abl --targets nb101          # and nb201, nb301
    python tools/contrast_ablation.py --work abl --targets nb201 --frozen-encoder
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from cg_contrast.ablation import ABLATION_TARGETS, AblationConfig, ablation_rows, run_ablation
from cg_contrast.pretrain import METHODS
from cg_ir import atomic_output


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = AblationConfig()
    parser.add_argument("--work", required=True, help="directory of encoders and results")
    parser.add_argument("--targets", default=",".join(ABLATION_TARGETS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--pool-size", type=int, default=defaults.pool_size)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--seeds", type=int, default=defaults.seeds)
    parser.add_argument("--source-cells", type=int, default=defaults.source_cells)
    parser.add_argument(
        "--frozen-encoder",
        action="store_true",
        help="keep the pretrained encoder frozen during source training (default: unfreeze)",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the tables here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--force",
        action="store_true",
        help="redo what other code wrote in --work (encoders, states, results) instead of "
        "refusing to reuse it",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)  # small graphs: one thread per process is fastest
    config = AblationConfig(
        targets=_names(args.targets),
        methods=_names(args.methods),
        pool_size=args.pool_size,
        epochs=args.epochs,
        seeds=args.seeds,
        source_cells=args.source_cells,
        unfreeze_encoder=not args.frozen_encoder,
        quick=args.quick,
    )
    results = run_ablation(config, args.work, progress=not args.quiet, force=args.force)
    tables = {}
    for target, result in results.items():
        header, rows = ablation_rows(result, config.methods)
        tables[target] = {"header": header, "rows": rows}
        print(f"\n{target} (CIFAR-10, setting a, SRCC mean ± std over {config.seeds} seeds)")
        print("| " + " | ".join(header) + " |")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    if args.json:
        document = {"config": dataclasses.asdict(config), "tables": tables}
        with atomic_output(args.json) as f:
            f.write(json.dumps(document, indent=1).encode())


if __name__ == "__main__":
    main()
