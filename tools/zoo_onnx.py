"""Check ``cg_ir.from_onnx`` against ``cg_ir.from_module`` on the model zoo.

Every model that ``from_module`` converts makes the ONNX round trip of the ``zoo-coverage``
experiment (``cg_ir.experiments.zoo.check_onnx``), which checks torchvision's models; this
tool also covers timm's, one model at a time. Results go to
``OUT/<source>-onnx.json`` after every model (atomically; a rerun skips the models already there
for the same cg-ir code; ``--only`` rechecks the models named) and a summary grouped by outcome
is printed. Needs torchvision, timm and onnx (see the README's set-up).

    poetry run python tools/zoo_onnx.py --source torchvision --out /tmp/zoo
    poetry run python tools/zoo_onnx.py --out /tmp/zoo --only timm:resnest14d torchvision:vgg11
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from cg_ir import CgIrError, atomic_output
from cg_ir.experiments.zoo import ONNX_CODE, check_onnx
from cg_ir.provenance import code_digest
from cg_ir.zoo import SOURCES, list_models


def _checked(name: str) -> dict[str, Any]:
    """``check_onnx``'s row for ``name``, or a row saying ``from_module`` made no graph."""
    try:
        return check_onnx(name)
    except CgIrError as error:
        return {
            "name": name,
            "code_digest": code_digest(*ONNX_CODE),
            "no_fx_graph": type(error).__name__,
        }


def _outcome(row: dict[str, Any]) -> tuple[str, str]:
    """A row's outcome and its detail, for the summary's groups."""
    if "no_fx_graph" in row:
        return "no fx graph", row["no_fx_graph"]
    if not row["exports"]:
        return "does not export", row["error_type"]
    if row["unsupported_op"]:
        return "ONNX op not lowered", row["unsupported_op"]
    if not row["imports"]:
        return "import fails" + (" [RAW]" if row["raw_exception"] else ""), row["error_type"]
    if row["same_structure"]:
        return "same graph", ""
    return "different graph", "params equal" if row["params_equal"] else "params differ"


def _selected(
    names: list[str], only: list[str], rows: dict[str, dict[str, Any]], current: str
) -> list[str]:
    """The models to check: those of ``only`` among ``names``, else those not yet checked."""
    if only:
        return [n for n in names if n in only]
    return [n for n in names if rows.get(n, {}).get("code_digest") != current]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=[*SOURCES, "all"], default="all")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--skip", nargs="+", default=[], metavar="NAME", help="models not to export (memory)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="NAME",
        help="check just these models (e.g. timm:resnest14d), even if checked with this code",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    current = code_digest(*ONNX_CODE)
    for source in list(SOURCES) if args.source == "all" else [args.source]:
        path = args.out / f"{source}-onnx.json"
        rows = {r["name"]: r for r in json.loads(path.read_text())} if path.exists() else {}
        names = [f"{source}:{m}" for m in list_models(source)]
        todo = [n for n in _selected(names, args.only, rows, current) if n not in args.skip]
        for name in tqdm(todo, unit="model", desc=source):
            rows[name] = _checked(name)
            with atomic_output(path) as handle:
                handle.write(json.dumps(sorted(rows.values(), key=lambda r: r["name"])).encode())
        counts = Counter(_outcome(r) for r in rows.values())
        skipped = [n for n in names if n in args.skip]
        print(f"{source}: {len(rows)} models" + (f", skipped {skipped}" if skipped else ""))
        for (outcome, detail), n in counts.most_common():
            print(f"  {n:4d}  {outcome}{f' ({detail})' if detail else ''}")


if __name__ == "__main__":
    main()
