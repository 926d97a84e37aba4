"""``log_scale``: proxy values that span many orders of magnitude, made readable."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["log_scale"]


def log_scale(values: float | npt.ArrayLike) -> float | npt.NDArray[np.float64]:
    """Signed natural log, ``sign(v) * ln(1 + |v|)``: monotone, so ranks do not change.

    For synflow (always >= 0, typically 1e10 to 1e50 on NB-201) this equals ``ln(v)`` to float
    precision and reproduces NAS-Bench-Suite-Zero's stored scores (they store ``ln`` and 0 for
    0). It maps 0 to 0, keeps the sign of negative scores (grasp) and ``±inf`` stays ``±inf``.

    Examples:
        >>> round(log_scale(1e40), 3)
        92.103
        >>> log_scale([0.0, -1e3]).round(3).tolist()
        [0.0, -6.909]
    """
    array = np.asarray(values, dtype=np.float64)
    out = np.sign(array) * np.log1p(np.abs(array))
    return float(out) if out.ndim == 0 else out
