"""The ``cgnas`` program: its parser, the plugin commands, and the one error path.

``main`` prints every failure of a command as one line ``cgnas: error: ...`` on stderr and
returns 2; a command's handler raises and never prints its own errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any, NoReturn

from cg_ir.cli.convert import register_convert
from cg_ir.cli.describe import register_families, register_inspect, register_summary
from cg_ir.cli.reproduce import register_reproduce
from cg_ir.errors import CgError

__all__ = ["BUILTIN_COMMANDS", "COMMAND_GROUP", "build_parser", "main"]

COMMAND_GROUP = "cgnas.commands"
_BUILTIN: dict[str, Callable[[Any], argparse.ArgumentParser]] = {
    "convert": register_convert,
    "inspect": register_inspect,
    "summary": register_summary,
    "families": register_families,
    "reproduce": register_reproduce,
}
BUILTIN_COMMANDS = tuple(_BUILTIN)
"""cg-ir's own commands; the plugins' are the entry points of ``COMMAND_GROUP``."""
_PROG = "cgnas"
_TRACEBACK_ENV = "CGNAS_TRACEBACK"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (sub-parsers inherit the class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


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
    """The ``cgnas`` parser; plugins are loaded only for ``command`` (all when it is None).

    Examples:
        >>> parser = build_parser("convert")
        >>> parser.parse_args(["convert", "--onnx", "net.onnx", "-o", "g.json"]).out
        'g.json'
    """
    parser = _Parser(
        prog=_PROG,
        description="cg-nas: neural architectures as computation graphs of primitive operators.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in _BUILTIN.values():
        register(sub)
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
    package (or a plugin following it) raises on purpose: a ``cg_ir.errors.CgError``.
    """
    return isinstance(exc, (CgError, OSError, ValueError, ImportError))


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cgnas`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Examples:
        >>> main(["convert", "--family", "nb201", "--arch", "(9,)", "-o", "g.txt"])
        2
    """
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
