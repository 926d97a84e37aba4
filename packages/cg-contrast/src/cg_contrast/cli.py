r"""``cgnas pretrain``: contrastive pretraining of a cg-predict encoder on unlabeled CGs.

Registered in the ``cgnas.commands`` entry-point group (``pretrain =
"cg_contrast.cli:register_pretrain"``); the ``cgnas`` program of cg-ir calls
``register_pretrain(subparsers)`` and then the handler stored as the ``func`` default.
"""

from __future__ import annotations

import argparse
from typing import Any

from cg_contrast.errors import InvalidArgumentError

__all__ = ["register_pretrain", "run_pretrain"]

_EPILOG = """\
examples:
  cgnas pretrain --method retrieval --families nb101,nb201,nb301,ofa-mbv3,resnet \\
      --pool-size 50000 --epochs 20 --seed 0 --out encoder.pt
  cgnas pretrain --method dropout --pool-size 2000 --epochs 2 --out enc.pt --resume
  cgnas evaluate --target nb201 --encoder encoder.pt --out r.json
"""


def register_pretrain(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``pretrain`` command to an ``argparse`` sub-parser collection.

    Imports nothing heavy (``cgnas --help`` registers every command): ``--method`` and the
    default ``--families`` are checked and resolved by :func:`run_pretrain`.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pretrain",
        help="contrastive pretraining of a GNN encoder on unlabeled computation graphs",
        description="Pretrain a cg-predict encoder with contrastive learning on an unlabeled "
        "pool of sampled architectures and write an encoder checkpoint for "
        "`cgnas evaluate --encoder`.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--method",
        default="retrieval",
        help="positives: retrieval (spectral retrieval, the paper), augment (augmentations) "
        "or dropout (default: %(default)s)",
    )
    parser.add_argument(
        "--families",
        help="comma-separated cg-ir families of the pool (default: nb101, nb201, nb301, "
        "ofa-mbv3 and resnet, cg_contrast.pools.DEFAULT_FAMILIES)",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=5000,
        metavar="N",
        help="graphs in the pool, split evenly (default: %(default)s)",
    )
    parser.add_argument("--epochs", type=int, default=10, metavar="E")
    parser.add_argument("--batch-size", type=int, default=256, metavar="B")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0, metavar="S")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", required=True, metavar="PATH", help="encoder checkpoint")
    parser.add_argument(
        "--resume", action="store_true", help="continue from PATH.state after an interruption"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run_pretrain)
    return parser


def run_pretrain(args: argparse.Namespace) -> int:
    """Run ``cgnas pretrain`` with parsed ``args``; returns the exit status."""
    import cg_ir
    from cg_contrast.pipeline import pretrain_encoder
    from cg_contrast.pools import DEFAULT_FAMILIES
    from cg_contrast.pretrain import METHODS, PretrainConfig

    if args.method not in METHODS:
        raise InvalidArgumentError(f"--method {args.method!r} is not one of {', '.join(METHODS)}")
    families = (
        list(DEFAULT_FAMILIES)
        if args.families is None
        else [f.strip() for f in args.families.split(",") if f.strip()]
    )
    unknown = sorted(set(families) - set(cg_ir.families.names()))
    if not families or unknown:
        raise InvalidArgumentError(
            f"--families {args.families!r}: unknown {unknown or 'none given'}; valid: "
            f"{','.join(sorted(cg_ir.families.names()))}"
        )
    config = PretrainConfig(
        method=args.method,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
    )
    result = pretrain_encoder(
        args.out,
        config,
        families=families,
        pool_size=args.pool_size,
        resume=args.resume,
        device=args.device,
        progress=not args.quiet,
    )
    last = result.history[-1]["loss"] if result.history else float("nan")
    print(
        f"wrote {args.out}: {args.method} encoder, {len(result.history)} epochs, "
        f"final loss {last:.4f}, {result.seconds:.1f} s"
    )
    return 0
