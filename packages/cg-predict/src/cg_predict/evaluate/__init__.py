"""The leave-one-family-out transfer protocol: ``evaluate`` and ``cgnas evaluate``.

``evaluate(ProtocolConfig.quick(target, ...))`` runs it and returns an ``EvaluationResult``
(``.row(setting, method, shots)``, ``.best_proxy(...)``, ``.table(...)``, ``r.json``'s
``to_json()``); ``train_source_model`` is its source training (``SourceTraining``) alone;
``select_on_sources`` makes model choices for a target on its source families only (nested
leave-one-family-out).

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
    families_loaded,
    labelled_families,
)
from cg_predict.evaluate._splits import FewShotSplit, class_ids, few_shot_split

if TYPE_CHECKING:  # the same names, for type checkers (at run time they come from _LAZY)
    from cg_predict.evaluate._config import (
        DEFAULT_MODEL,
        SELECTED_MODELS,
        UNSEEN_FAMILY_BLEND,
        ProtocolConfig,
        SourceTraining,
        chosen_flops_weight,
        chosen_zero_shot_ensemble,
    )
    from cg_predict.evaluate._live import live_cells, live_proxies, live_proxy_cache, live_sample
    from cg_predict.evaluate._protocol import RESULTS_CODE, evaluate, train_source_model
    from cg_predict.evaluate._results import (
        EvaluationResult,
        ResultRow,
        config_hash,
        load_finished,
        write_json,
    )
    from cg_predict.evaluate._selection import (
        INCUMBENT,
        Candidate,
        Selection,
        SelectionGrid,
        conservative_choice,
        inner_folds,
        select_on_sources,
    )
    from cg_predict.evaluate._targets import (
        DATASETS,
        FAMILIES,
        SETTINGS,
        CellSet,
        graphs_with_costs,
        settings_of,
        source_cells,
        target_cells,
    )

__all__ = [
    "INCUMBENT",
    "Candidate",
    "DATASETS",
    "DEFAULT_MODEL",
    "FAMILIES",
    "SELECTED_MODELS",
    "UNSEEN_FAMILY_BLEND",
    "SETTINGS",
    "CellSet",
    "EvaluationResult",
    "FewShotSplit",
    "ProtocolConfig",
    "RESULTS_CODE",
    "ResultRow",
    "Selection",
    "SelectionGrid",
    "SourceTraining",
    "TargetLeakError",
    "check_model_not_trained_on",
    "check_no_target_labels",
    "chosen_flops_weight",
    "chosen_zero_shot_ensemble",
    "class_ids",
    "config_hash",
    "conservative_choice",
    "evaluate",
    "families_loaded",
    "few_shot_split",
    "graphs_with_costs",
    "inner_folds",
    "labelled_families",
    "live_cells",
    "live_proxies",
    "live_proxy_cache",
    "live_sample",
    "load_finished",
    "select_on_sources",
    "settings_of",
    "source_cells",
    "target_cells",
    "train_source_model",
    "write_json",
]

# name -> defining module: the protocol and the target tables import torch, torch-geometric and
# the benchmark data, so they load on first use (`cgnas evaluate --help` stays cheap)
_LAZY = {
    **dict.fromkeys(
        (
            "DEFAULT_MODEL",
            "SELECTED_MODELS",
            "UNSEEN_FAMILY_BLEND",
            "ProtocolConfig",
            "SourceTraining",
            "chosen_flops_weight",
            "chosen_zero_shot_ensemble",
        ),
        "cg_predict.evaluate._config",
    ),
    **dict.fromkeys(
        ("RESULTS_CODE", "evaluate", "train_source_model"), "cg_predict.evaluate._protocol"
    ),
    **dict.fromkeys(
        (
            "INCUMBENT",
            "Candidate",
            "Selection",
            "SelectionGrid",
            "conservative_choice",
            "inner_folds",
            "select_on_sources",
        ),
        "cg_predict.evaluate._selection",
    ),
    **dict.fromkeys(
        ("EvaluationResult", "ResultRow", "config_hash", "load_finished", "write_json"),
        "cg_predict.evaluate._results",
    ),
    **dict.fromkeys(
        ("live_cells", "live_proxies", "live_proxy_cache", "live_sample"),
        "cg_predict.evaluate._live",
    ),
    **dict.fromkeys(
        (
            "DATASETS",
            "FAMILIES",
            "SETTINGS",
            "CellSet",
            "graphs_with_costs",
            "settings_of",
            "source_cells",
            "target_cells",
        ),
        "cg_predict.evaluate._targets",
    ),
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
