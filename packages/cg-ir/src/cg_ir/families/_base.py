"""What a family of architectures (a search space) provides to cg-ir."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from cg_ir.errors import InvalidSpecError

if TYPE_CHECKING:
    import torch

    from cg_ir._graph import ComputationGraph

__all__ = ["Family", "SpecT"]

SpecT = TypeVar("SpecT")


class Family(ABC, Generic[SpecT]):
    """A search space: specs, their string keys, the real modules and their graphs.

    Subclasses implement ``parse``, ``key``, ``to_module``, ``input_shape``, ``sample`` and
    ``mutate``; cell families override ``to_cg`` with a structural builder that skips tracing
    and must equal ``trace_cg`` exactly; finite families override ``enumerate`` and ``size``.
    Register a family under the entry-point group ``cg_ir.families`` (or call
    ``cg_ir.families.register``) and ``cg_ir.families.get(name)`` finds it.
    """

    name: str = ""
    size: int | None = None
    """Number of distinct specs, or None when the space is too large to enumerate."""

    @abstractmethod
    def parse(self, key: str) -> SpecT:
        """The spec that ``key`` encodes; raises InvalidSpecError saying what is wrong."""

    @abstractmethod
    def key(self, spec: SpecT) -> str:
        """The canonical string key of ``spec`` (``parse(key(spec)) == spec``)."""

    @abstractmethod
    def to_module(self, spec: SpecT) -> torch.nn.Module:
        """The real PyTorch network of ``spec`` (freshly initialised, on the CPU)."""

    @abstractmethod
    def input_shape(self, spec: SpecT) -> tuple[int, int, int, int]:
        """The (N, C, H, W) input the network of ``spec`` is evaluated on."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> SpecT:
        """A random valid spec."""

    @abstractmethod
    def mutate(self, spec: SpecT, rng: np.random.Generator) -> SpecT:
        """A valid spec one mutation away from ``spec`` with a different graph."""

    def trace_cg(self, spec: SpecT) -> ComputationGraph:
        """The graph of ``spec`` by tracing its module with torch.fx (slow, general)."""
        from cg_ir.fx import from_module

        return from_module(self.to_module(spec), self.input_shape(spec))

    def to_cg(self, spec: SpecT) -> ComputationGraph:
        """The graph of ``spec``; families with a structural builder make it without tracing."""
        return self.trace_cg(spec)

    def enumerate(self) -> Iterator[SpecT]:
        """Every spec of a finite family, in a fixed order."""
        raise NotImplementedError(f"family {self.name!r} is too large to enumerate")

    def sample_distinct(self, rng: np.random.Generator, count: int) -> list[SpecT]:
        """``count`` specs with distinct keys (raises if the family has fewer)."""
        if self.size is not None and count > self.size:
            raise InvalidSpecError(f"{self.name} has only {self.size} specs, {count} requested")
        seen: dict[str, SpecT] = {}
        while len(seen) < count:
            spec = self.sample(rng)
            seen.setdefault(self.key(spec), spec)
        return list(seen.values())

    def __repr__(self) -> str:
        return f"<family {self.name!r}>"
