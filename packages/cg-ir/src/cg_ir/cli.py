"""The ``cgnas`` command: convert architectures to computation graphs, inspect and summarise them.

Subcommands of cg-ir: ``convert``, ``inspect``, ``summary`` and ``families``. Other packages
add theirs through the entry-point group ``cgnas.commands``: the entry point's name is the
subcommand and its value a callable ``register(subparsers)`` that adds the subparser and sets
``func`` (called with the parsed ``argparse.Namespace``; it may return an exit status). Plugins
are imported only when their subcommand (or the full help) is asked for, and a broken one
costs a one-line warning, not the program.

Registering a command must stay cheap: ``cgnas --help`` registers every plugin, so a
``register`` function (and the module defining it) imports no torch, torch-geometric or model
code; the command's ``func`` imports what it needs when it runs.

Every failure prints one line ``cgnas: error: ...`` on stderr and exits with status 2; no
partial output file is left behind. Errors caused by the input (bad key, missing file,
unsupported operator, ...) print their message; any other exception also names its type, and
setting the environment variable ``CGNAS_TRACEBACK=1`` shows its traceback instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from cg_ir.errors import CgIrError

if TYPE_CHECKING:
    import torch

    from cg_ir._graph import ComputationGraph

__all__ = [
    "COMMAND_GROUP",
    "OUTPUT_SUFFIXES",
    "build_parser",
    "UsageError",
    "family_statistics",
    "load_onnx_graph",
    "load_user_module",
    "main",
    "write_graph",
]

COMMAND_GROUP = "cgnas.commands"
OUTPUT_SUFFIXES = (".json", ".dot", ".png", ".svg")
_BUILTIN = ("convert", "inspect", "summary", "families")
_PROG = "cgnas"
_TRACEBACK_ENV = "CGNAS_TRACEBACK"


class UsageError(CgIrError, ValueError):
    """A command-line argument that cannot be used (reported as one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (sub-parsers inherit the class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- convert --------------------------------------------------------------------------------
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
        cg_ir.cli.UsageError: --onnx: no file 'no-such-net.onnx' (no such file or directory)
    """
    if not Path(path).is_file():
        raise UsageError(f"--onnx: no file {path!r} (no such file or directory)")
    from cg_ir.onnx import from_onnx  # the onnx package loads only when an ONNX file is read

    return from_onnx(path)


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


def write_graph(graph: ComputationGraph, path: Path) -> None:
    """Write ``graph`` as JSON, DOT, PNG or SVG by the suffix of ``path``, atomically."""
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


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(
            f"cannot write {str(path)!r}: the output suffix must be one of "
            f"{', '.join(OUTPUT_SUFFIXES)}"
        )


def _cmd_convert(args: argparse.Namespace) -> int:
    output = Path(args.output)
    _check_suffix(output)  # before the (possibly slow) conversion
    graph = _graph_from_args(args)
    write_graph(graph, output)
    print(
        f"wrote {output}: {graph.num_nodes} nodes, {graph.num_edges} edges, "
        f"{graph.params:,} params, {graph.flops / 1e6:,.1f} MFLOPs"
    )
    return 0


# -- inspect --------------------------------------------------------------------------------
def _shape(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape))


def _cmd_inspect(args: argparse.Namespace) -> int:
    import json

    from cg_ir._graph import ComputationGraph

    path = Path(args.graph)
    if not path.is_file():
        raise FileNotFoundError(f"no such graph file {str(path)!r}")
    graph = ComputationGraph.from_json(path.read_bytes())
    histogram = graph.op_histogram()
    if args.json:
        facts = {
            "nodes": graph.num_nodes,
            "edges": graph.num_edges,
            "params": graph.params,
            "flops": graph.flops,
            "input_shape": list(graph.input_shape),
            "output_shape": list(graph.output_shape),
            "canonical_hash": graph.canonical_hash(),
            "op_histogram": histogram,
        }
        print(json.dumps(facts, indent=2))
        return 0
    rows = [
        ("file", str(path)),
        ("nodes", f"{graph.num_nodes:,}"),
        ("edges", f"{graph.num_edges:,}"),
        ("params", f"{graph.params:,}"),
        ("FLOPs", f"{graph.flops:,} ({graph.flops / 1e6:,.2f} M)"),
        ("input", _shape(graph.input_shape)),
        ("output", _shape(graph.output_shape)),
        ("hash", graph.canonical_hash()),
    ]
    for key, value in rows:
        print(f"{key:<8} {value}")
    print()
    width = max(len(op) for op in histogram)
    print(f"{'op':<{width}}  {'count':>5}")
    for op, count in histogram.items():
        print(f"{op:<{width}}  {count:>5}")
    return 0


# -- summary --------------------------------------------------------------------------------
def family_statistics(
    name: str, count: int, seed: int, workers: int = 1, progress: bool = False
) -> dict[str, float]:
    """Statistics of the fast-path graphs of ``count`` distinct seeded specs of a family.

    Returns a dict with ``graphs``, ``nodes_mean/min/max``, ``edges_mean``, ``params_m``
    (mean, millions), ``flops_m`` (mean, millions) and ``cgs_per_s`` (conversion speed).
    """
    import numpy as np

    from cg_ir import families
    from cg_ir.bulk import convert_many

    family = families.get(name)
    specs = family.sample_distinct(np.random.default_rng(seed), count)
    start = time.perf_counter()
    graphs = convert_many(family, specs, workers=workers, progress=progress)
    seconds = time.perf_counter() - start
    nodes = [g.num_nodes for g in graphs]
    return {
        "graphs": len(graphs),
        "nodes_mean": float(np.mean(nodes)),
        "nodes_min": min(nodes),
        "nodes_max": max(nodes),
        "edges_mean": float(np.mean([g.num_edges for g in graphs])),
        "params_m": float(np.mean([g.params for g in graphs])) / 1e6,
        "flops_m": float(np.mean([g.flops for g in graphs])) / 1e6,
        "cgs_per_s": len(graphs) / seconds if seconds > 0 else float("inf"),
    }


def _cmd_summary(args: argparse.Namespace) -> int:
    from cg_ir import families

    if args.per_family < 1:
        raise UsageError(f"--per-family must be at least 1, got {args.per_family}")
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    names = args.family or families.names()
    unknown = sorted(set(names) - set(families.names()))
    if unknown:
        raise UsageError(f"unknown families {unknown}; registered: {', '.join(families.names())}")
    w = _name_width(names)
    header = (
        f"{'family':<{w}} {'graphs':>6} {'nodes mean':>10} {'min':>5} {'max':>5} "
        f"{'edges':>7} {'params (M)':>10} {'FLOPs (M)':>10} {'CGs/s':>8}"
    )
    print(f"seeded sample: {args.per_family} specs per family, seed {args.seed}, fast path")
    print(header)
    print("-" * len(header))
    failed = []
    for name in names:
        try:
            s = family_statistics(name, args.per_family, args.seed, args.workers, args.progress)
        except Exception as exc:  # one broken family must not hide the others' rows
            failed.append(name)
            print(f"{name:<{w}} failed: {type(exc).__name__}: {exc}".replace("\n", " "))
            continue
        print(
            f"{name:<{w}} {s['graphs']:>6.0f} {s['nodes_mean']:>10.1f} {s['nodes_min']:>5.0f} "
            f"{s['nodes_max']:>5.0f} {s['edges_mean']:>7.1f} {s['params_m']:>10.3f} "
            f"{s['flops_m']:>10.1f} {s['cgs_per_s']:>8.1f}",
            flush=True,
        )
    if failed:
        print(f"{_PROG}: error: families failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _name_width(names: Sequence[str]) -> int:
    """Width of the family-name column: the longest name, at least the header's."""
    return max([len("family"), *map(len, names)])


# -- families -------------------------------------------------------------------------------
def _cmd_families(args: argparse.Namespace) -> int:
    from cg_ir import families
    from cg_ir.families import Family

    w = _name_width(families.names())
    print(f"{'family':<{w}} {'size':>12}  {'fast path':<9}  class")
    for name in families.names():
        try:
            family = families.get(name)
        except Exception as exc:
            print(f"{name:<{w}} cannot load: {type(exc).__name__}: {exc}".replace("\n", " "))
            continue
        size = f"{family.size:,}" if family.size is not None else "open"
        fast = "yes" if type(family).to_cg is not Family.to_cg else "no"
        cls = type(family)
        print(f"{name:<{w}} {size:>12}  {fast:<9}  {cls.__module__}.{cls.__qualname__}")
    return 0


# -- parser ---------------------------------------------------------------------------------
def _add_builtin_commands(sub: Any) -> None:
    convert = sub.add_parser(
        "convert",
        help="convert an architecture, a PyTorch module or an ONNX file to a graph file",
        description="Convert a family architecture (--family, --arch), a PyTorch module "
        "(--module FILE.py:FACTORY, --input-shape) or an ONNX model (--onnx FILE.onnx) to a "
        "graph file: .json (lossless), .dot (Graphviz), .png or .svg (a drawing).",
        epilog='examples:\n  cgnas convert --family nb201 --arch "(0, 2, 3, 2, 3, 1)" -o g.json\n'
        "  cgnas convert --module net.py:build --input-shape 1,3,224,224 -o g.png\n"
        "  cgnas convert --onnx net.onnx -o g.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    convert.add_argument("--family", help="registered family name (see 'cgnas families')")
    convert.add_argument("--arch", metavar="KEY", help="architecture key of --family")
    convert.add_argument(
        "--fx", action="store_true", help="trace the family's module with torch.fx (slow path)"
    )
    convert.add_argument(
        "--module", metavar="FILE.py:FACTORY", help="a file and a function returning an nn.Module"
    )
    convert.add_argument("--input-shape", metavar="N,C,H,W", help="input shape for --module")
    convert.add_argument("--onnx", metavar="FILE.onnx", help="an ONNX model file")
    convert.add_argument(
        "-o", "--output", required=True, help=f"output file ({', '.join(OUTPUT_SUFFIXES)})"
    )
    convert.set_defaults(func=_cmd_convert)

    inspect = sub.add_parser(
        "inspect",
        help="facts about a graph JSON file",
        description="Print a graph's nodes, "
        "edges, parameters, FLOPs, canonical hash and op histogram.",
    )
    inspect.add_argument("graph", help="a graph written by 'cgnas convert -o g.json'")
    inspect.add_argument("--json", action="store_true", help="print the facts as JSON")
    inspect.set_defaults(func=_cmd_inspect)

    summary = sub.add_parser(
        "summary",
        help="convert a seeded sample of every family and tabulate the graphs",
        description="Convert a seeded sample of every registered family (fast path) and print "
        "node/edge/parameter/FLOP statistics and the conversion speed.",
    )
    summary.add_argument("--per-family", type=int, default=50, metavar="N", help="default 50")
    summary.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    summary.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    summary.add_argument(
        "--family", action="append", help="only this family (repeatable; default all)"
    )
    summary.add_argument("--progress", action="store_true", help="show progress bars")
    summary.set_defaults(func=_cmd_summary)

    families = sub.add_parser("families", help="list the registered families")
    families.set_defaults(func=_cmd_families)


def _plugins() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=COMMAND_GROUP)}


def _add_plugin(sub: Any, point: EntryPoint) -> None:
    try:
        register: Callable[[Any], object] = point.load()
        register(sub)
    except Exception as exc:  # a broken plugin must not take the other commands down
        print(
            f"{_PROG}: warning: command plugin {point.name!r} ({point.value}) failed to load: "
            f"{type(exc).__name__}: {exc}".replace("\n", " "),
            file=sys.stderr,
        )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``cgnas`` parser; plugins are loaded only for ``command`` (all when it is None)."""
    parser = _Parser(
        prog=_PROG,
        description="cg-nas: neural architectures as computation graphs of primitive operators.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_builtin_commands(sub)
    if command not in _BUILTIN:
        plugins = _plugins()
        for name in [command] if command in plugins else sorted(plugins):
            if name not in _BUILTIN:
                _add_plugin(sub, plugins[name])
    return parser


def _fail(message: object) -> int:
    print(f"{_PROG}: error: {message}".replace("\n", " "), file=sys.stderr)
    return 2


def _explains_itself(exc: Exception) -> bool:
    """Whether the message of ``exc`` alone tells the user what went wrong.

    True for a missing file, a bad value or a missing package, and for every error a cg-nas
    package raises on purpose: a class of (or derived from one of) a ``cg_*.errors`` module,
    so the errors of plugins need no registration here.
    """
    return isinstance(exc, (OSError, ValueError, ImportError)) or any(
        cls.__module__.startswith("cg_") and cls.__module__.endswith(".errors")
        for cls in type(exc).__mro__
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cgnas`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(command)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse's --help and usage errors
        return int(exc.code) if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        status = args.func(args)
    except BrokenPipeError:  # e.g. `cgnas inspect g.json | head`: stop quietly, like cat
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if _explains_itself(exc):
            return _fail(exc)
        if os.environ.get(_TRACEBACK_ENV):  # a bug report wants the traceback
            raise
        return _fail(f"{type(exc).__name__}: {exc} (set {_TRACEBACK_ENV}=1 for the traceback)")
    return int(status) if isinstance(status, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
