"""Run cg-contrast's pretraining ablation and print its tables (``cg_contrast.ablation``).

Defaults are the full-size run the book's full mode computes: a pool of 50,000 unlabeled CGs of
five families (pool seed 0), 5 pretraining epochs per method, targets NB-101, NB-201 and NB-301
(CIFAR-10, setting a), 5 paired seeds (seed j: pretraining, source training, labelled cells and
fine-tuning), 2,000 source cells per family. Each target's CL method is chosen on its source
families only (nested leave-one-family-out, paired seed 0). Everything is resumable from
``--work``; split the work over cores by running one process per paired seed first (pretraining
and evaluation of that seed; add ``--targets ""`` to pretrain only), then one per target (the
CL choice, then the combined table, which reuses every seed's results):

    python tools/contrast_ablation.py --work abl --only-seed 0   # and 1, 2, 3, 4
    python tools/contrast_ablation.py --work abl --targets nb101  # and nb201, nb301
    python tools/contrast_ablation.py --work abl --targets nb201 --frozen-encoder
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from cg_contrast.ablation import (
    ABLATION_TARGETS,
    AblationConfig,
    ablation_rows,
    cl_choice,
    run_ablation,
    run_paired_seed,
)
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
    parser.add_argument("--pool-seed", type=int, default=defaults.pool_seed)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--seeds", type=int, default=defaults.seeds, help="paired seeds")
    parser.add_argument(
        "--only-seed",
        type=int,
        metavar="J",
        help="run paired seed J alone (its encoders and evaluations; no choice, no table)",
    )
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
        pool_seed=args.pool_seed,
        epochs=args.epochs,
        seeds=args.seeds,
        source_cells=args.source_cells,
        unfreeze_encoder=not args.frozen_encoder,
        quick=args.quick,
    )
    options = {"progress": not args.quiet, "force": args.force}
    if args.only_seed is not None:
        for target in run_paired_seed(config, args.only_seed, args.work, **options):
            print(f"{target}: paired seed {args.only_seed} done")
        return
    results = run_ablation(config, args.work, **options)
    tables = {}
    for target, result in results.items():
        header, rows = ablation_rows(result, config.methods)
        choice = cl_choice(result)
        tables[target] = {"header": header, "rows": rows, "cl_choice": choice.to_dict()}
        print(
            f"\n{target} (CIFAR-10, setting a, SRCC mean ± sample std over {config.seeds} "
            "paired seeds)"
        )
        print("| " + " | ".join(header) + " |")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        print(f"CL chosen on the sources: {choice.describe()}")
    if args.json:
        document = {"config": dataclasses.asdict(config), "tables": tables}
        with atomic_output(args.json) as f:
            f.write(json.dumps(document, indent=1).encode())


if __name__ == "__main__":
    main()
