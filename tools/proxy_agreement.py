"""Agreement of cg-predict's live zero-cost proxies with NAS-Bench-Suite-Zero's, per target.

For a seeded sample of the cells of each target (a NAS-Bench-Suite-Zero table: NB-101,
NB-201 on CIFAR-10 / CIFAR-100 / ImageNet16-120, NB-301), every proxy is computed live on
cg-ir's network of the cell (seeded weights, one synthetic batch per synthetic input) and
compared, per proxy: Spearman of ours vs. theirs, ours vs. val_accuracy, theirs vs.
val_accuracy, and the mean seconds per network. Proxies NAS-Bench-Suite-Zero never scored
(zico, meco, swap, ...) show "no reference" and are compared with val_accuracy only. Each
(target, input) run writes a JSON (atomically, after every cell: an interrupted run resumes
where it stopped) into ``--out-dir``; the table of every run is printed, and written to
``--out-dir``/summary.json.

Usage: python tools/proxy_agreement.py [--n-cells 100] [--seed 0] [--data-dir DIR]
       [--targets nb101,nb201/cifar10,nb201/cifar100,nb201/ImageNet16-120,nb301]
       [--inputs normal,pixel,smooth] [--batch-size 32] [--proxies synflow,jacov,...]
       [--device cpu] [--threads N] [--cache proxies-cache.json] [--out-dir proxy_agreement]

A shared ``--cache`` computes a cell's scores once for the three NB-201 datasets (same
networks, same batch). On a busy CPU, ``--threads 1`` is several times faster than torch's
default thread pool (which oversubscribes the cores). Timings are wall seconds on whatever
machine runs it.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import torch

from cg_ir import atomic_output
from cg_predict.proxies import (
    ALL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_INPUT,
    TARGETS,
    ProxyCache,
    proxy_agreement,
)


def _fmt(value: float) -> str:
    return "   nan" if math.isnan(value) else f"{value:+.3f}"


def _target(text: str) -> tuple[str, str]:
    """``nb201/cifar100`` -> ("nb201", "cifar100"); a family alone means CIFAR-10."""
    family, _, dataset = text.strip().partition("/")
    return family, dataset or "cifar10"


def _print_run(result: dict[str, Any]) -> None:
    config = result["config"]
    print(
        f"\n{config['family']} {config['dataset']}: {config['n_cells']} cells "
        f"(seed {config['seed']}), {config['batch']}, device {config['device']}"
    )
    header = (
        f"{'proxy':<16}   SRCC ours~theirs  ours~acc  theirs~acc   s/net (ours)  s/net (theirs)   n"
    )
    print(header)
    print("-" * len(header))
    for name, row in result["proxies"].items():
        theirs = _fmt(row["srcc_ours_theirs"]) if row["reference"] else "no reference"
        print(
            f"{name:<16}  {theirs:>17}  {_fmt(row['srcc_ours_acc']):>8}"
            f"  {_fmt(row['srcc_theirs_acc']):>10}   {row['mean_seconds']:>12.3f}"
            f"  {row['their_mean_seconds']:>14.3f}  {row['n']:>3}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="default: $CGNAS_DATA_DIR")
    parser.add_argument(
        "--targets",
        default=",".join(f"{f}/{d}" for f, d in TARGETS),
        help="comma-separated family/dataset (a family alone: cifar10)",
    )
    parser.add_argument("--inputs", default=DEFAULT_INPUT, help="comma-separated input names")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--proxies", default=",".join(ALL), help="comma-separated names")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--cache", default=None, help="a proxy cache JSON (optional)")
    parser.add_argument("--out-dir", default="proxy_agreement")
    parser.add_argument("--force", action="store_true", help="recompute runs written by other code")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = ProxyCache(args.cache) if args.cache else None

    summary: list[dict[str, Any]] = []
    for synthetic in [s.strip() for s in args.inputs.split(",") if s.strip()]:
        for family, dataset in map(_target, args.targets.split(",")):
            result = proxy_agreement(
                args.n_cells,
                args.seed,
                args.data_dir,
                family=family,
                dataset=dataset,
                names=[n.strip() for n in args.proxies.split(",") if n.strip()],
                batch_size=args.batch_size,
                synthetic_input=synthetic,
                device=args.device,
                out=out_dir / f"{family}-{dataset}-{synthetic}.json",
                cache=cache,
                progress=True,
                force=args.force,
            )
            _print_run(result)
            summary.extend(
                {"family": family, "dataset": dataset, "input": synthetic, "proxy": name, **row}
                for name, row in result["proxies"].items()
            )
    text = json.dumps(summary, indent=1, allow_nan=True)
    with atomic_output(out_dir / "summary.json") as handle:
        handle.write((text + "\n").encode("utf-8"))
    print(f"\nwritten to {out_dir}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
