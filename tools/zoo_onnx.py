"""Check ``cg_ir.from_onnx`` against ``cg_ir.from_module`` on the model zoo.

Every model that ``from_module`` converts is exported with torch's TorchScript exporter
(``dynamo=False``, batch norm kept as its own operator, no constant folding, so that the ONNX
file holds the network's own operators) and imported with ``from_onnx``; the two graphs should
have the same structure (``ComputationGraph.same_structure``). Results go to
``OUT/<source>-onnx.json`` after every model (atomically; a rerun skips the models already there
for the same cg-ir code; ``--only`` rechecks the models named) and a summary grouped by outcome
is printed. Needs torchvision, timm and onnx (see the README's set-up).

    poetry run python tools/zoo_onnx.py --source torchvision --out /tmp/zoo
    poetry run python tools/zoo_onnx.py --out /tmp/zoo --only timm:resnest14d torchvision:vgg11
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

import cg_ir
from cg_ir import atomic_output
from cg_ir.fx import from_module
from cg_ir.onnx import from_onnx
from cg_ir.provenance import code_digest
from cg_ir.zoo import SOURCES, list_models, load_model

# the exporter warns on every use that it is the legacy one, which is chosen on purpose here
warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")


def check_onnx(name: str) -> dict[str, Any]:
    """One model's row: whether it exports, imports, and gives from_module's graph."""
    row: dict[str, Any] = {"name": name, "code_digest": code_digest("cg_ir")}
    try:
        module, shape = load_model(name)
        expected = from_module(module, shape)
    except cg_ir.CgIrError as error:
        return {**row, "outcome": "no fx graph", "detail": type(error).__name__}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        start = time.perf_counter()
        try:
            torch.onnx.export(
                module,
                (torch.zeros(1, *shape),),
                str(path),
                dynamo=False,
                training=torch.onnx.TrainingMode.PRESERVE,
                do_constant_folding=False,
            )
        except Exception as error:  # the exporter's limit, not cg-ir's
            return {**row, "outcome": "does not export", "detail": type(error).__name__}
        try:
            graph = from_onnx(path)
        except cg_ir.UnsupportedOperatorError as error:
            return {**row, "outcome": "ONNX op not lowered", "detail": error.op}
        except cg_ir.CgIrError as error:
            return {**row, "outcome": "import fails", "detail": str(error)[:200]}
    same = graph.same_structure(expected)
    params = "params equal" if graph.params == expected.params else "params differ"
    return {
        **row,
        "outcome": "same graph" if same else f"different graph, {params}",
        "detail": "",
        "seconds": round(time.perf_counter() - start, 2),
    }


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
    current = code_digest("cg_ir")
    for source in list(SOURCES) if args.source == "all" else [args.source]:
        path = args.out / f"{source}-onnx.json"
        rows = {r["name"]: r for r in json.loads(path.read_text())} if path.exists() else {}
        names = [f"{source}:{m}" for m in list_models(source)]
        todo = [n for n in _selected(names, args.only, rows, current) if n not in args.skip]
        for name in tqdm(todo, unit="model", desc=source):
            rows[name] = check_onnx(name)
            with atomic_output(path) as handle:
                handle.write(json.dumps(sorted(rows.values(), key=lambda r: r["name"])).encode())
        counts = Counter((r["outcome"], r["detail"]) for r in rows.values())
        skipped = [n for n in names if n in args.skip]
        print(f"{source}: {len(rows)} models" + (f", skipped {skipped}" if skipped else ""))
        for (outcome, detail), n in counts.most_common():
            print(f"  {n:4d}  {outcome}{f' ({detail})' if detail else ''}")


if __name__ == "__main__":
    main()
