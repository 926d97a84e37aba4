"""The versioned primitive-operator vocabulary (a data file shipped with the package)."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["OOV_ID", "VOCAB_VERSION", "Vocabulary", "vocabulary"]

VOCAB_VERSION = "v2"
OOV_ID = 0
_OOV_TOKEN = "<oov>"


class Vocabulary:
    """Maps op names to integer ids; id 0 is the out-of-vocabulary token.

    Examples:
        >>> v = vocabulary()
        >>> v.id("conv") > 0, v.id("no-such-op") == OOV_ID
        (True, True)
    """

    def __init__(self, version: str, ops: tuple[str, ...]) -> None:
        self.version = version
        self.tokens: tuple[str, ...] = (_OOV_TOKEN, *ops)
        self._ids = {op: i for i, op in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, op: object) -> bool:
        return isinstance(op, str) and op in self._ids and not self.is_reserved(op)

    def id(self, op: str) -> int:
        """The id of ``op``, or ``OOV_ID`` when the vocabulary does not know it."""
        return self._ids.get(op, OOV_ID)

    @staticmethod
    def is_reserved(op: str) -> bool:
        return op == _OOV_TOKEN or op.startswith("reserved_")

    @property
    def ops(self) -> tuple[str, ...]:
        """The usable ops (no OOV token, no reserved slots), in id order."""
        return tuple(op for op in self.tokens if not self.is_reserved(op))


@cache
def vocabulary(version: str = VOCAB_VERSION) -> Vocabulary:
    """Load the vocabulary file ``vocab/<version>.txt`` shipped with cg-ir."""
    text = resources.files("cg_ir").joinpath("vocab", f"{version}.txt").read_text("utf-8")
    ops = tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    return Vocabulary(version, ops)
