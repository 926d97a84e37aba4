"""The data batch every data-dependent proxy sees: a named synthetic input, or the caller's.

NAS-Bench-Suite-Zero scored its networks on one real training batch: 32 images, randomly
cropped and flipped, normalised with the dataset's per-channel mean and standard deviation, and
their labels. Proxies here run without a dataset, on one of the synthetic inputs of
``SYNTHETIC_INPUTS`` (``DEFAULT_INPUT`` unless asked otherwise); ``tools/proxy_agreement.py``
measures how each one's scores agree with NAS-Bench-Suite-Zero's, and the default is the one
that agreed best; ``tests/test_proxy_agreement.py`` asserts that agreement per target.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from cg_predict.errors import InvalidArgumentError

__all__ = [
    "Batch",
    "DEFAULT_INPUT",
    "SYNTHETIC_INPUTS",
    "SyntheticInput",
    "image_shape",
    "make_batch",
    "resolve_input",
]

FloatArray = npt.NDArray[np.float64]

# CIFAR-10's per-channel pixel mean and std (RGB, pixels in [0, 1]), the normalisation of
# NASLib's loaders. CIFAR-100's and ImageNet16-120's differ by < 0.03, which changes the
# normalised values by less than the clipping does; other channel counts use their averages.
_PIXEL_MEAN = (0.4914, 0.4822, 0.4465)
_PIXEL_STD = (0.2470, 0.2435, 0.2616)
# RGB channels of natural images correlate strongly (about 0.9): the shared part's weight
_CHANNEL_SHARE = 0.95


@dataclass(frozen=True)
class SyntheticInput:
    """A named way to draw a synthetic batch's images; labels are uniform over the classes.

    Attributes:
        name: its name in ``SYNTHETIC_INPUTS`` (part of every proxy cache key).
        description: what the images are, in one sentence.
        draw: ``draw(rng, (N, C, H, W))``, the images (float64), normalised (about zero mean
            and unit variance per channel, like a normalised dataset).
    """

    name: str
    description: str
    draw: Callable[[np.random.Generator, tuple[int, ...]], FloatArray]


def _channel_stats(channels: int) -> tuple[FloatArray, FloatArray]:
    """Pixel mean and std per channel, shaped to broadcast over ``(N, C, H, W)``."""
    mean, std = np.array(_PIXEL_MEAN), np.array(_PIXEL_STD)
    if channels != len(_PIXEL_MEAN):
        mean, std = np.full(channels, mean.mean()), np.full(channels, std.mean())
    return mean[None, :, None, None], std[None, :, None, None]


def _as_normalised_pixels(standard: FloatArray) -> FloatArray:
    """Standard scores as pixels of the dataset's statistics, clipped to [0, 1], normalised.

    Real pixels are bounded: the clip is what a normalised image has and a Gaussian lacks.
    """
    mean, std = _channel_stats(standard.shape[1])
    pixels = np.clip(mean + std * standard, 0.0, 1.0)
    return (pixels - mean) / std


def _normal(rng: np.random.Generator, shape: tuple[int, ...]) -> FloatArray:
    # drawn as float32, as before the inputs had names: the same seed gives the same batch
    return rng.standard_normal(shape, dtype=np.float32).astype(np.float64)


def _pixel(rng: np.random.Generator, shape: tuple[int, ...]) -> FloatArray:
    return _as_normalised_pixels(rng.standard_normal(shape))


def _unit_fields(rng: np.random.Generator, count: int, height: int, width: int) -> FloatArray:
    """``count`` random fields with a 1/f amplitude spectrum (natural images' ~1/f^2 power).

    Each has zero mean and unit variance over its pixels.
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    frequency = np.hypot(fx, fy)
    frequency[0, 0] = 1.0 / max(height, width)  # the mean is removed below anyway
    spectrum_shape = (count, height, width // 2 + 1)
    spectrum = rng.standard_normal(spectrum_shape) + 1j * rng.standard_normal(spectrum_shape)
    fields = np.fft.irfft2(spectrum / frequency, s=(height, width))
    fields -= fields.mean(axis=(1, 2), keepdims=True)
    scale = fields.std(axis=(1, 2), keepdims=True)
    return np.asarray(fields / np.where(scale > 0, scale, 1.0), dtype=np.float64)


def _smooth(rng: np.random.Generator, shape: tuple[int, ...]) -> FloatArray:
    n, channels, height, width = shape
    shared = _unit_fields(rng, n, height, width)[:, None]
    own = _unit_fields(rng, n * channels, height, width).reshape(shape)
    standard = _CHANNEL_SHARE * shared + np.sqrt(1.0 - _CHANNEL_SHARE**2) * own
    return _as_normalised_pixels(standard)


SYNTHETIC_INPUTS: dict[str, SyntheticInput] = {
    spec.name: spec
    for spec in (
        SyntheticInput("normal", "independent standard-normal values (white noise)", _normal),
        SyntheticInput(
            "pixel",
            "independent Gaussian pixels of CIFAR-10's per-channel mean and std, clipped to "
            "[0, 1] and normalised",
            _pixel,
        ),
        SyntheticInput(
            "smooth",
            "natural-image-like noise (1/f amplitude spectrum, RGB channels correlated 0.95) "
            "as pixels of CIFAR-10's per-channel mean and std, clipped to [0, 1], normalised",
            _smooth,
        ),
    )
}
"""The synthetic inputs by name."""

DEFAULT_INPUT = "smooth"
"""The synthetic input proxies use unless told otherwise: of the three, the one whose scores agreed
best with NAS-Bench-Suite-Zero's real-data scores (mean Spearman over proxies and targets,
measured by ``tools/proxy_agreement.py --inputs normal,pixel,smooth``). White noise lacks what
real images have: neighbouring pixels and colour channels that move together."""


@dataclass(frozen=True)
class Batch:
    """Inputs and integer class labels, on the CPU; proxies move copies to their device.

    Attributes:
        inputs: float32 tensor ``(N, C, H, W)`` (or any ``(N, ...)`` the module accepts).
        targets: int64 tensor ``(N,)`` of class indices.
        source: the synthetic input's name (``SYNTHETIC_INPUTS``) or ``"given"``.
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


def resolve_input(name: str) -> SyntheticInput:
    """The synthetic input called ``name``.

    Raises:
        InvalidArgumentError: no such input; the message lists the valid names.

    Examples:
        >>> resolve_input("normal").name
        'normal'
    """
    try:
        return SYNTHETIC_INPUTS[name]
    except (KeyError, TypeError):
        valid = ", ".join(SYNTHETIC_INPUTS)
        raise InvalidArgumentError(
            f"unknown synthetic input {name!r}; valid names: {valid}"
        ) from None


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
    synthetic: str = DEFAULT_INPUT,
) -> Batch:
    """The caller's ``(inputs, targets)`` checked, or a seeded synthetic batch.

    The synthetic batch is ``batch_size`` images of ``input_shape`` drawn by the synthetic
    input ``synthetic`` (``SYNTHETIC_INPUTS``) and labels uniform over ``num_classes``, both
    from ``numpy.random.default_rng(seed)`` so it is identical on every platform.
    NAS-Bench-Suite-Zero used a real CIFAR batch instead; pass one as ``batch`` to do the same.

    Raises:
        InvalidArgumentError: an unknown ``synthetic`` input, a batch of fewer than 2
            examples, mismatched lengths, labels outside ``[0, num_classes)`` or not integers.

    Examples:
        >>> b = make_batch((3, 8, 8), batch=None, batch_size=4, num_classes=10, seed=0,
        ...                synthetic="smooth")
        >>> tuple(b.inputs.shape), b.source, int(b.targets.max()) < 10
        ((4, 3, 8, 8), 'smooth', True)
    """
    if batch is None:
        kind = resolve_input(synthetic)
        if batch_size < 2:
            raise InvalidArgumentError(
                f"batch_size must be at least 2 (jacov and nwot compare examples), got {batch_size}"
            )
        if num_classes < 1:
            raise InvalidArgumentError(f"num_classes must be positive, got {num_classes}")
        rng = np.random.default_rng(seed)
        shape = (batch_size, *image_shape(input_shape))
        inputs = torch.from_numpy(np.ascontiguousarray(kind.draw(rng, shape), dtype=np.float32))
        targets = torch.from_numpy(rng.integers(num_classes, size=batch_size, dtype=np.int64))
        return Batch(inputs, targets, kind.name, _digest(inputs, targets))
    return _given(batch, num_classes)


def _given(batch: tuple[torch.Tensor, torch.Tensor], num_classes: int) -> Batch:
    """The caller's batch, checked and copied to the CPU as float32 inputs, int64 labels."""
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
