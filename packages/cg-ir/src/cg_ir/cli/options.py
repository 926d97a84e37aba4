"""The argument conventions every ``cgnas`` command follows (cg-ir's and the plugins').

One spelling per concept, so that a user learns it once:

- the file a command writes is ``--out PATH``, alias ``-o`` (:func:`add_out_option`);
- progress bars are ``--progress/--no-progress`` (:func:`add_progress_option`);
- the torch device is ``--device`` (:func:`add_device_option`), the benchmark data folder
  ``--data-dir DIR`` (:func:`add_data_dir_option`);
- a count is a positive integer (:func:`positive_int`), a list is comma-separated
  (:func:`comma_list`: ``--shots 0,10,20,50``, ``--families nb201,nb301``); options whose
  values may hold commas (architecture keys, paths) are repeated instead;
- fixed values are ``choices=``, and ``--help`` shows every default
  (``add_parser(..., formatter_class=HelpFormatter)``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = [
    "HelpFormatter",
    "add_data_dir_option",
    "add_device_option",
    "add_out_option",
    "add_progress_option",
    "comma_list",
    "positive_int",
]

_T = TypeVar("_T")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help that shows each option's default and keeps descriptions and epilogs as written.

    An option with nothing to show (default None or an empty list, or a flag that is off
    unless given) gets no ``(default: ...)``: its help says what happens without it.

    Examples:
        >>> parser = argparse.ArgumentParser(prog="demo", formatter_class=HelpFormatter)
        >>> _ = parser.add_argument("--seed", type=int, default=0, help="sampling seed")
        >>> _ = parser.add_argument("--json", action="store_true", help="print JSON")
        >>> help_text = parser.format_help()
        >>> "sampling seed (default: 0)" in help_text, "JSON (default" in help_text
        (True, False)
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        off_flag = (
            action.nargs == 0
            and default is False
            and not isinstance(action, argparse.BooleanOptionalAction)
        )
        if default is None or default == [] or off_flag:
            return action.help
        return super()._get_help_string(action)


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1 (a count, a size, a budget).

    Examples:
        >>> positive_int("20")
        20
        >>> positive_int("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: '0' is not a positive integer
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def comma_list(item: Callable[[str], _T], noun: str) -> Callable[[str], list[_T]]:
    """An ``argparse`` type: comma-separated values, each read by ``item`` (``str``, ``int``).

    Blank values are skipped; no value at all, or one that ``item`` rejects, is a usage error
    naming ``noun`` (what the list holds). A string default goes through the type too, so
    ``default="0,10"`` parses to ``[0, 10]`` and shows as ``0,10`` in ``--help``.

    Examples:
        >>> shots = comma_list(int, "integers")
        >>> shots("0, 10,20")
        [0, 10, 20]
        >>> comma_list(str, "family names")("nb201,nb301")
        ['nb201', 'nb301']
        >>> shots("0,x")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: '0,x' is not a comma-separated list of integers
    """

    def parse(text: str) -> list[_T]:
        values = [value.strip() for value in text.split(",") if value.strip()]
        try:
            parsed = [item(value) for value in values]
        except (ValueError, argparse.ArgumentTypeError):
            parsed = []
        if not parsed:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {noun}")
        return parsed

    return parse


def add_out_option(
    parser: argparse.ArgumentParser,
    *,
    help: str,
    metavar: str = "PATH",
    required: bool = True,
    aliases: Sequence[str] = (),
) -> argparse.Action:
    """Add the option naming the file a command writes: ``--out PATH``, alias ``-o``.

    ``aliases`` are older spellings kept working (listed after ``--out``); the value is
    ``args.out`` whichever is used.

    Examples:
        >>> parser = argparse.ArgumentParser(prog="demo")
        >>> _ = add_out_option(parser, help="results file", aliases=("--output",))
        >>> [parser.parse_args([option, "r.json"]).out for option in ("-o", "--out", "--output")]
        ['r.json', 'r.json', 'r.json']
    """
    return parser.add_argument(
        "--out", "-o", *aliases, dest="out", required=required, metavar=metavar, help=help
    )


def add_progress_option(parser: argparse.ArgumentParser, *, default: bool) -> argparse.Action:
    """Add ``--progress/--no-progress`` (progress bars on stderr); ``default``: shown or not.

    Examples:
        >>> parser = argparse.ArgumentParser(prog="demo")
        >>> _ = add_progress_option(parser, default=True)
        >>> parser.parse_args([]).progress, parser.parse_args(["--no-progress"]).progress
        (True, False)
    """
    return parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=default,
        help="show progress bars on stderr",
    )


def add_device_option(
    parser: argparse.ArgumentParser, *, help: str = "torch device"
) -> argparse.Action:
    """Add ``--device DEVICE`` (default ``cpu``): where the command's tensors are computed.

    Examples:
        >>> parser = argparse.ArgumentParser(prog="demo")
        >>> _ = add_device_option(parser)
        >>> parser.parse_args([]).device, parser.parse_args(["--device", "cuda:0"]).device
        ('cpu', 'cuda:0')
    """
    return parser.add_argument("--device", default="cpu", metavar="DEVICE", help=help)


def add_data_dir_option(parser: argparse.ArgumentParser) -> argparse.Action:
    """Add ``--data-dir DIR``: the benchmark data folder (``$CGNAS_DATA_DIR`` without it).

    Examples:
        >>> parser = argparse.ArgumentParser(prog="demo")
        >>> _ = add_data_dir_option(parser)
        >>> parser.parse_args([]).data_dir is None, parser.parse_args(["--data-dir", "d"]).data_dir
        (True, 'd')
    """
    return parser.add_argument(
        "--data-dir", metavar="DIR", help="benchmark data folder (default: $CGNAS_DATA_DIR)"
    )
