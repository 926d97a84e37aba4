"""The contrastive pretraining loop: resumable, checkpointed every epoch, seeded.

Three methods (``PretrainConfig.method``):

- ``"retrieval"`` (the paper's): each batch holds ``batch_size`` anchors and, for each, a
  positive retrieved by spectral distance (:class:`~cg_contrast.retrieval.SpectralIndex`);
  loss :func:`~cg_contrast.loss.spectral_supcon_loss` with the family as the class.
- ``"augment"``: two augmented views per graph (feature masking, edge dropping, cropping);
  loss :func:`~cg_contrast.loss.nt_xent_loss`.
- ``"dropout"`` (GENNAPE's): two dropout passes per graph; the same spectral SupCon loss over
  the ``2N`` embeddings, in which each graph's other view is at spectral distance 0 and so
  gets the largest weight (GENNAPE's alpha-weighted loss with dropout positives).

Determinism: the weights are initialised from ``seed``; epoch ``e`` draws its order,
positives, augmentations and dropout masks from generators seeded by ``(seed, e)`` only, so a
run resumed from the checkpoint of epoch ``e`` continues exactly as an uninterrupted one. The
state records the digest of the code that trains (``PRETRAIN_CODE``): a state written by other
code is not resumed (``StaleResultError``). It also names its configuration but ``epochs`` and
its pool (``Pool.digest``): a state of another, or with more epochs done than asked (more
epochs extend a run), is not resumed either (``PretrainCheckpointError``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from cg_contrast._views import DropoutViews, Projection
from cg_contrast.augment import Compose, EdgeDrop, NodeFeatureMask, SubgraphCrop
from cg_contrast.errors import InvalidArgumentError, PretrainCheckpointError, StaleResultError
from cg_contrast.loss import nt_xent_loss, spectral_supcon_loss
from cg_contrast.pools import Pool
from cg_contrast.retrieval import SpectralIndex
from cg_ir import atomic_output
from cg_ir.provenance import code_digest
from cg_predict.encoder import Encoder, EncoderConfig
from cg_predict.evaluate import DEFAULT_MODEL

__all__ = ["METHODS", "PRETRAIN_CODE", "PretrainConfig", "PretrainResult", "pretrain"]

METHODS = ("retrieval", "augment", "dropout")
_STATE_FORMAT = "cg-contrast/pretrain-state"
_DEFAULT_ENCODER = DEFAULT_MODEL["encoder"]  # cg-predict's protocol model: rows compare alike
# the code a pretrained encoder depends on (graphs, pool, model, loop): recorded in the
# training state and the encoder's metadata, and checked before either is resumed or reused
PRETRAIN_CODE = ("cg_ir", "cg_predict", "cg_contrast")


@dataclass(frozen=True)
class PretrainConfig:
    """Hyper-parameters of a pretraining run (the paper gives none; these are ours).

    Attributes:
        method: ``"retrieval"``, ``"augment"`` or ``"dropout"``.
        epochs: passes over the pool.
        batch_size: graphs per step (retrieval: anchors; the batch then holds ~2x as many).
        lr: Adam learning rate.
        tau: temperature of the similarities.
        alpha_temperature: temperature of the spectral weights (the paper's 0.05).
        proj_dim: projection width ``p`` (below the encoder width ``e``, as in the paper).
        neighbors: retrieval candidates per anchor.
        dropout: dropout rate of the dropout views.
        mask_rate, edge_drop_rate, crop_keep: augmentation strengths.
        seed: initialisation and every random draw.
        encoder: ``cg_predict.encoder.EncoderConfig`` fields.
    """

    method: str = "retrieval"
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    tau: float = 0.1
    alpha_temperature: float = 0.05
    proj_dim: int = 16
    neighbors: int = 8
    dropout: float = 0.1
    mask_rate: float = 0.2
    edge_drop_rate: float = 0.2
    crop_keep: float = 0.8
    seed: int = 0
    encoder: dict[str, Any] = field(default_factory=lambda: dict(_DEFAULT_ENCODER))

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidArgumentError(
                f"method={self.method!r} is not valid; choose one of {METHODS}"
            )
        for name in ("epochs", "batch_size", "proj_dim", "neighbors"):
            if getattr(self, name) < 1:
                raise InvalidArgumentError(f"{name}={getattr(self, name)} must be at least 1")
        if self.batch_size < 2:
            raise InvalidArgumentError("batch_size must be at least 2 (a batch needs negatives)")
        EncoderConfig.from_dict(self.encoder)  # validates the encoder fields early

    def identity(self) -> dict[str, Any]:
        """Everything that must match to resume (all fields but ``epochs``)."""
        data = asdict(self)
        data.pop("epochs")
        return data


@dataclass
class PretrainResult:
    """The trained encoder and what the run did."""

    encoder: Encoder
    history: list[dict[str, float]]
    seconds: float
    config: PretrainConfig


def _identity(config: PretrainConfig, pool: Pool) -> str:
    """What a state must match to be resumed: the configuration but ``epochs``, and the pool."""
    return json.dumps(
        {**config.identity(), "pool_size": len(pool), "pool_digest": pool.digest()},
        sort_keys=True,
    )


def _state_payload(
    identity: str,
    epoch: int,
    encoder: Encoder,
    proj: Projection,
    opt: torch.optim.Optimizer,
    history: list[dict[str, float]],
) -> dict[str, Any]:
    return {
        "format": _STATE_FORMAT,
        "identity": identity,
        "epoch": epoch,
        "code": code_digest(*PRETRAIN_CODE),
        "history": json.dumps(history),
        "encoder": encoder.state_dict(),
        "projection": proj.state_dict(),
        "optimizer": opt.state_dict(),
    }


def _load_state(path: Path, config: PretrainConfig, identity: str) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds on damaged files
        raise PretrainCheckpointError(
            f"cannot read pretraining state {str(path)!r} ({type(exc).__name__}: {exc}); "
            "delete it to start afresh"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
        raise PretrainCheckpointError(f"{str(path)!r} is not a cg-contrast pretraining state")
    if state.get("identity") != identity:
        raise PretrainCheckpointError(
            f"{str(path)!r} was written by another configuration or pool; resume needs the "
            f"same settings (found {state.get('identity')}, now {identity}); delete it or "
            "change --out"
        )
    done = state.get("epoch")
    # more epochs extend a run; fewer would return the state's weights as a shorter run's
    if isinstance(done, int) and done > config.epochs:
        raise PretrainCheckpointError(
            f"{str(path)!r} has {done} finished epochs, more than epochs={config.epochs}; "
            f"resume needs epochs={done} or more (they extend the run); delete it or change --out"
        )
    current = code_digest(*PRETRAIN_CODE)
    if state.get("code") != current:
        stored = state.get("code")
        raise StaleResultError(
            path,
            stored if isinstance(stored, str) else None,
            current,
            "pretrain without --resume (an ablation: force=True, as cgnas reproduce does) to "
            "start afresh, or delete it",
        )
    return state


def _restore(
    path: Path,
    state: dict[str, Any],
    encoder: Encoder,
    proj: Projection,
    opt: torch.optim.Optimizer,
) -> tuple[list[dict[str, float]], int]:
    """Load ``state`` into the training objects; returns its history and its last epoch."""
    try:
        encoder.load_state_dict(state["encoder"])
        proj.load_state_dict(state["projection"])
        opt.load_state_dict(state["optimizer"])
        return json.loads(state["history"]), int(state["epoch"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # a part missing or damaged
        raise PretrainCheckpointError(
            f"pretraining state {str(path)!r} is damaged ({type(exc).__name__}: {exc}); "
            "delete it to start afresh"
        ) from exc


class _Trainer:
    def __init__(self, pool: Pool, config: PretrainConfig, device: str) -> None:
        self.pool, self.config, self.device = pool, config, device
        self.fam_ids, _ = pool.family_ids()
        self.index: SpectralIndex | None = None
        if config.method == "retrieval":
            hashes = pool.graphs.hashes if pool.graphs.hashes is not None else np.arange(len(pool))
            self.index = SpectralIndex(pool.spectra, pool.families, hashes, config.neighbors)
        self.augment = Compose(
            [
                NodeFeatureMask(config.mask_rate),
                EdgeDrop(config.edge_drop_rate),
                SubgraphCrop(config.crop_keep),
            ]
        )

    def loss(
        self,
        encoder: Encoder,
        proj: Projection,
        views: DropoutViews | None,
        idx: np.ndarray,
        rng: np.random.Generator,
    ) -> torch.Tensor:
        c, gs = self.config, self.pool.graphs
        if c.method == "augment":
            batch = gs.batch(idx, self.device)
            z1 = proj(encoder.embed(self.augment(batch, rng)))
            z2 = proj(encoder.embed(self.augment(batch, rng)))
            return nt_xent_loss(z1, z2, c.tau)
        if c.method == "retrieval":
            assert self.index is not None
            pos = self.index.sample(idx, rng)
            idx = np.concatenate([idx, pos[pos >= 0]])
            z = proj(encoder.embed(gs.batch(idx, self.device)))
        else:
            assert views is not None
            batch = gs.batch(idx, self.device)
            z = torch.cat([proj(views.pooled(encoder.embed(batch), True)) for _ in range(2)])
            idx = np.concatenate([idx, idx])
        fam = torch.from_numpy(self.fam_ids[idx]).to(self.device)
        spec = torch.from_numpy(self.pool.spectra[idx]).to(self.device)
        return spectral_supcon_loss(z, fam, spec, c.tau, c.alpha_temperature)


def pretrain(
    pool: Pool,
    config: PretrainConfig | None = None,
    *,
    state_path: str | os.PathLike[str] | None = None,
    resume: bool = False,
    device: str = "cpu",
    progress: bool = True,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> PretrainResult:
    """Pretrain an encoder on ``pool``; checkpoint to ``state_path`` after every epoch.

    Args:
        pool: unlabeled graphs (:func:`cg_contrast.pools.unlabeled_pool`).
        config: hyper-parameters (default :class:`PretrainConfig`).
        state_path: where the per-epoch training state is written atomically.
        resume: continue from ``state_path`` if it exists (same config, pool and code; at
            most ``config.epochs`` epochs done: more epochs than the state's extend its run).
        device: torch device.
        progress: tqdm bars.
        on_epoch_end: called with (epoch, record) after each epoch's checkpoint.

    Raises:
        PretrainCheckpointError: ``resume`` from a state that cannot be read, was written by
            another configuration or for another pool (``Pool.digest``), or has more epochs
            done than ``config.epochs``.
        StaleResultError: ``resume`` from a state written by other code (``PRETRAIN_CODE``).
    """
    config = config or PretrainConfig()
    if len(pool) < 2:
        raise InvalidArgumentError(f"a pool of {len(pool)} graphs is too small to pretrain on")
    torch.manual_seed(config.seed)
    encoder = Encoder(EncoderConfig.from_dict(config.encoder)).to(device)
    proj = Projection(encoder.dim, config.proj_dim).to(device)
    opt = torch.optim.Adam([*encoder.parameters(), *proj.parameters()], lr=config.lr)
    history: list[dict[str, float]] = []
    start = 0
    path = None if state_path is None else Path(state_path)
    identity = _identity(config, pool)
    if resume and path is not None and path.exists():
        state = _load_state(path, config, identity)
        history, start = _restore(path, state, encoder, proj, opt)
    trainer = _Trainer(pool, config, device)
    views = DropoutViews(encoder, config.dropout) if config.method == "dropout" else None
    began = time.perf_counter()
    try:
        for epoch in range(start + 1, config.epochs + 1):
            record = _epoch(trainer, encoder, proj, views, opt, epoch, progress)
            history.append(record)
            if path is not None:
                with atomic_output(path) as f:
                    torch.save(_state_payload(identity, epoch, encoder, proj, opt, history), f)
            if on_epoch_end is not None:
                on_epoch_end(epoch, record)
    finally:
        if views is not None:
            views.remove()
    encoder.eval()
    return PretrainResult(encoder, history, time.perf_counter() - began, config)


def _epoch(
    trainer: _Trainer,
    encoder: Encoder,
    proj: Projection,
    views: DropoutViews | None,
    opt: torch.optim.Optimizer,
    epoch: int,
    progress: bool,
) -> dict[str, float]:
    c = trainer.config
    rng = np.random.default_rng([c.seed, epoch])
    torch.manual_seed(c.seed * 1_000_003 + epoch)  # dropout masks of this epoch
    order = rng.permutation(len(trainer.pool))
    encoder.train()
    proj.train()
    t0, total, steps = time.perf_counter(), 0.0, 0
    bar = tqdm(
        range(0, len(order), c.batch_size),
        disable=not progress,
        desc=f"pretrain {c.method} epoch {epoch}/{c.epochs}",
        unit="batch",
    )
    for s in bar:
        idx = order[s : s + c.batch_size]
        if len(idx) < 2:
            continue  # a lone graph has no negatives
        loss = trainer.loss(encoder, proj, views, idx, rng)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += float(loss.detach())
        steps += 1
        bar.set_postfix(loss=f"{total / steps:.4f}")
    return {
        "epoch": float(epoch),
        "loss": total / max(steps, 1),
        "seconds": time.perf_counter() - t0,
    }
