"""The ``cgnas`` command: convert architectures to computation graphs, inspect and summarise them.

Subcommands of cg-ir: ``convert``, ``inspect``, ``summary`` and ``families``. Other packages
add theirs through the entry-point group ``cgnas.commands``: the entry point's name is the
subcommand and its value a callable ``register(subparsers)`` that adds the subparser and sets
``func`` (called with the parsed ``argparse.Namespace``; it may return an exit status). Plugins
are imported only when their subcommand (or the full help) is asked for, and a broken one
costs a one-line warning, not the program. Every command follows the conventions of
:mod:`cg_ir.cli.options` (``--out/-o``, ``--progress/--no-progress``, ``--device``,
``--data-dir``, comma-separated lists, defaults shown in ``--help``) through its public helpers.

Registering a command must stay cheap: ``cgnas --help`` registers every plugin, so a
``register`` function (and the module defining it) imports no torch, torch-geometric or model
code; the command's ``func`` imports what it needs when it runs.

A handler raises; it never prints its own errors. ``main`` prints every failure as one line
``cgnas: error: ...`` on stderr and exits with status 2; no partial output file is left
behind. Errors caused by the input (a ``cg_ir.errors.CgError`` such as ``UsageError``, a
missing file, a bad value) print their message; any other exception also names its type, and
setting the environment variable ``CGNAS_TRACEBACK=1`` shows its traceback instead.

This package is the command-line front end only: code whose output is a result lives in the
library (``cg_ir.statistics.family_statistics``, re-exported here), because the code digest
that keys cached results leaves ``cli`` out.
"""

from cg_ir.cli.convert import OUTPUT_SUFFIXES, load_onnx_graph, load_user_module, write_graph
from cg_ir.cli.options import (
    HelpFormatter,
    add_data_dir_option,
    add_device_option,
    add_out_option,
    add_progress_option,
    comma_list,
    positive_int,
)
from cg_ir.cli.program import COMMAND_GROUP, build_parser, main
from cg_ir.errors import UsageError
from cg_ir.statistics import family_statistics

__all__ = [
    "COMMAND_GROUP",
    "OUTPUT_SUFFIXES",
    "HelpFormatter",
    "UsageError",
    "add_data_dir_option",
    "add_device_option",
    "add_out_option",
    "add_progress_option",
    "build_parser",
    "comma_list",
    "family_statistics",
    "load_onnx_graph",
    "load_user_module",
    "main",
    "positive_int",
    "write_graph",
]
