"""Where benchmark files live: the data directory and each file's path and provenance."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cg_predict.errors import BenchmarkDataError

__all__ = [
    "DATA_DIR_ENV",
    "FILES",
    "benchmark_file",
    "benchmark_files",
    "data_dir_configured",
    "resolve_data_dir",
]

DATA_DIR_ENV = "CGNAS_DATA_DIR"

_HOW_TO_SET = (
    f"pass --data-dir DIR on the command line (data_dir=DIR in Python) or set the environment "
    f"variable {DATA_DIR_ENV}=DIR; DIR is the folder that holds nas-bench-suite-zero/, nb101/, "
    "nb201/, ofa-mbv3/ and channel-bench-macro/ (CI sets it to ../shared/data)"
)

_NASLIB = "NASLib (github.com/automl/NASLib, Apache-2.0), file naslib/data/{name}"
_CBM = (
    "the authors' repository xiusu/Channel-Bench-Macro (github.com/xiusu/Channel-Bench-Macro, "
    "commit 4ff596e), file {name}; see the data README"
)

# Relative path of each file and where to get it (the data README has the full provenance).
FILES: Mapping[str, tuple[str, str]] = {
    "zc-nb101": (
        "nas-bench-suite-zero/zc_nasbench101.json",
        _NASLIB.format(name="zc_nasbench101.json"),
    ),
    "zc-nb201": (
        "nas-bench-suite-zero/zc_nasbench201.json",
        _NASLIB.format(name="zc_nasbench201.json"),
    ),
    "zc-nb301": (
        "nas-bench-suite-zero/zc_nasbench301.json",
        _NASLIB.format(name="zc_nasbench301.json"),
    ),
    "nb101-30k": (
        "nb101/nb101_nasbenchvis_30k.csv",
        "NAS-Bench-101 data as stored by tiga1231/nasbench-vis (static/data/data-20k.json + "
        "data-10k.json, commit b85bd62), each module hash resolved to its cell; see the data "
        "README",
    ),
    "nb201-200ep": (
        "nb201/nb201_200ep_test_acc.csv",
        "NATS-Bench topology data as stored by v-tao/nats-bench-landscape (nats_bench.csv), "
        "keyed by the NASLib 6-tuple; see the data README",
    ),
    "ofa-mbv3": (
        "ofa-mbv3/ofa_mbv3_w10_imagenet_top1.csv",
        "IntelLabs/DyNAS-T notebooks/data/mbnv3w10_*.csv (Apache-2.0), duplicate rows merged; "
        "see the data README",
    ),
    "cbm-mobilenet": (
        "channel-bench-macro/Results_MobileNet.json",
        _CBM.format(name="Results_MobileNet.json"),
    ),
    "cbm-resnet": (
        "channel-bench-macro/Results_ResNet.json",
        _CBM.format(name="Results_ResNet.json"),
    ),
}


def data_dir_configured(data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether a benchmark data folder is given (``data_dir``) or set (``$CGNAS_DATA_DIR``).

    What decides between the data-free runs (AnalogNAS-Bench's NB-201 labels) and the ones
    that read the folder, whose missing files are then errors.

    Examples:
        >>> data_dir_configured("some/folder")
        True
    """
    return data_dir is not None or bool(os.environ.get(DATA_DIR_ENV))


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The benchmark data directory: ``data_dir`` if given, else ``$CGNAS_DATA_DIR``.

    Args:
        data_dir: an explicit directory (from ``--data-dir``); wins over the environment.

    Returns:
        The directory as an absolute path.

    Raises:
        BenchmarkDataError: neither is set, or the chosen directory does not exist; the
            message says how to set it.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     resolve_data_dir(d) == Path(d).resolve()
        True
    """
    if data_dir is not None:
        origin = "--data-dir"
        chosen = Path(data_dir)
    else:
        env = os.environ.get(DATA_DIR_ENV, "")
        if not env:
            msg = f"no benchmark data directory is configured: {_HOW_TO_SET}"
            raise BenchmarkDataError(msg)
        origin = f"${DATA_DIR_ENV}"
        chosen = Path(env)
    chosen = chosen.expanduser().resolve()
    if not chosen.is_dir():
        msg = f"benchmark data directory {chosen} (from {origin}) does not exist: {_HOW_TO_SET}"
        raise BenchmarkDataError(msg, chosen)
    return chosen


def benchmark_file(name: str, data_dir: str | os.PathLike[str] | None) -> Path:
    """The path of benchmark ``name``'s file, checked to exist."""
    relative, provenance = FILES[name]
    path = resolve_data_dir(data_dir) / relative
    if not path.is_file():
        msg = (
            f"benchmark file {path} is missing (benchmark {name!r}). Get it from {provenance} "
            f"and place it at {relative} under the data directory; to use another data "
            f"directory, {_HOW_TO_SET}"
        )
        raise BenchmarkDataError(msg, path)
    return path


def benchmark_files(
    data_dir: str | os.PathLike[str] | None, names: Sequence[str] = ()
) -> dict[str, Path]:
    """The paths of the benchmark files ``names`` (default: every one of ``FILES``), checked.

    Raises:
        BenchmarkDataError: the first missing file (the message says where to get it).
    """
    return {name: benchmark_file(name, data_dir) for name in (names or FILES)}
