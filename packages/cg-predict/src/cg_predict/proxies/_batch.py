"""The data batch every data-dependent proxy sees: synthetic (seeded) or given by the caller."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cg_predict.errors import InvalidArgumentError

__all__ = ["Batch", "make_batch", "image_shape"]


@dataclass(frozen=True)
class Batch:
    """Inputs and integer class labels, on the CPU; proxies move copies to their device.

    Attributes:
        inputs: float32 tensor ``(N, C, H, W)`` (or any ``(N, ...)`` the module accepts).
        targets: int64 tensor ``(N,)`` of class indices.
        source: ``"synthetic"`` or ``"given"``.
        digest: sha256 of shapes, inputs and targets: the batch part of a cache key.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    source: str
    digest: str

    @property
    def size(self) -> int:
        """Number of examples N."""
        return int(self.inputs.shape[0])


def image_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    """The per-example shape: ``(C, H, W)`` as given, or ``(N, C, H, W)`` without its N.

    Raises:
        InvalidArgumentError: not 3 or 4 positive integers.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (3, 4) or any(s <= 0 for s in shape):
        raise InvalidArgumentError(
            f"input_shape must be (C, H, W) or (N, C, H, W) of positive integers, got "
            f"{tuple(input_shape)!r}; families give it as family.input_shape(spec)"
        )
    return shape[1:] if len(shape) == 4 else shape


def _digest(inputs: torch.Tensor, targets: torch.Tensor) -> str:
    h = hashlib.sha256()
    h.update(repr((tuple(inputs.shape), str(inputs.dtype), tuple(targets.shape))).encode())
    h.update(inputs.detach().cpu().contiguous().numpy().tobytes())
    h.update(targets.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def make_batch(
    input_shape: Sequence[int],
    *,
    batch: tuple[torch.Tensor, torch.Tensor] | None,
    batch_size: int,
    num_classes: int,
    seed: int,
) -> Batch:
    """The caller's ``(inputs, targets)`` checked, or a seeded synthetic batch.

    The synthetic batch is standard-normal inputs of ``input_shape`` (like normalised images)
    and labels uniform over ``num_classes``, both drawn from ``numpy.random.default_rng(seed)``
    so it is identical on every platform. NAS-Bench-Suite-Zero used a real CIFAR batch instead;
    pass one as ``batch`` to do the same.

    Raises:
        InvalidArgumentError: a batch of fewer than 2 examples, mismatched lengths, labels
            outside ``[0, num_classes)`` or not integers.
    """
    if batch is None:
        if batch_size < 2:
            raise InvalidArgumentError(
                f"batch_size must be at least 2 (jacov and nwot compare examples), got {batch_size}"
            )
        if num_classes < 1:
            raise InvalidArgumentError(f"num_classes must be positive, got {num_classes}")
        rng = np.random.default_rng(seed)
        shape = (batch_size, *image_shape(input_shape))
        inputs = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
        targets = torch.from_numpy(rng.integers(num_classes, size=batch_size, dtype=np.int64))
        return Batch(inputs, targets, "synthetic", _digest(inputs, targets))
    try:
        inputs, targets = batch
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            "batch must be a pair (inputs, targets) of tensors: inputs (N, C, H, W), targets (N,)"
        ) from None
    if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise InvalidArgumentError(
            f"batch must hold two tensors, got ({type(inputs).__name__}, {type(targets).__name__})"
        )
    if targets.dim() != 1 or inputs.shape[0] != targets.shape[0] or inputs.shape[0] < 2:
        raise InvalidArgumentError(
            f"batch inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} must hold the "
            "same number N >= 2 of examples, targets as a 1-D tensor of class indices"
        )
    if targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise InvalidArgumentError(
            f"batch targets must be integer class indices, got {targets.dtype}"
        )
    if int(targets.min()) < 0 or int(targets.max()) >= num_classes:
        raise InvalidArgumentError(
            f"batch targets range over [{int(targets.min())}, {int(targets.max())}] but the module "
            f"has {num_classes} classes"
        )
    inputs = inputs.detach().to("cpu", torch.float32)
    targets = targets.detach().to("cpu", torch.int64)
    return Batch(inputs, targets, "given", _digest(inputs, targets))
