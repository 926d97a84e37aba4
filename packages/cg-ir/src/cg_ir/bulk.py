"""Converting many architectures at once, and storing many graphs in one compact file.

``convert_many`` runs a family's ``to_cg`` (the fast structural path for cell families) over a
list of specs, with a progress bar, in this process, in worker processes or on Ray (any
``cg_ir.executor.Executor``). ``save_graphs`` / ``load_graphs`` keep a list of graphs in one
gzip-compressed JSON file that stores every distinct node once, so a whole benchmark (15,625
NB-201 graphs) stays small and loads fast.

Examples:
    >>> from cg_ir import families
    >>> from cg_ir.bulk import convert_many
    >>> keys = ["(0, 1, 2, 3, 4, 0)", "(1, 1, 1, 1, 1, 1)"]
    >>> graphs = convert_many("nb201", keys, progress=False)
    >>> [g.output_shape for g in graphs]
    [(10, 1, 1), (10, 1, 1)]
    >>> nb201 = families.get("nb201")
    >>> all(g == nb201.to_cg(nb201.parse(k)) for g, k in zip(graphs, keys))
    True
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from collections.abc import Iterable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from cg_ir._atomic import atomic_output
from cg_ir._graph import ComputationGraph
from cg_ir._node import Node
from cg_ir._serialize import SCHEMA_VERSION, _node_from_dict
from cg_ir._vocab import VOCAB_VERSION
from cg_ir.errors import GraphSerializationError, InvalidArgumentError
from cg_ir.executor import Executor, LocalExecutor
from cg_ir.families import ENTRY_POINT_GROUP, Family, get

__all__ = ["FILE_FORMAT", "FILE_FORMAT_VERSION", "convert_many", "load_graphs", "save_graphs"]

FILE_FORMAT = "cg-ir-graphs"
FILE_FORMAT_VERSION = 1


# -- conversion ----------------------------------------------------------------------------
# Outside this process, tasks receive the family's registered name and string keys only: both
# pickle cheaply and work under "spawn" or on Ray, where nothing of the caller is inherited.
@functools.cache
def _family(name: str) -> Family[Any]:
    return get(name)


def _convert_key(name: str, key: str) -> ComputationGraph:
    family = _family(name)
    return family.to_cg(family.parse(key))


def convert_many(
    family: Family[Any] | str,
    specs: Iterable[Any],
    *,
    workers: int = 1,
    progress: bool = True,
    chunksize: int | None = None,
    executor: Executor | None = None,
) -> list[ComputationGraph]:
    """The graphs of ``specs`` (in order), built with ``family.to_cg``.

    Args:
        family: a registered family or its name. Outside this process (``workers > 1``, or an
            executor that is not ``in_process``) it must be findable by name in a fresh process
            (installed through entry points), since workers look it up.
        specs: specs of the family, or their string keys (a ``str`` is parsed as a key).
        workers: processes to use; 1 converts in this process. Shorthand for
            ``executor=LocalExecutor(workers, chunksize=chunksize)``.
        progress: show a tqdm progress bar on stderr.
        chunksize: specs per task sent to a worker; None picks one that gives each worker
            about 16 tasks (few round trips, yet a balanced end).
        executor: where to convert (any ``cg_ir.executor.Executor``: local processes or Ray);
            it is left open, for reuse. Give either it or ``workers`` / ``chunksize``.

    Raises:
        InvalidSpecError: a key does not parse (raised before any worker starts).
        UnknownFamilyError: no family of that name.
        InvalidArgumentError: ``workers`` or ``chunksize`` is below 1, ``executor`` comes with
            ``workers`` or ``chunksize``, or conversion outside this process is asked for a
            family registered only in this process.

    Examples:
        >>> from cg_ir.executor import LocalExecutor
        >>> with LocalExecutor() as executor:
        ...     graphs = convert_many("nb201", ["(0, 1, 2, 3, 4, 0)"], executor=executor,
        ...                           progress=False)
        >>> graphs[0].output_shape
        (10, 1, 1)
    """
    fam = get(family) if isinstance(family, str) else family
    if executor is not None and (workers != 1 or chunksize is not None):
        raise InvalidArgumentError(
            "pass workers and chunksize to the executor, not to convert_many with executor="
        )
    own = executor is None
    if executor is None:
        # built before parsing, so that bad workers / chunksize are reported first; its pool
        # starts only on the first map
        executor = LocalExecutor(workers, chunksize=chunksize)
    parsed = [fam.parse(s) if isinstance(s, str) else s for s in specs]
    if own and len(parsed) < 2:
        executor = LocalExecutor()  # no worker pool for a single spec
    desc = f"{fam.name} CGs"
    try:
        if executor.in_process:
            return executor.map(fam.to_cg, parsed, progress=progress, desc=desc)
        installed = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
        if fam.name not in installed:
            raise InvalidArgumentError(
                f"family {fam.name!r} is not installed through the {ENTRY_POINT_GROUP!r} entry "
                "points, so worker processes cannot find it: use workers=1 or install it"
            )
        keys = [fam.key(spec) for spec in parsed]
        task = functools.partial(_convert_key, fam.name)
        return executor.map(task, keys, progress=progress, desc=desc)
    finally:
        if own:
            executor.close()


# -- storage -------------------------------------------------------------------------------
def _node_entry(node: Node) -> list[Any]:
    return [list(v) if isinstance(v, tuple) else v for v in node]


def save_graphs(graphs: Sequence[ComputationGraph], path: str | os.PathLike[str]) -> Path:
    """Write ``graphs`` to one gzip-compressed JSON file, atomically; see ``load_graphs``.

    The file holds a table of the distinct nodes and, per graph, the node table indices and
    the flattened edge list, tagged with the graph schema and vocabulary versions.
    """
    table: dict[Node, int] = {}
    entries = []
    for graph in graphs:
        ids = [table.setdefault(node, len(table)) for node in graph.nodes]
        entries.append([ids, [v for edge in graph.edges for v in edge]])
    document = {
        "format": FILE_FORMAT,
        "format_version": FILE_FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "vocab_version": VOCAB_VERSION,
        "node_fields": list(Node._fields),
        "nodes": [_node_entry(node) for node in table],
        "graphs": entries,
    }
    target = Path(path)
    with (
        atomic_output(target) as handle,
        gzip.GzipFile(filename="", mode="wb", fileobj=handle, compresslevel=6, mtime=0) as gz,
    ):
        gz.write(json.dumps(document, separators=(",", ":")).encode())
    return target


def load_graphs(path: str | os.PathLike[str]) -> list[ComputationGraph]:
    """Read the graphs written by ``save_graphs``, in their order; each is validated again.

    Raises:
        FileNotFoundError: no such file.
        GraphSerializationError: the file is not such a graph file, is corrupt or truncated,
            or was written with another schema or vocabulary version.
    """
    source = Path(path)
    try:
        with gzip.open(source, "rb") as gz:
            document = json.loads(gz.read())
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError) as exc:
        raise GraphSerializationError(
            f"{str(source)!r} is not a readable cg-ir graph file (corrupt or truncated?): {exc}"
        ) from exc
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise GraphSerializationError(f"{str(source)!r} is not a {FILE_FORMAT} file")
    expected = {
        "format_version": FILE_FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "vocab_version": VOCAB_VERSION,
        "node_fields": list(Node._fields),
    }
    for field, value in expected.items():
        if document.get(field) != value:
            raise GraphSerializationError(
                f"{str(source)!r} has {field} {document.get(field)!r}; this cg-ir reads {value!r}"
            )
    try:
        # each distinct node goes through the JSON reader's node parser (types checked)
        nodes = [
            _node_from_dict(i, dict(zip(Node._fields, entry, strict=True)))
            for i, entry in enumerate(document["nodes"])
        ]
        graphs = []
        for number, (ids, flat) in enumerate(document["graphs"]):
            edges = list(zip(flat[0::2], flat[1::2], strict=True))
            try:
                graphs.append(ComputationGraph([nodes[i] for i in ids], edges))
            except ValueError as exc:
                raise GraphSerializationError(f"graph {number} of {str(source)!r}: {exc}") from exc
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        if isinstance(exc, GraphSerializationError):
            raise
        raise GraphSerializationError(f"{str(source)!r} is malformed: {exc!r}") from exc
    return graphs
