"""Once-for-All MobileNetV3 (width 1.0) subnets (``ofa-mbv3/ofa_mbv3_w10_imagenet_top1.csv``)."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from cg_predict.data._cache import memoized_table
from cg_predict.data._paths import benchmark_file
from cg_predict.data._records import ArchRecord, BenchmarkTable, KeyTracker, check_key
from cg_predict.data._tabular import parse_float, parse_label, read_rows

__all__ = ["load_ofa_mbv3", "ofa_key"]

_COLUMNS = ("ks", "e", "d", "r", "top1", "macs", "params")


def ofa_key(ks: str, e: str, d: str, r: str) -> str:
    """The OFA key from the CSV's space-separated columns.

    It keeps every slot, used or not: canonicalising unused slots is the family's job.

    Examples:
        >>> ofa_key("3 5 7 3", "3 4 6 3", "2 2", "224")
        'ks=3,5,7,3|e=3,4,6,3|d=2,2|r=224'
    """
    join = ",".join
    return f"ks={join(ks.split())}|e={join(e.split())}|d={join(d.split())}|r={r.strip()}"


def load_ofa_mbv3(data_dir: str | os.PathLike[str] | None = None) -> BenchmarkTable:
    """Load the 2,223 OFA-MobileNetV3 subnets with ImageNet top-1 from the supernet's weights.

    Keys are ``"ks=<20 ints>|e=<20 ints>|d=<5 ints>|r=<int>"`` (comma-joined). 118 rows form
    57 groups that are the same network (unused slots differ): splits must keep them together.

    Args:
        data_dir: the data directory (default ``$CGNAS_DATA_DIR``).

    Returns:
        The table (family ``"ofa-mbv3"``, dataset ``"imagenet"``, label ``top1``);
        ``proxies`` and ``extra`` = ``{"macs", "params"}``.

    Raises:
        BenchmarkDataError: the file is missing.
        MalformedDataError: a missing column, bad row or key, or a duplicate subnet.
        InvalidLabelError: a label is NaN or outside [0, 100].
    """
    path = benchmark_file("ofa-mbv3", data_dir)
    return memoized_table(path, "ofa-mbv3", partial(_parse, path))


def _parse(path: Path) -> BenchmarkTable:
    seen = KeyTracker(str(path))
    records = []
    for where, row in read_rows(path, _COLUMNS):
        key = ofa_key(row["ks"], row["e"], row["d"], row["r"])
        check_key("ofa-mbv3", key, path=str(path), where=where)
        seen.add(key, where)
        label = parse_label(row, "top1", key=key, path=path, where=where)
        costs = {c: parse_float(row, c, path=path, where=where) for c in ("macs", "params")}
        records.append(
            ArchRecord("ofa-mbv3", key, "imagenet", label, "top1", proxies=costs, extra=costs)
        )
    return BenchmarkTable("ofa-mbv3", "ofa-mbv3", "imagenet", "top1", str(path), tuple(records))
