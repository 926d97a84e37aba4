"""Reading the benchmark CSV files with line-accurate errors."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from cg_predict.data._records import check_label
from cg_predict.errors import MalformedDataError

__all__ = ["read_rows", "parse_float", "parse_label"]


def read_rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield ``("line N", row)`` for each data row, after checking the header has ``columns``.

    Raises:
        MalformedDataError: missing header or column, or a row with a wrong number of fields.
    """
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in columns if c not in header]
            if missing:
                msg = (
                    f"{path}: missing column(s) {', '.join(missing)}; header is "
                    f"{','.join(header) or '<empty file>'}, expected at least {','.join(columns)}"
                )
                raise MalformedDataError(msg, path)
            for row in reader:
                where = f"line {reader.line_num}"
                if None in row or None in row.values():
                    msg = f"{path}: {where}: expected {len(header)} fields, found another count"
                    raise MalformedDataError(msg, path)
                yield where, row
    except UnicodeDecodeError as e:
        raise MalformedDataError(f"{path}: not UTF-8 text ({e})", path) from e
    except csv.Error as e:
        raise MalformedDataError(f"{path}: CSV syntax error: {e}", path) from e


def parse_float(row: dict[str, str], column: str, *, path: Path, where: str) -> float:
    """``row[column]`` as a float, or ``MalformedDataError`` naming file, line and column."""
    text = row[column]
    try:
        return float(text)
    except ValueError:
        msg = f"{path}: {where}: column {column!r} is {text!r}, not a number"
        raise MalformedDataError(msg, path) from None


def parse_label(row: dict[str, str], column: str, *, key: str, path: Path, where: str) -> float:
    """``row[column]`` as a checked accuracy label (``InvalidLabelError`` names the key)."""
    text = row[column]
    try:
        value: object = float(text)
    except ValueError:
        value = text
    return check_label(value, key=key, field_name=column, path=f"{path} ({where})")
