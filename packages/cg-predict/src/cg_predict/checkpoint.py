"""Checkpoints: a predictor (encoder + head) or an encoder alone, saved safely and atomically.

A checkpoint is a ``torch.save`` file of plain data only, read back with
``torch.load(weights_only=True)`` (never arbitrary pickles)::

    {"format": "cg-predict/predictor" | "cg-predict/encoder", "format_version": 1,
     "config": "<JSON>", "metadata": "<JSON>", "versions": "<JSON>", "state_dict": {...}}

``config`` rebuilds the network (``PredictorNet.config()`` or ``EncoderConfig.to_dict()``);
``metadata`` is the caller's JSON-able description (what it was trained on, method, scores);
``versions`` records cg-ir's feature-schema and vocabulary versions (loading refuses a
mismatch: the network would read features it was not trained on) and the package versions.
The encoder-only format is what pretraining (cg-contrast) writes and ``cgnas evaluate
--encoder`` reads; its metadata names the ``pretraining_method``.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import torch

import cg_ir
import cg_predict
from cg_ir import atomic_output
from cg_ir.features import FEATURE_SCHEMA_VERSION
from cg_predict.encoder import Encoder, EncoderConfig
from cg_predict.errors import CheckpointError, InvalidArgumentError
from cg_predict.model import PredictorNet

__all__ = [
    "ENCODER_FORMAT",
    "PREDICTOR_FORMAT",
    "LoadedCheckpoint",
    "LoadedEncoder",
    "load_checkpoint",
    "load_encoder",
    "save_checkpoint",
    "save_encoder",
]

PREDICTOR_FORMAT = "cg-predict/predictor"
ENCODER_FORMAT = "cg-predict/encoder"
FORMAT_VERSION = 1
_KEYS = {"format", "format_version", "config", "metadata", "versions", "state_dict"}

PathLike = str | os.PathLike[str]


class LoadedCheckpoint(NamedTuple):
    """A predictor read by :func:`load_checkpoint`: the network (eval mode) and its records."""

    model: PredictorNet
    metadata: dict[str, Any]
    versions: dict[str, Any]


class LoadedEncoder(NamedTuple):
    """An encoder read by :func:`load_encoder` (eval mode) and its records."""

    encoder: Encoder
    metadata: dict[str, Any]
    versions: dict[str, Any]


def _versions() -> dict[str, Any]:
    return {
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
        "vocab_version": cg_ir.VOCAB_VERSION,
        "cg_ir_version": cg_ir.__version__,
        "cg_predict_version": cg_predict.__version__,
    }


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"checkpoint {what} must be JSON-serialisable: {exc}") from exc


def _save(
    path: PathLike,
    fmt: str,
    config: dict[str, Any],
    module: torch.nn.Module,
    metadata: dict[str, Any] | None,
) -> None:
    payload = {
        "format": fmt,
        "format_version": FORMAT_VERSION,
        "config": _json(config, "config"),
        "metadata": _json(metadata or {}, "metadata"),
        "versions": _json(_versions(), "versions"),
        "state_dict": {k: v.detach().cpu().clone() for k, v in module.state_dict().items()},
    }
    with atomic_output(path) as f:
        torch.save(payload, f)


def save_checkpoint(
    path: PathLike, model: PredictorNet, metadata: dict[str, Any] | None = None
) -> None:
    """Write ``model`` and JSON-able ``metadata`` to ``path`` atomically (temp file + rename).

    Suggested metadata: ``method`` (e.g. ``"gnn"``), ``pretraining_method``, ``trained_on``
    (families and datasets), ``target_stats`` and other results of training.

    Raises:
        InvalidArgumentError: ``metadata`` is not JSON-serialisable.
    """
    _save(path, PREDICTOR_FORMAT, model.config(), model, metadata)


def save_encoder(path: PathLike, encoder: Encoder, metadata: dict[str, Any]) -> None:
    """Write an encoder-only checkpoint; ``metadata["pretraining_method"]`` names how it was made.

    Raises:
        InvalidArgumentError: no ``pretraining_method`` string, or metadata not JSON-able.
    """
    if not isinstance(metadata.get("pretraining_method"), str):
        raise InvalidArgumentError(
            "encoder checkpoint metadata needs a 'pretraining_method' string "
            "(e.g. 'spectral-supcon'), got " + repr(metadata.get("pretraining_method"))
        )
    _save(path, ENCODER_FORMAT, encoder.config.to_dict(), encoder, metadata)


def _is_zip(path: str) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except (zipfile.BadZipFile, OSError):  # raised by some damaged end records
        return False


def _read(path: PathLike, device: str | torch.device) -> dict[str, Any]:
    """The validated payload of a checkpoint file (any format)."""
    where = os.fspath(path)
    if not Path(where).is_file():
        raise CheckpointError(f"no checkpoint file at {where!r}", where)
    if not _is_zip(where):  # torch.save always writes a zip archive
        raise CheckpointError(
            f"{where!r} is not a torch checkpoint: not a zip archive (truncated or corrupt file, "
            "or not written by torch.save); re-create it with save_checkpoint",
            where,
        )
    try:
        payload = torch.load(where, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"WeightsUnpickler error: ([^.]*)", str(exc))
        detail = found.group(1) if found else str(exc).splitlines()[0]
        raise CheckpointError(
            f"{where!r} was refused by the safe loader torch.load(weights_only=True): it holds "
            "objects other than tensors and plain containers, which cg-predict never writes. "
            f"Do not load it unless you trust its origin; re-create it with save_checkpoint. "
            f"Detail: {detail}",
            where,
        ) from exc
    except Exception as exc:  # torch raises RuntimeError, EOFError, zip errors ... on bad bytes
        raise CheckpointError(
            f"{where!r} cannot be read as a torch checkpoint (truncated or corrupt file?): "
            f"{type(exc).__name__}: {exc}".replace("\n", " "),
            where,
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") not in (
        PREDICTOR_FORMAT,
        ENCODER_FORMAT,
    ):
        fmt = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(
            f"{where!r} is not a cg-predict checkpoint (format {fmt!r}; expected "
            f"{PREDICTOR_FORMAT!r} or {ENCODER_FORMAT!r}, written by save_checkpoint/save_encoder)",
            where,
        )
    if set(payload) != _KEYS or payload["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{where!r}: unsupported checkpoint layout (format_version "
            f"{payload.get('format_version')!r}, keys {sorted(payload)}); this cg-predict "
            f"{cg_predict.__version__} reads format_version {FORMAT_VERSION} with keys "
            f"{sorted(_KEYS)}",
            where,
        )
    try:
        for key in ("config", "metadata", "versions"):
            payload[key] = json.loads(payload[key])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{where!r}: its {key!r} entry is not valid JSON: {exc}", where
        ) from exc
    versions = payload["versions"]
    expected = _versions()
    for key, what in (
        ("feature_schema_version", "feature schema"),
        ("vocab_version", "op vocabulary"),
    ):
        if versions.get(key) != expected[key]:
            raise CheckpointError(
                f"{where!r} was trained on cg-ir {what} {versions.get(key)!r} (cg-ir "
                f"{versions.get('cg_ir_version')}), but the installed cg-ir {cg_ir.__version__} "
                f"uses {expected[key]!r}: its node features would be misread. Retrain the "
                f"checkpoint, or install the cg-ir version it was made with.",
                where,
            )
    return payload


def _build(
    payload: dict[str, Any], module: torch.nn.Module, where: str, device: str | torch.device
) -> None:
    try:
        module.load_state_dict(payload["state_dict"], strict=True)
    except (RuntimeError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"{where!r}: its weights do not fit the network its config describes: {exc}".replace(
                "\n", " "
            ),
            where,
        ) from exc
    module.to(device).eval()


def load_checkpoint(path: PathLike, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Read a predictor written by :func:`save_checkpoint` onto ``device``.

    Raises:
        CheckpointError: missing, corrupt or truncated file; not a cg-predict predictor
            checkpoint (an encoder-only one included); refused by the safe loader; feature
            schema or vocabulary mismatch; weights that do not fit the config.
    """
    where = os.fspath(path)
    payload = _read(path, device)
    if payload["format"] != PREDICTOR_FORMAT:
        raise CheckpointError(
            f"{where!r} is an encoder-only checkpoint (pretraining method "
            f"{payload['metadata'].get('pretraining_method')!r}): it has no regression head. "
            "Load it with cg_predict.checkpoint.load_encoder (or `cgnas evaluate --encoder`), "
            "or train a head on it first.",
            where,
        )
    try:
        model = PredictorNet.from_config(payload["config"])
    except (InvalidArgumentError, TypeError) as exc:
        raise CheckpointError(f"{where!r}: invalid network config: {exc}", where) from exc
    _build(payload, model, where, device)
    return LoadedCheckpoint(model, payload["metadata"], payload["versions"])


def load_encoder(path: PathLike, device: str | torch.device = "cpu") -> LoadedEncoder:
    """Read an encoder: an encoder-only checkpoint, or the encoder of a predictor checkpoint.

    Raises:
        CheckpointError: as for :func:`load_checkpoint`.
    """
    where = os.fspath(path)
    payload = _read(path, device)
    config = payload["config"]
    state = payload["state_dict"]
    if payload["format"] == PREDICTOR_FORMAT:
        config = config.get("encoder") if isinstance(config, dict) else None
        state = {
            k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")
        }
    try:
        encoder = Encoder(EncoderConfig.from_dict(config))
    except (InvalidArgumentError, TypeError) as exc:
        raise CheckpointError(f"{where!r}: invalid encoder config: {exc}", where) from exc
    _build({"state_dict": state}, encoder, where, device)
    return LoadedEncoder(encoder, payload["metadata"], payload["versions"])
