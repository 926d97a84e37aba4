r"""``cgnas pretrain``: contrastive pretraining of a cg-predict encoder on unlabeled CGs.

Registered in the ``cgnas.commands`` entry-point group (``pretrain =
"cg_contrast.cli:register_pretrain"``); the ``cgnas`` program of cg-ir calls
``register_pretrain(subparsers)`` and then the handler stored as the ``func`` default.
"""

from __future__ import annotations

import argparse
from typing import Any

from cg_contrast.errors import InvalidArgumentError
from cg_ir.cli import (
    HelpFormatter,
    add_device_option,
    add_out_option,
    add_progress_option,
    comma_list,
    positive_int,
)

__all__ = ["register_pretrain", "run_pretrain"]

_EPILOG = """\
examples:
  cgnas pretrain --method retrieval --families nb101,nb201,nb301,ofa-mbv3,resnet \\
      --pool-size 50000 --epochs 20 --seed 0 --out encoder.pt
  cgnas pretrain --method dropout --pool-size 2000 --epochs 2 --out enc.pt --resume
  cgnas evaluate --target nb201 --encoder encoder.pt --out r.json
"""
# cg_contrast.pretrain.METHODS, spelled out so that registering imports no torch (the CLI
# tests keep the two equal)
_METHODS = ("retrieval", "augment", "dropout")


def register_pretrain(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``pretrain`` command to an ``argparse`` sub-parser collection.

    Imports nothing heavy (``cgnas --help`` registers every command): the default
    ``--families`` are resolved by :func:`run_pretrain`.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pretrain",
        help="contrastive pretraining of a GNN encoder on unlabeled computation graphs",
        description="Pretrain a cg-predict encoder with contrastive learning on an unlabeled\n"
        "pool of sampled architectures and write an encoder checkpoint for\n"
        "`cgnas evaluate --encoder`.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--method",
        default="retrieval",
        choices=_METHODS,
        help="positives: retrieval (spectral retrieval, the paper), augment (augmentations) "
        "or dropout",
    )
    parser.add_argument(
        "--families",
        type=comma_list(str, "family names"),
        metavar="NAMES",
        help="comma-separated cg-ir families of the pool (default: nb101, nb201, nb301, "
        "ofa-mbv3 and resnet, cg_contrast.pools.DEFAULT_FAMILIES)",
    )
    parser.add_argument(
        "--pool-size",
        type=positive_int,
        default=5000,
        metavar="N",
        help="graphs in the pool, split evenly",
    )
    parser.add_argument("--epochs", type=positive_int, default=10, metavar="N", help="epochs")
    parser.add_argument(
        "--batch-size", type=positive_int, default=256, metavar="N", help="graphs per batch"
    )
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of pool and run")
    add_device_option(parser)
    add_out_option(parser, help="encoder checkpoint")
    parser.add_argument(
        "--resume", action="store_true", help="continue from PATH.state after an interruption"
    )
    add_progress_option(parser, default=True)
    # the spelling before --no-progress, kept working
    parser.add_argument("--quiet", dest="progress", action="store_false", help=argparse.SUPPRESS)
    parser.set_defaults(func=run_pretrain)
    return parser


def run_pretrain(args: argparse.Namespace) -> int:
    """Run ``cgnas pretrain`` with parsed ``args``; returns the exit status.

    Errors are raised (``CgContrastError``, ``CgIrError``, ``OSError``); ``cgnas`` prints them
    as one line and exits with status 2.
    """
    import cg_ir
    from cg_contrast.pipeline import pretrain_encoder
    from cg_contrast.pools import DEFAULT_FAMILIES
    from cg_contrast.pretrain import PretrainConfig

    families = list(DEFAULT_FAMILIES) if args.families is None else args.families
    unknown = sorted(set(families) - set(cg_ir.families.names()))
    if unknown:
        raise InvalidArgumentError(
            f"--families {','.join(families)}: unknown {unknown}; valid: "
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
        progress=args.progress,
    )
    last = result.history[-1]["loss"] if result.history else float("nan")
    print(
        f"wrote {args.out}: {args.method} encoder, {len(result.history)} epochs, "
        f"final loss {last:.4f}, {result.seconds:.1f} s"
    )
    return 0
