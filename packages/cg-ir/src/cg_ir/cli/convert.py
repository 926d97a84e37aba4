"""``cgnas convert``, and the inputs every ``cgnas`` command reads the same way.

``load_user_module`` (``--module FILE.py:FACTORY`` with ``--input-shape``) and
``load_onnx_graph`` (``--onnx FILE.onnx``) are shared with other packages' commands
(``cgnas predict``); ``write_graph`` writes a graph file by its suffix (``OUTPUT_SUFFIXES``).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cg_ir.cli.options import HelpFormatter, add_out_option
from cg_ir.errors import UsageError

if TYPE_CHECKING:
    import torch

    from cg_ir._graph import ComputationGraph

__all__ = [
    "OUTPUT_SUFFIXES",
    "load_onnx_graph",
    "load_user_module",
    "register_convert",
    "write_graph",
]

OUTPUT_SUFFIXES = (".json", ".dot", ".png", ".svg")

_EPILOG = """\
examples:
  cgnas convert --family nb201 --arch "(0, 2, 3, 2, 3, 1)" -o g.json
  cgnas convert --module net.py:build --input-shape 1,3,224,224 -o g.png
  cgnas convert --onnx net.onnx -o g.json
"""


def _input_shape(text: str | None) -> tuple[int, ...]:
    if text is None:
        raise UsageError("--module needs --input-shape, e.g. --input-shape 1,3,224,224")
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) not in (3, 4) or min(shape) < 1:
        raise UsageError(
            f"--input-shape {text!r} is not 3 or 4 positive integers (C,H,W or N,C,H,W), "
            "e.g. 1,3,224,224"
        )
    return shape


def _call_factory(spec: str) -> object:
    """``FACTORY()`` of ``FILE.py:FACTORY``, the file imported by its path."""
    file, sep, name = spec.rpartition(":")
    if not sep or not file or not name:
        raise UsageError(f"--module {spec!r} is not FILE.py:FACTORY")
    path = Path(file)
    if not path.is_file():
        raise UsageError(f"--module: no file {file!r} (no such file or directory)")
    loader_spec = importlib.util.spec_from_file_location(f"_cgnas_user_{path.stem}", path)
    if loader_spec is None or loader_spec.loader is None:
        raise UsageError(f"--module: {file!r} cannot be imported as Python (use a .py file)")
    module = importlib.util.module_from_spec(loader_spec)
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        raise UsageError(
            f"--module: importing {file!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    factory = getattr(module, name, None)
    if not callable(factory):
        raise UsageError(f"--module: {file!r} has no callable {name!r}")
    try:
        return factory()
    except Exception as exc:
        raise UsageError(f"--module: {name}() raised {type(exc).__name__}: {exc}") from exc


def load_user_module(spec: str, input_shape: str | None) -> tuple[torch.nn.Module, tuple[int, ...]]:
    """The network of ``--module FILE.py:FACTORY`` and its parsed ``--input-shape``.

    Shared by every ``cgnas`` command that accepts a user's module; bad arguments raise
    ``UsageError``, which ``cgnas`` prints as one line with exit status 2.

    Examples:
        >>> load_user_module("net.py:build", None)
        Traceback (most recent call last):
        ...
        cg_ir.errors.UsageError: --module needs --input-shape, e.g. --input-shape 1,3,224,224
    """
    shape = _input_shape(input_shape)
    network = _call_factory(spec)
    import torch

    if not isinstance(network, torch.nn.Module):
        raise UsageError(
            f"--module: the factory returned a {type(network).__name__}, not a torch.nn.Module"
        )
    return network, shape


def load_onnx_graph(path: str) -> ComputationGraph:
    """The computation graph of the ONNX file ``path`` (``--onnx``), by ``cg_ir.from_onnx``.

    Shared by every ``cgnas`` command that accepts an ONNX file; a missing file raises
    ``UsageError``, which ``cgnas`` prints as one line with exit status 2.

    Examples:
        >>> load_onnx_graph("no-such-net.onnx")
        Traceback (most recent call last):
        ...
        cg_ir.errors.UsageError: --onnx: no file 'no-such-net.onnx' (no such file or directory)
    """
    if not Path(path).is_file():
        raise UsageError(f"--onnx: no file {path!r} (no such file or directory)")
    from cg_ir.onnx import from_onnx  # the onnx package loads only when an ONNX file is read

    return from_onnx(path)


def write_graph(graph: ComputationGraph, path: Path) -> None:
    """Write ``graph`` as JSON, DOT, PNG or SVG by the suffix of ``path``, atomically.

    Examples:
        >>> import tempfile
        >>> from cg_ir import families
        >>> nb201 = families.get("nb201")
        >>> graph = nb201.to_cg(nb201.parse("(0, 2, 3, 2, 3, 1)"))
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     write_graph(graph, Path(folder) / "g.dot")
        ...     (Path(folder) / "g.dot").read_text().startswith("digraph")
        True
    """
    suffix = path.suffix.lower()
    if suffix in (".png", ".svg"):
        from cg_ir.render import render

        render(graph, path)
        return
    from cg_ir._atomic import atomic_output

    if suffix == ".json":
        text = graph.to_json(indent=1)
    else:
        from cg_ir.render import to_dot

        text = to_dot(graph)
    with atomic_output(path) as handle:
        handle.write(text.encode())


def _graph_from_args(args: argparse.Namespace) -> ComputationGraph:
    given = [
        option
        for option, value in (
            ("--family", args.family),
            ("--module", args.module),
            ("--onnx", args.onnx),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise UsageError(f"give one of --family, --module or --onnx, not {' and '.join(given)}")
    if args.onnx is not None:
        return load_onnx_graph(args.onnx)
    if args.module is not None:
        network, shape = load_user_module(args.module, args.input_shape)
        from cg_ir.fx import from_module

        return from_module(network, shape)
    if args.family is None or args.arch is None:
        raise UsageError("give --family and --arch, or --module and --input-shape, or --onnx")
    from cg_ir import families

    family = families.get(args.family)
    spec = family.parse(args.arch)
    return family.trace_cg(spec) if args.fx else family.to_cg(spec)


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(
            f"cannot write {str(path)!r}: the output suffix must be one of "
            f"{', '.join(OUTPUT_SUFFIXES)}"
        )


def _run_convert(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _check_suffix(out)  # before the (possibly slow) conversion
    graph = _graph_from_args(args)
    write_graph(graph, out)
    print(
        f"wrote {out}: {graph.num_nodes} nodes, {graph.num_edges} edges, "
        f"{graph.params:,} params, {graph.flops / 1e6:,.1f} MFLOPs"
    )
    return 0


def register_convert(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``convert`` command to an ``argparse`` sub-parser collection."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "convert",
        help="convert an architecture, a PyTorch module or an ONNX file to a graph file",
        description="Convert a family architecture (--family, --arch), a PyTorch module\n"
        "(--module FILE.py:FACTORY, --input-shape) or an ONNX model (--onnx FILE.onnx) to a\n"
        "graph file: .json (lossless), .dot (Graphviz), .png or .svg (a drawing).",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--family", help="registered family name (see 'cgnas families')")
    parser.add_argument("--arch", metavar="KEY", help="architecture key of --family")
    parser.add_argument(
        "--fx", action="store_true", help="trace the family's module with torch.fx (slow path)"
    )
    parser.add_argument(
        "--module", metavar="FILE.py:FACTORY", help="a file and a function returning an nn.Module"
    )
    parser.add_argument("--input-shape", metavar="N,C,H,W", help="input shape for --module")
    parser.add_argument("--onnx", metavar="FILE.onnx", help="an ONNX model file")
    add_out_option(parser, help=f"graph file ({', '.join(OUTPUT_SUFFIXES)})", aliases=("--output",))
    parser.set_defaults(func=_run_convert)
    return parser
