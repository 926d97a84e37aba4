"""Agreement of cg-predict's live zero-cost proxies with NAS-Bench-Suite-Zero's on NB-201.

For a seeded sample of the NB-201 cells of ``zc_nasbench201.json``, every proxy is computed
live on cg-ir's network of the cell (synthetic batch, seeded weights) and compared, per proxy:
Spearman of ours vs. theirs, ours vs. val_accuracy, theirs vs. val_accuracy, and the mean
seconds per network. Writes a JSON (atomically, after every cell: an interrupted run resumes
where it stopped) and prints a table.

Usage: python tools/proxy_agreement.py [--n-cells 100] [--seed 0] [--data-dir DIR]
       [--dataset cifar10] [--batch-size 32] [--proxies synflow,jacov,...] [--device cpu]
       [--threads N] [--cache proxies-cache.json] [--out proxy_agreement.json]

On a busy CPU, ``--threads 1`` is several times faster than torch's default thread pool (which
oversubscribes the cores). Timings are wall seconds on whatever machine runs it.
"""

from __future__ import annotations

import argparse
import math

import torch

from cg_predict.proxies import ALL, DEFAULT_BATCH_SIZE, ProxyCache, proxy_agreement


def _fmt(value: float) -> str:
    return "   nan" if math.isnan(value) else f"{value:+.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="default: $CGNAS_DATA_DIR")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--proxies", default=",".join(ALL), help="comma-separated names")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--cache", default=None, help="a proxy cache JSON (optional)")
    parser.add_argument("--out", default="proxy_agreement.json")
    parser.add_argument(
        "--force", action="store_true", help="recompute an --out written by other code"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    result = proxy_agreement(
        args.n_cells,
        args.seed,
        args.data_dir,
        dataset=args.dataset,
        names=[n.strip() for n in args.proxies.split(",") if n.strip()],
        batch_size=args.batch_size,
        device=args.device,
        out=args.out,
        cache=ProxyCache(args.cache) if args.cache else None,
        progress=True,
        force=args.force,
    )
    config = result["config"]
    print(
        f"NB-201 {config['dataset']}: {config['n_cells']} cells (seed {config['seed']}), "
        f"{config['batch']}, device {config['device']}"
    )
    header = "proxy       SRCC ours~theirs  ours~acc  theirs~acc   s/net (ours)  s/net (theirs)"
    print(header)
    print("-" * len(header))
    for name, row in result["proxies"].items():
        print(
            f"{name:<10}  {_fmt(row['srcc_ours_theirs']):>17}  {_fmt(row['srcc_ours_acc']):>8}"
            f"  {_fmt(row['srcc_theirs_acc']):>10}   {row['mean_seconds']:>12.3f}"
            f"  {row['their_mean_seconds']:>14.3f}"
        )
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
