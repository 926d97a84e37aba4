"""Pretrain an encoder on an unlabeled pool and write cg-predict's encoder checkpoint.

The checkpoint is ``cg_predict.checkpoint.save_encoder``'s format; its metadata's
``pretraining_method`` (``"cl-retrieval"``, ``"cl-augment"`` or ``"cl-dropout"``) names the rows
``cgnas evaluate --encoder`` adds (e.g. ``cl-retrieval-fine-tune``). cg-predict reads the file
without importing cg-contrast.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cg_contrast
from cg_contrast.pools import DEFAULT_FAMILIES, unlabeled_pool
from cg_contrast.pretrain import PRETRAIN_CODE, PretrainConfig, PretrainResult, pretrain
from cg_ir.provenance import code_digest
from cg_predict.checkpoint import save_encoder

__all__ = ["PRETRAINING_METHODS", "pretrain_encoder"]

PRETRAINING_METHODS = {
    "retrieval": "cl-retrieval",
    "augment": "cl-augment",
    "dropout": "cl-dropout",
}


def pretrain_encoder(
    out: str | os.PathLike[str],
    config: PretrainConfig | None = None,
    *,
    families: Sequence[str] = DEFAULT_FAMILIES,
    pool_size: int = 5000,
    pool_seed: int | None = None,
    resume: bool = False,
    device: str = "cpu",
    progress: bool = True,
    cache_directory: str | os.PathLike[str] | None = None,
) -> PretrainResult:
    """Build (or read from cache) the pool, pretrain, and write the encoder checkpoint ``out``.

    The per-epoch training state lives next to ``out`` as ``<out>.state`` (removed once the
    checkpoint is written); ``resume`` continues from it if the same code wrote it. The
    encoder's metadata records the code's digest (``code_digest``).

    Raises:
        PretrainCheckpointError, StaleResultError: ``resume`` from an unusable state, or from
            one written by other code (see ``cg_contrast.pretrain.pretrain``).
    """
    config = config or PretrainConfig()
    pool = unlabeled_pool(
        families,
        pool_size,
        config.seed if pool_seed is None else pool_seed,
        directory=cache_directory,
        progress=progress,
    )
    state = Path(f"{os.fspath(out)}.state")
    result = pretrain(
        pool, config, state_path=state, resume=resume, device=device, progress=progress
    )
    metadata: dict[str, Any] = {
        "pretraining_method": PRETRAINING_METHODS[config.method],
        "families": list(families),
        "pool_size": len(pool),
        "pool_seed": config.seed if pool_seed is None else pool_seed,
        "config": {**config.identity(), "epochs": config.epochs},
        "history": result.history,
        "seconds": result.seconds,
        "labels_used": False,
        "cg_contrast_version": cg_contrast.__version__,
        # the code that pretrained it: an ablation reuses only an encoder of the running code
        "code_digest": code_digest(*PRETRAIN_CODE),
    }
    save_encoder(out, result.encoder, metadata)
    state.unlink(missing_ok=True)
    return result
