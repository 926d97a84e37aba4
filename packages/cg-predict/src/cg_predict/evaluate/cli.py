r"""``cgnas evaluate``: the leave-one-family-out transfer protocol from the command line.

Registered in the ``cgnas.commands`` entry-point group (``evaluate =
"cg_predict.evaluate.cli:register_evaluate"``). Errors are raised; ``cgnas``
(``cg_ir.cli.main``) prints them as one line ``cgnas: error: ...`` on stderr and exits with
status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cg_ir.cli import (
    HelpFormatter,
    add_data_dir_option,
    add_device_option,
    add_out_option,
    add_progress_option,
    comma_list,
    positive_int,
)
from cg_predict.errors import InvalidArgumentError

if TYPE_CHECKING:  # imported when run: `cgnas evaluate --help` stays cheap
    from cg_predict.evaluate._config import ProtocolConfig

__all__ = ["evaluate_arguments", "protocol_config", "register_evaluate", "run_evaluate"]

_EPILOG = """\
settings: a = NAS-Bench-Suite-Zero cells (every proxy's real-data score on the same test cells);
b = large test sets (NB-101 5k of 30k, NB-201 4,096 without 'none' plus all 15,625 as b-all,
NB-301 725, OFA 2,223, Channel-Bench-Macro 16,384 per space); both = every setting the target
has. Setting b also reports b-live:
every method on the test cells of a seeded sample (--live-proxies) whose network proxies (and
AZ-NAS's aggregate of the sample) are computed live on the real modules.

examples:
  cgnas evaluate --target nb101 --sources nb201,nb301 --shots 0,10,20,50 --seeds 5 --out r.json
  cgnas evaluate --target nb201 --dataset cifar100 --quick --setting a --out r.json
  cgnas evaluate --target nb301 --encoder encoder.pt --out r.json
  cgnas evaluate --target nb201 --encoder retrieval.pt --encoder augment.pt --out r.json
"""

# Fixed values, spelled out so that registering imports no torch; the CLI tests keep them
# equal to the protocol's (``FAMILIES``, ``SETTINGS`` + "both", ``cg_predict.training.LOSSES``).
_TARGETS = ("nb101", "nb201", "nb301", "ofa-mbv3", "cbm-mobilenet", "cbm-resnet")
_SETTINGS = ("a", "b", "b-all", "both")
_LOSSES = ("mse", "mse+rank")
_ALL = "all"


def _family_cells(text: str) -> int | str:
    """``--family-cells``: a positive count, or ``all`` (every cell each epoch).

    Examples:
        >>> _family_cells("3000"), _family_cells("all")
        (3000, 'all')
    """
    if text == _ALL:
        return text
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a positive count nor {_ALL!r}"
        ) from None


def register_evaluate(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``evaluate`` command to an ``argparse`` sub-parser collection."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate",
        help="leave-one-family-out transfer evaluation of the predictor and baselines",
        description="Train on source families, fine-tune on a few target labels, test on the\n"
        "rest of the target; write every (method, shots) result to --out.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--target", required=True, choices=_TARGETS, help="the target family")
    parser.add_argument(
        "--dataset", help="target dataset (default: the target's first: cifar10; imagenet for OFA)"
    )
    parser.add_argument(
        "--sources",
        type=comma_list(str, "family names"),
        metavar="NAMES",
        help="comma-separated source families (default: every other labelled family)",
    )
    parser.add_argument(
        "--shots",
        type=comma_list(int, "integers"),
        default="0,10,20,50",
        metavar="N,N,...",
        help="labelled target cells per run, comma-separated; 0 is zero-shot",
    )
    parser.add_argument(
        "--seeds", type=positive_int, metavar="N", help="runs (default: 5; --quick: 3)"
    )
    parser.add_argument(
        "--setting", default="both", choices=_SETTINGS, help="test setting, see below"
    )
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
    add_data_dir_option(parser)
    parser.add_argument(
        "--source-cells",
        type=positive_int,
        metavar="N",
        help="at most N labelled cells per source family, seeded (default: all; --quick: 600)",
    )
    parser.add_argument(
        "--family-cells",
        type=_family_cells,
        metavar="N|all",
        help="each source-training epoch visits a fresh sample of at most N cells of every "
        "source family (default: the target's choice made without its labels)",
    )
    parser.add_argument(
        "--zero-shot-flops-weight",
        type=float,
        metavar="W",
        help="add <model>+flops zero-shot rows blending the ranking with FLOPs' at weight W "
        "(default: the target's choice made without its labels; 0: none)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help="source training epochs, at most: training stops early (default: the target's "
        "choice made without its labels)",
    )
    parser.add_argument(
        "--fine-tune-epochs",
        type=positive_int,
        metavar="N",
        help="fine-tuning epochs (default: 100)",
    )
    parser.add_argument(
        "--live-proxies",
        type=int,
        metavar="N",
        help="cells of setting b scored by live proxies, 0: none (default: 200; --quick: 8)",
    )
    parser.add_argument(
        "--loss",
        choices=_LOSSES,
        help="loss of source training and fine-tuning (default: mse+rank)",
    )
    add_device_option(parser)
    add_progress_option(parser, default=True)
    add_out_option(parser, metavar="r.json", help="results file (resumable)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="recompute the seeds of an --out written by other code (overwriting it) instead "
        "of refusing to resume it",
    )
    parser.set_defaults(func=run_evaluate)
    return parser


def protocol_config(args: argparse.Namespace) -> ProtocolConfig:
    """The ``ProtocolConfig`` of parsed ``args``: ``--quick`` or full defaults, options on top.

    Raises:
        InvalidArgumentError: an invalid option (the config's validation).
    """
    from cg_predict.evaluate._config import ProtocolConfig, SourceTraining

    make = ProtocolConfig.quick if args.quick else ProtocolConfig.full
    given = {"epochs": args.epochs, "cells": args.source_cells, "loss": args.loss}
    source: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if args.family_cells is not None:  # "all" is an explicit None
        source["family_cells"] = None if args.family_cells == _ALL else args.family_cells
    overrides = {
        "dataset": args.dataset,
        "sources": None if args.sources is None else tuple(args.sources),
        "seeds": args.seeds,
        "fine_tune_epochs": args.fine_tune_epochs,
        "live_sample_size": args.live_proxies,
        "fine_tune_loss": args.loss,
        "zero_shot_flops_weight": args.zero_shot_flops_weight,
    }
    return make(
        args.target,
        shots=tuple(args.shots),
        settings=args.setting,
        encoders=tuple(args.encoder or ()),
        unfreeze_encoder=args.unfreeze_encoder,
        source=SourceTraining.for_target(args.target, quick=args.quick, **source),
        **{k: v for k, v in overrides.items() if v is not None},
    )


def evaluate_arguments(config: Mapping[str, Any], seeds: int) -> list[str]:
    """The ``cgnas evaluate`` options that run the stored ``config`` (an ``r.json``'s) again.

    Every option the results file records is spelled out, so the command means the same
    under later defaults; what the code chooses itself (the readout of the target's model, the
    early-stopping patience) follows the code that runs it. ``seeds`` is the number of runs.

    Raises:
        InvalidArgumentError: the run used pretrained encoders, whose files the command line
            can name but a results file does not keep.

    Examples:
        >>> from cg_predict.evaluate import ProtocolConfig
        >>> pair = ("nb201", "nb301")
        >>> config = ProtocolConfig.quick("nb101", sources=pair, settings="a", live_sample_size=0)
        >>> " ".join(evaluate_arguments(config.to_dict(), seeds=3))
        'evaluate --target nb101 --dataset cifar10 --sources nb201,nb301 --shots 0,10,20,50 \
--setting a --seeds 3 --epochs 12 --source-cells 600 --family-cells 3000 \
--zero-shot-flops-weight 0.75 --fine-tune-epochs 100 --loss mse+rank --live-proxies 0 --quick'
    """
    from cg_predict.evaluate._config import _settings
    from cg_predict.evaluate._targets import settings_of

    if config.get("encoder"):
        raise InvalidArgumentError(
            "a run with pretrained encoders cannot be repeated from its results file (it "
            "keeps their SHA-256, not the files); name them with --encoder"
        )
    target = config["target"]
    settings = tuple(s for s in config["settings"] if s != "b-live")  # --live-proxies adds it
    # --setting names one setting or both; NB-201's b brings b-all
    setting = next(s for s in ("both", *settings_of(target)) if _settings(target, (s,)) == settings)
    arguments = [
        "evaluate",
        *("--target", target, "--dataset", config["dataset"]),
        *("--sources", ",".join(config["sources"])),
        *("--shots", ",".join(str(k) for k in config["shots"])),
        *("--setting", setting, "--seeds", str(seeds)),
        *("--epochs", str(config["train"]["epochs"])),
    ]
    if config["source_limit"] is not None:
        arguments += ["--source-cells", str(config["source_limit"])]
    family_cells = config["train"].get("family_cells")  # absent from files written before it
    arguments += ["--family-cells", _ALL if family_cells is None else str(family_cells)]
    weight = config.get("zero_shot_flops_weight", 0.0)
    arguments += ["--zero-shot-flops-weight", f"{weight:g}"]
    if config["train"]["loss"] != config["fine_tune"]["loss"]:
        raise InvalidArgumentError(
            "source training and fine-tuning used different losses; --loss sets both"
        )
    arguments += [
        *("--fine-tune-epochs", str(config["fine_tune"]["epochs"])),
        *("--loss", config["fine_tune"]["loss"]),
        *("--live-proxies", str(config["live_proxies"]["sample"])),
    ]
    return arguments + (["--quick"] if config["quick"] else [])


def run_evaluate(args: argparse.Namespace) -> int:
    """Run the protocol for parsed ``args``; print a short SRCC table; return the exit status.

    Errors are raised (``CgPredictError``, ``CgIrError``, ``OSError``); ``cgnas`` prints them
    as one line and exits with status 2.
    """
    from cg_predict.evaluate._protocol import evaluate  # torch import only when run

    result = evaluate(
        protocol_config(args),
        data_dir=args.data_dir,
        out=args.out,
        device=args.device,
        progress=args.progress,
        force=args.force,
    )
    # one line per method and shots: the per-class SRCC (the headline), then the per-row one
    for row in result.results:
        if not row.method.startswith("proxy:") or row.shots == 0:
            print(
                f"{row.setting:6} {row.method:28} {row.shots:3} {row.unit:5} "
                f"({row.test_size:5})  srcc {row.srcc_text()}"
            )
    print(f"wrote {args.out}")
    return 0
