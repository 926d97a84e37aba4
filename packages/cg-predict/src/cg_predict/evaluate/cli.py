r"""``cgnas evaluate``: the leave-one-family-out transfer protocol from the command line.

Registered in the ``cgnas.commands`` entry-point group (``evaluate =
"cg_predict.evaluate.cli:register_evaluate"``). Errors print one line
``cgnas evaluate: error: ...`` on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cg_predict.errors import CgPredictError

__all__ = ["register_evaluate", "run_evaluate"]

_EPILOG = """\
settings: a = NAS-Bench-Suite-Zero cells (every proxy's real-data score on the same test cells);
b = large test sets (NB-101 5k of 30k, NB-201 4,096 without 'none' plus all 15,625 as b-all,
NB-301 725, OFA 2,223); both = every setting the target has. Setting b also reports b-live:
every method on the test cells of a seeded sample (--live-proxies, default 200; quick 8) whose
seven network proxies are computed live on the real modules.

examples:
  cgnas evaluate --target nb101 --sources nb201,nb301 --shots 0,10,20,50 --seeds 5 --out r.json
  cgnas evaluate --target nb201 --dataset cifar100 --quick --setting a --out r.json
  cgnas evaluate --target nb301 --encoder encoder.pt --out r.json
  cgnas evaluate --target nb201 --encoder retrieval.pt --encoder augment.pt --out r.json
"""


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        msg = f"{text!r} is not a comma-separated list of integers"
        raise argparse.ArgumentTypeError(msg) from None


def register_evaluate(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``evaluate`` command to an ``argparse`` sub-parser collection."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate",
        help="leave-one-family-out transfer evaluation of the predictor and baselines",
        description="Train on source families, fine-tune on a few target labels, test on the "
        "rest of the target; write every (method, shots) result to --out.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--target", required=True, help="nb101, nb201, nb301 or ofa-mbv3")
    parser.add_argument("--dataset", help="target dataset (default: cifar10; imagenet for OFA)")
    parser.add_argument("--sources", help="comma-separated source families (default: the others)")
    parser.add_argument("--shots", type=_int_list, default=[0, 10, 20, 50], help="e.g. 0,10,20,50")
    parser.add_argument("--seeds", type=int, default=None, help="seeds (default 5; quick: 2)")
    parser.add_argument("--setting", default="both", help="a, b or both (default both)")
    parser.add_argument(
        "--encoder",
        metavar="PATH",
        action="append",
        help="pretrained encoder checkpoint (repeatable: one set of rows per encoder)",
    )
    parser.add_argument(
        "--unfreeze-encoder",
        action="store_true",
        help="after the head learns the sources on the frozen encoder, train it all on them",
    )
    parser.add_argument("--quick", action="store_true", help="CI mode: fewer cells and epochs")
    parser.add_argument("--data-dir", metavar="DIR", help="benchmark data ($CGNAS_DATA_DIR)")
    parser.add_argument(
        "--source-cells",
        type=int,
        metavar="N",
        help="at most N labelled cells per source family, seeded (default: all; quick 600)",
    )
    parser.add_argument("--epochs", type=int, help="source training epochs")
    parser.add_argument("--fine-tune-epochs", type=int, help="fine-tuning epochs")
    parser.add_argument(
        "--live-proxies",
        type=int,
        metavar="N",
        help="cells of setting b scored by live proxies (default 200; quick 8; 0 = none)",
    )
    parser.add_argument("--loss", default="mse+rank", help="mse or mse+rank (default)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--out", required=True, metavar="r.json", help="results file (resumable)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="recompute the seeds of an --out written by other code (overwriting it) instead "
        "of refusing to resume it",
    )
    parser.set_defaults(func=run_evaluate)
    return parser


def _mean_std(mean: float | None, std: float | None) -> str:
    """``+0.812 ± 0.031`` (sample std over seeds; none with one seed), or ``nan``."""
    if mean is None:
        return "nan"
    return f"{mean:+.3f}" if std is None else f"{mean:+.3f} ± {std:.3f}"


def run_evaluate(args: argparse.Namespace) -> int:
    """Run the protocol for parsed ``args``; print a short SRCC table; return the exit status."""
    from cg_predict.evaluate._protocol import evaluate  # torch import only when run

    seeds = args.seeds if args.seeds is not None else (2 if args.quick else 5)
    try:
        result = evaluate(
            args.target,
            args.dataset,
            None if args.sources is None else [s.strip() for s in args.sources.split(",")],
            args.shots,
            seeds,
            setting=args.setting,
            encoder_path=args.encoder,
            unfreeze_encoder=args.unfreeze_encoder,
            quick=args.quick,
            data_dir=args.data_dir,
            out=args.out,
            epochs=args.epochs,
            fine_tune_epochs=args.fine_tune_epochs,
            loss=args.loss,
            live_sample_size=args.live_proxies,
            source_limit=args.source_cells,
            device=args.device,
            force=args.force,
        )
    except (CgPredictError, OSError) as exc:
        print(f"cgnas evaluate: error: {exc}".replace("\n", " "), file=sys.stderr)
        return 2
    # one line per method and shots: the per-class SRCC (the headline), then the per-row one
    for row in result["results"]:
        if not row["method"].startswith("proxy:") or row["shots"] == 0:
            print(
                f"{row['setting']:6} {row['method']:28} {row['shots']:3} {row['unit']:5} "
                f"({row['test_size']:5})  srcc {_mean_std(row['srcc_mean'], row['srcc_std'])}"
            )
    print(f"wrote {args.out}")
    return 0
