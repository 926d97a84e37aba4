"""The leave-one-family-out transfer protocol: ``evaluate`` and ``cgnas evaluate``.

Examples:
    >>> from cg_predict.evaluate import few_shot_split
    >>> import numpy as np
    >>> split = few_shot_split(["a", "a", "b", "c", "d"], [2], np.random.default_rng(0))
    >>> len(split.labelled[2])
    2
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cg_ir.lazy import lazy_attributes
from cg_predict.evaluate._leaks import (
    TargetLeakError,
    check_model_not_trained_on,
    check_no_target_labels,
    labelled_families,
)
from cg_predict.evaluate._splits import FewShotSplit, class_ids, few_shot_split

if TYPE_CHECKING:  # the same names, for type checkers (at run time they come from _LAZY)
    from cg_predict.evaluate._protocol import (
        DEFAULT_MODEL,
        evaluate,
        train_source_model,
    )
    from cg_predict.evaluate._targets import (
        DATASETS,
        FAMILIES,
        SETTINGS,
        CellSet,
        settings_of,
        source_cells,
        target_cells,
    )

__all__ = [
    "DATASETS",
    "DEFAULT_MODEL",
    "FAMILIES",
    "SETTINGS",
    "CellSet",
    "FewShotSplit",
    "TargetLeakError",
    "check_model_not_trained_on",
    "check_no_target_labels",
    "class_ids",
    "evaluate",
    "few_shot_split",
    "labelled_families",
    "settings_of",
    "source_cells",
    "target_cells",
    "train_source_model",
]

# name -> defining module: the protocol and the target tables import torch, torch-geometric and
# the benchmark data, so they load on first use (`cgnas evaluate --help` stays cheap)
_LAZY = {
    **dict.fromkeys(
        ("DEFAULT_MODEL", "evaluate", "train_source_model"), "cg_predict.evaluate._protocol"
    ),
    **dict.fromkeys(
        (
            "DATASETS",
            "FAMILIES",
            "SETTINGS",
            "CellSet",
            "settings_of",
            "source_cells",
            "target_cells",
        ),
        "cg_predict.evaluate._targets",
    ),
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
