"""The experiments ``cgnas reproduce`` runs, registered by the packages that own them.

Each package adds its experiments through the entry-point group ``cgnas.experiments``: the
entry point's name is the experiment's and its value an ``Experiment`` (or a callable returning
one), so installing a package adds its experiments and nothing imports upward. ``reproduce``
runs them in ``order``, each into its own folder ``OUT/<name>/``, where the experiment writes its
JSON, CSV and PNG files through its ``RunContext``; a ``provenance.json`` written last (package
versions, lock-file hash, code digest, data-file checksums, seeds, wall time, device) marks the
folder finished. A rerun reuses a finished folder only when its provenance matches the current
code (the experiment's module included), package versions, lock file, mode and data (else it is
rerun), and an experiment whose benchmark data is absent is
skipped with one line naming the missing file and where to get it.

Examples:
    >>> import tempfile
    >>> def squares(ctx):
    ...     ctx.write_json("squares.json", {"squares": [i * i for i in range(3)]})
    ...     return {"largest": 4}
    >>> demo = Experiment("demo", "Squares", squares, code=("cg_ir",))
    >>> out = tempfile.mkdtemp()
    >>> [r.status for r in reproduce([demo], ReproduceConfig(out=out, progress=False))]
    ['ran']
    >>> [r.status for r in reproduce([demo], ReproduceConfig(out=out, progress=False))]
    ['reused']
"""

from cg_ir.experiments._framework import (
    EXPERIMENT_GROUP,
    MODES,
    Experiment,
    ExperimentRecord,
    ReproduceConfig,
    RunContext,
    registered_experiments,
    run_experiment,
    saved_provenance,
)
from cg_ir.experiments._reproduce import reproduce

__all__ = [
    "EXPERIMENT_GROUP",
    "MODES",
    "Experiment",
    "ExperimentRecord",
    "ReproduceConfig",
    "RunContext",
    "registered_experiments",
    "reproduce",
    "run_experiment",
    "saved_provenance",
]
