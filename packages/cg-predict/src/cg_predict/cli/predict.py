r"""``cgnas predict``: score architectures with a trained predictor from the command line.

Registered in the ``cgnas.commands`` entry-point group (``predict =
"cg_predict.cli:register_predict"``); the ``cgnas`` program of cg-ir calls
``register_predict(subparsers)`` and then the handler stored as the ``func`` default.
Registering imports neither torch nor the predictor: :func:`run_predict` does, when it runs.

What to score comes from repeatable options, freely mixed: ``--arch KEY`` (of ``--family``),
``--keys-file FILE``, ``--module FILE.py:FACTORY``, ``--onnx FILE.onnx`` and ``--zoo
LIBRARY:NAME``. Each scored item prints one line ``<score>\t<item>`` in the order the options
were given (``--rank``: best first), the item naming its source as it was given (the key, the
``FILE.py:FACTORY``, the ONNX path, the zoo name). A score is a within-family rank score
(standardised accuracy: higher is better, comparable only within a family), not an accuracy;
before fine-tuning, the default checkpoint's scores are blended with the FLOPs ranking of the
items scored together (``Predictor.score``), so they are relative to those items.
With ``--labels FILE.csv`` (``item,accuracy`` rows naming scored items as they are printed)
the predictor is first fine-tuned on those labels, the way the transfer protocol measured best
(``training.FINE_TUNE_MODE``: the whole network, ``FINE_TUNE_EPOCHS`` epochs), so that a few
trained networks of a new family adapt the ranking of the rest.
Errors are raised and ``cgnas`` (``cg_ir.cli.main``) prints them as one line
``cgnas: error: ...`` on stderr and exits with status 2, like its own commands.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cg_ir.cli import (
    HelpFormatter,
    add_device_option,
    add_progress_option,
    load_onnx_graph,
    load_user_module,
    positive_int,
)
from cg_predict.errors import InvalidArgumentError, InvalidLabelError

if TYPE_CHECKING:
    from cg_ir import ComputationGraph

__all__ = ["register_predict", "run_predict"]

_EPILOG = """\
scores are within-family rank scores (accuracy standardised per family: higher is better,
compare only within one family), not accuracies; without --labels the default checkpoint
blends them with the FLOPs ranking of the items scored together.

examples:
  cgnas predict --family nb201 --arch "(2, 2, 3, 2, 3, 0)" --arch "(4, 4, 4, 4, 4, 4)"
  cgnas predict --keys-file keys.txt --family nb301 --rank
  cgnas predict --module mynet.py:build --input-shape 1,3,32,32 --checkpoint ck.pt
  cgnas predict --module a.py:build --module b.py:build --input-shape 1,3,32,32
  cgnas predict --onnx net.onnx --zoo torchvision:resnet18 --zoo timm:resnet50 --rank
  cgnas predict --keys-file keys.txt --family nb201 --labels trained.csv --rank
"""

# option -> the kind of source recorded with its value (also the "source" of a --json row)
_SOURCE_OPTIONS = {
    "--arch": ("arch", "KEY", "an architecture key of --family"),
    "--keys-file": (
        "keys-file",
        "FILE",
        "one key per line (of --family), or 'FAMILY KEY' per line; '#' starts a comment",
    ),
    "--module": ("module", "FILE.py:FACTORY", "score FACTORY() from FILE.py (needs --input-shape)"),
    "--onnx": ("onnx", "FILE.onnx", "score an ONNX model"),
    "--zoo": ("zoo", "LIBRARY:NAME", "score a model zoo's network, e.g. torchvision:resnet18"),
}


class _AppendSource(argparse.Action):
    """Appends ``(kind, value)`` to ``sources``: one list keeps the command line's order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        # a new list, never the shared default
        setattr(
            namespace, self.dest, [*(getattr(namespace, self.dest) or []), (self.const, values)]
        )


def register_predict(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``predict`` command to an ``argparse`` sub-parser collection."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "predict",
        help="score architectures with a trained cg-predict checkpoint",
        description="Score architectures (benchmark keys, PyTorch modules, ONNX files, zoo\n"
        "models; every option repeatable, and mixable) with a trained predictor; one line\n"
        "per item, in the order given: score, tab, item.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--checkpoint", metavar="PATH", help="predictor checkpoint (default: the shipped one)"
    )
    for option, (kind, metavar, text) in _SOURCE_OPTIONS.items():
        parser.add_argument(
            option,
            dest="sources",
            action=_AppendSource,
            const=kind,
            metavar=metavar,
            help=f"{text} (repeatable)",
        )
    parser.add_argument("--family", help="family of --arch / --keys-file keys (e.g. nb201)")
    parser.add_argument(
        "--input-shape",
        metavar="[N,]C,H,W",
        action="append",
        help="input of --module, e.g. 1,3,32,32: once for every --module, or once per --module "
        "in the same order",
    )
    parser.add_argument(
        "--labels",
        metavar="FILE.csv",
        help="'item,accuracy' rows for some of the scored items (named as printed): fine-tune "
        "on them first (at least 2)",
    )
    parser.add_argument(
        "--fine-tune-mode",
        choices=("full", "head"),
        help="with --labels: train the whole network or the head only (default: the "
        "protocol's best, the whole network)",
    )
    parser.add_argument(
        "--fine-tune-epochs",
        type=positive_int,
        metavar="N",
        help="with --labels: epochs (default: the protocol's)",
    )
    parser.add_argument(
        "--no-live-proxies",
        action="store_true",
        help="rank by the checkpoint's graphs-only blend (network, FLOPs, params): no zero-cost "
        "proxy is computed (each costs seconds to a minute per network on a CPU)",
    )
    parser.add_argument("--rank", action="store_true", help="print best predicted first")
    add_progress_option(parser, default=True)
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of lines")
    add_device_option(parser)
    parser.set_defaults(func=run_predict, sources=[])
    return parser


def _keys_file(path: Path, family: str | None) -> list[tuple[str, str]]:
    """The ``(family, key)`` pairs listed in ``path`` (``--keys-file``)."""
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
        if family:
            items.append((family, line))
            continue
        name, _, key = line.partition(" ")
        if not key.strip():
            raise InvalidArgumentError(
                f"{path}:{number}: expected 'FAMILY KEY' (or pass --family for bare keys), "
                f"got {line!r}"
            )
        items.append((name, key.strip()))
    if not items:
        raise InvalidArgumentError(f"--keys-file {str(path)!r} lists no keys")
    return items


def _labels_file(path: Path, names: Sequence[str]) -> tuple[list[int], list[float]]:
    """Indices into ``names`` and accuracies of the ``item,accuracy`` rows of ``path``."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row and not row[0].startswith("#")]
    except OSError as exc:
        raise InvalidArgumentError(
            f"--labels {str(path)!r} cannot be read: {exc.strerror}"
        ) from exc
    if rows and rows[0][-1].strip().lower() in ("accuracy", "label"):
        rows = rows[1:]  # a header
    index = {name: i for i, name in enumerate(names)}
    where, accuracies = [], []
    for number, row in enumerate(rows, 1):
        item, _, text = ",".join(row).rpartition(",")  # an item may hold commas (NB-201 keys)
        item = item.strip().strip('"')
        if item not in index:
            raise InvalidArgumentError(
                f"{path}: row {number}: {item!r} is not a scored item; items are named as "
                "printed (the key, FILE.py:FACTORY, the ONNX path, LIBRARY:NAME)"
            )
        try:
            accuracy = float(text)
        except ValueError:
            accuracy = math.nan
        if not 0.0 <= accuracy <= 100.0:  # NaN fails too
            raise InvalidLabelError(
                f"{path}: row {number}: the accuracy of {item!r} is {text.strip()!r}, not a "
                "number in [0, 100]"
            )
        where.append(index[item])
        accuracies.append(accuracy)
    if len(where) < 2:
        raise InvalidArgumentError(f"--labels {str(path)!r}: fine-tuning needs at least 2 labels")
    return where, accuracies


def _module_shapes(args: argparse.Namespace) -> list[str | None]:
    """The ``--input-shape`` text of each ``--module``, in order (None where none was given)."""
    modules = sum(kind == "module" for kind, _ in args.sources)
    shapes: list[str] = args.input_shape or []
    if shapes and not modules:
        raise InvalidArgumentError("--input-shape applies to --module only")
    if len(shapes) <= 1:
        return [shapes[0] if shapes else None] * modules
    if len(shapes) != modules:
        raise InvalidArgumentError(
            f"{len(shapes)} --input-shape options for {modules} --module options: give one for "
            "every --module, or one per --module in the same order"
        )
    return list(shapes)


def _network(
    kind: str, value: str, input_shape: str | None, live: Sequence[str], device: str
) -> tuple[ComputationGraph, dict[str, float] | None]:
    """One ``--module``, ``--onnx`` or ``--zoo`` network's graph and its ``live`` proxies.

    The proxies are computed while the module is in memory (None for ONNX: no module).
    """
    if kind == "onnx":
        return load_onnx_graph(value), None
    from cg_ir.fx import from_module  # torch loads only when a network is scored

    if kind == "module":
        network, shape = load_user_module(value, input_shape)
    else:
        from cg_ir.zoo import load_model  # torchvision / timm load only for --zoo

        network, shape = load_model(value)
    return from_module(network, shape), _proxies(network, live, shape, device)


def _proxies(item: Any, live: Sequence[str], shape: Any, device: str) -> dict[str, float] | None:
    """``{proxy: value}`` of one module or ``(family, key)`` pair (None if none is wanted)."""
    if not live:
        return None
    from cg_predict.predictor import live_proxy_scores

    return {n: float(v[0]) for n, v in live_proxy_scores([item], live, shape, device).items()}


def _items(
    args: argparse.Namespace, live: Sequence[str]
) -> tuple[list[Any], list[str], list[str], list[dict[str, float] | None]]:
    """What to score (graphs and ``(family, key)`` pairs), labels, kinds and live proxies.

    The ``live`` proxies are computed per item (None where an item has no module). Networks
    are converted one at a time, so only their graphs stay in memory.
    """
    from tqdm import tqdm

    shapes = iter(_module_shapes(args))
    items: list[Any] = []
    labels: list[str] = []
    kinds: list[str] = []
    proxies: list[dict[str, float] | None] = []
    progress = tqdm(
        desc=f"live proxies ({', '.join(live)})",
        disable=not (live and args.progress),
        unit="net",
    )
    for kind, value in args.sources:
        if kind in ("arch", "keys-file"):
            pairs = (
                [(args.family, value)] if kind == "arch" else _keys_file(Path(value), args.family)
            )
            items += pairs
            labels += [key if args.family else f"{family} {key}" for family, key in pairs]
            kinds += [kind] * len(pairs)
            for pair in pairs:
                proxies.append(_proxies(pair, live, None, args.device))
                progress.update()
        else:
            shape = next(shapes) if kind == "module" else None
            graph, values = _network(kind, value, shape, live, args.device)
            items.append(graph)
            labels.append(value)
            kinds.append(kind)
            proxies.append(values)
            progress.update()
    progress.close()
    return items, labels, kinds, proxies


def _proxy_columns(
    live: Sequence[str], proxies: Sequence[dict[str, float] | None]
) -> dict[str, list[float]] | None:
    """``Predictor.score``'s ``proxy_scores``: None unless every item has them."""
    if not live or any(p is None for p in proxies):
        return None
    return {name: [p[name] for p in proxies if p is not None] for name in live}


def run_predict(args: argparse.Namespace) -> int:
    """Handler of ``cgnas predict``: prints the scores and returns the exit status.

    Errors are raised (``CgPredictError``/``CgIrError``, all ``ValueError``, ``LookupError``
    or ``OSError``); ``cgnas`` prints them as one line and exits with status 2.
    """
    if not args.sources:
        raise InvalidArgumentError(
            f"nothing to score: give {', '.join(_SOURCE_OPTIONS)} (each repeatable)"
        )
    if not args.family and any(kind == "arch" for kind, _ in args.sources):
        raise InvalidArgumentError("--arch needs --family (e.g. --family nb201)")
    from cg_predict.predictor import Predictor

    predictor = (
        Predictor.load(args.checkpoint, args.device)
        if args.checkpoint
        else Predictor.default(args.device)
    )
    weights = predictor.zero_shot_blend["weights"]
    # an ONNX network has no module: the set is ranked by the graphs-only blend, so no proxy
    # of the others would be read
    has_onnx = any(kind == "onnx" for kind, _ in args.sources)
    skip = args.labels or args.no_live_proxies or has_onnx
    live = [] if skip else [n for n in weights if n not in ("network", "flops", "params")]
    items, labels, kinds, proxies = _items(args, live)
    if args.labels:
        from cg_predict.training import FINE_TUNE_EPOCHS, FINE_TUNE_MODE

        where, accuracies = _labels_file(Path(args.labels), labels)
        predictor.fine_tune(
            [items[i] for i in where],
            accuracies,
            mode=args.fine_tune_mode or FINE_TUNE_MODE,
            epochs=args.fine_tune_epochs or FINE_TUNE_EPOCHS,
        )
    elif args.fine_tune_mode or args.fine_tune_epochs:
        raise InvalidArgumentError("--fine-tune-mode and --fine-tune-epochs need --labels")
    columns = _proxy_columns(live, proxies)
    used = predictor.blend_for(items, columns)
    if used != {"network": 1.0}:
        why = ""
        if used != weights:
            why = " (graphs only: " + (
                "--no-live-proxies)" if args.no_live_proxies else "an ONNX network has no module)"
            )
        print(f"zero-shot ranking: rank blend {used}{why}", file=sys.stderr)
    scores = predictor.score(items, proxy_scores=columns)
    order: Sequence[int] = (
        np.argsort(-scores, kind="stable").tolist() if args.rank else range(len(scores))
    )
    if args.json:
        rows = [{"item": labels[i], "score": float(scores[i]), "source": kinds[i]} for i in order]
        print(json.dumps(rows))
    else:
        for i in order:
            print(f"{scores[i]:.6f}\t{labels[i]}")
    return 0
