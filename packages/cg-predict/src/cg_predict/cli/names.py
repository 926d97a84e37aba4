"""Names the command line checks while it parses, without importing torch.

The registries they mirror (``cg_predict.proxies.ALL``, ``SYNTHETIC_INPUTS``,
``DEFAULT_INPUT``) import torch; ``cgnas --help`` and a mistyped name must not wait for it. A
test keeps them equal to the registries.

Examples:
    >>> one_of(PROXY_NAMES)("meco")
    'meco'
    >>> one_of(SYNTHETIC_INPUT_NAMES)("noise")
    Traceback (most recent call last):
    ...
    ValueError: 'noise' is not one of normal, pixel, smooth
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["DEFAULT_INPUT_NAME", "PROXY_NAMES", "SYNTHETIC_INPUT_NAMES", "one_of"]

PROXY_NAMES: tuple[str, ...] = (
    "synflow",
    "jacov",
    "snip",
    "grasp",
    "fisher",
    "grad_norm",
    "nwot",
    "zico",
    "meco",
    "swap",
    "swap_reg",
    "az_expressivity",
    "az_progressivity",
    "az_trainability",
    "flops",
    "params",
)
"""Every zero-cost proxy of ``cg_predict.proxies`` (``ALL``), in its order."""

SYNTHETIC_INPUT_NAMES: tuple[str, ...] = ("normal", "pixel", "smooth")
"""Every synthetic input of ``cg_predict.proxies`` (``SYNTHETIC_INPUTS``)."""

DEFAULT_INPUT_NAME = "smooth"
"""``cg_predict.proxies.DEFAULT_INPUT``'s name."""


def one_of(names: Sequence[str]) -> Callable[[str], str]:
    """An ``argparse`` item type accepting only ``names`` (for ``comma_list``)."""

    def check(value: str) -> str:
        if value not in names:
            raise ValueError(f"{value!r} is not one of {', '.join(names)}")
        return value

    return check
