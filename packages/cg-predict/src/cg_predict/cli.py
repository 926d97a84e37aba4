r"""``cgnas predict``: score architectures with a trained predictor from the command line.

Registered in the ``cgnas.commands`` entry-point group (``predict =
"cg_predict.cli:register_predict"``); the ``cgnas`` program of cg-ir calls
``register_predict(subparsers)`` and then the handler stored as the ``func`` default.

Each scored item prints one line ``<score>\t<item>``; a score is a within-family rank score
(standardised accuracy: higher is better, comparable only within a family), not an accuracy.
Errors are raised and ``cgnas`` (``cg_ir.cli.main``) prints them as one line
``cgnas: error: ...`` on stderr and exits with status 2, like its own commands.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cg_ir.cli import load_user_module
from cg_predict.errors import InvalidArgumentError

__all__ = ["register_predict", "run_predict"]

_EPILOG = """\
scores are within-family rank scores (accuracy standardised per family: higher is better,
compare only within one family), not accuracies.

examples:
  cgnas predict --family nb201 --arch "(2, 2, 3, 2, 3, 0)" --arch "(4, 4, 4, 4, 4, 4)"
  cgnas predict --keys-file keys.txt --family nb301 --rank
  cgnas predict --module mynet.py:build --input-shape 1,3,32,32 --checkpoint ck.pt
"""


def register_predict(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``predict`` command to an ``argparse`` sub-parser collection."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "predict",
        help="score architectures with a trained cg-predict checkpoint",
        description="Score architectures (benchmark keys or a PyTorch module) with a trained "
        "predictor; one line per item: score, tab, item.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--checkpoint", metavar="PATH", help="predictor checkpoint (default: the shipped one)"
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--arch",
        metavar="KEY",
        action="append",
        help="an architecture key of --family (repeatable)",
    )
    what.add_argument(
        "--module",
        metavar="FILE.py:FACTORY",
        help="score FACTORY() from FILE.py (needs --input-shape)",
    )
    what.add_argument(
        "--keys-file",
        metavar="FILE",
        help="one key per line (of --family), or 'FAMILY KEY' per line; '#' starts a comment",
    )
    parser.add_argument("--family", help="family of --arch / --keys-file keys (e.g. nb201)")
    parser.add_argument(
        "--input-shape", metavar="[N,]C,H,W", help="input of --module, e.g. 1,3,32,32"
    )
    parser.add_argument("--rank", action="store_true", help="print best predicted first")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of lines")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.set_defaults(func=run_predict)
    return parser


def _keys(args: argparse.Namespace) -> list[tuple[str, str]]:
    if args.arch:
        if not args.family:
            raise InvalidArgumentError("--arch needs --family (e.g. --family nb201)")
        return [(args.family, key) for key in args.arch]
    path = Path(args.keys_file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidArgumentError(
            f"--keys-file {str(path)!r} cannot be read: {exc.strerror}"
        ) from exc
    items = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if args.family:
            items.append((args.family, line))
            continue
        family, _, key = line.partition(" ")
        if not key.strip():
            raise InvalidArgumentError(
                f"{path}:{number}: expected 'FAMILY KEY' (or pass --family for bare keys), "
                f"got {line!r}"
            )
        items.append((family, key.strip()))
    if not items:
        raise InvalidArgumentError(f"--keys-file {str(path)!r} lists no keys")
    return items


def run_predict(args: argparse.Namespace) -> int:
    """Handler of ``cgnas predict``: prints the scores and returns the exit status.

    Errors are raised (``CgPredictError``/``CgIrError``, all ``ValueError``, ``LookupError``
    or ``OSError``); ``cgnas`` prints them as one line and exits with status 2.
    """
    from cg_predict.predictor import Predictor

    items: Sequence[Any]
    input_shape: tuple[int, ...] | None = None
    if args.module:
        network, input_shape = load_user_module(args.module, args.input_shape)
        items, labels = [network], [args.module]
    else:
        if args.input_shape:
            raise InvalidArgumentError("--input-shape applies to --module only")
        items = _keys(args)
        labels = [key if args.family else f"{family} {key}" for family, key in items]
    predictor = (
        Predictor.load(args.checkpoint, args.device)
        if args.checkpoint
        else Predictor.default(args.device)
    )
    scores = predictor.predict(items, input_shape=input_shape)
    order = np.argsort(-scores, kind="stable") if args.rank else range(len(scores))
    if args.json:
        print(json.dumps([{"item": labels[i], "score": float(scores[i])} for i in order]))
    else:
        for i in order:
            print(f"{scores[i]:.6f}\t{labels[i]}")
    return 0
