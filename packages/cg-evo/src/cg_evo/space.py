"""The space a search runs in: a family's labelled pool, restricted to a cost budget.

Candidates are the pool's architectures that fit the budget, in pool (table) order, each with
its computation graph, costs and isomorphism class (canonical hash of the graph).

**Twins.** Isomorphic twins (rows of the pool whose computation graphs are the same: on NB-201
every cell whose dead edges differ) are one network trained several times. Each candidate's
label is the mean of its class's oracle labels, as the predictor's correlations count each
network once with its class-mean label (``cg_predict.metrics.class_means``); a search pays for
the first twin it asks for and gets that label back, free, for every later twin (``Queries``).
Ranks and the top 0.1 % are counted over classes. Taking the first-asked twin's own label
instead would make a search's result depend on which twin it happened to ask first: under
NB-201's FLOPs ≤ median budget the best 15 rows are all twins of one class of 65, whose labels
run from 93.03 to 93.50, so a search that found that network could still score its worst twin.

**Mutation inside a pool.** A mutation moves to a random candidate among those nearest to
the parent in the family's key encoding: fewest differing positions between the integers of
the two canonical keys (Hamming distance), never the parent's own network (isomorphism
class) and, while any other is left, never a network the search has already queried. On
NB-201, whose pool is the whole space, the nearest networks are the single-edge changes of
``nb201``'s own ``mutate`` (one edge gets another op, the graph changes). In sparse pools
(NB-101's 30,001 of 423,624 cells, NB-301's 725, OFA's 2,223) a parent's single-edit
neighbours are mostly outside the pool, so the move goes to the nearest candidates in it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from cg_evo.budget import Budget
from cg_evo.errors import InvalidSearchError, NoCandidatesError
from cg_evo.oracle import Oracle
from cg_ir import families
from cg_ir.families import Family
from cg_predict.graphs import GraphSet
from cg_predict.metrics import class_means

__all__ = ["MUTATION", "TWINS", "Queries", "QueryBudgetExhausted", "SearchSpace", "in_key_sample"]

MUTATION = (
    "a random pool candidate nearest to the parent (fewest differing integers of the canonical "
    "key), another network not queried yet; on NB-201 (the whole space) the single-edge changes"
)
TWINS = (
    "isomorphic twins are one network: each has its class's mean label, paid for once (the "
    "first twin asked), free for the rest; ranks and the top 0.1% count networks, not rows"
)
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _key_codes(family: Family[Any], keys: Sequence[str]) -> npt.NDArray[np.int32]:
    """The integers of each canonical key, padded with -1 to one length (for Hamming moves)."""
    rows = [[int(v) for v in re.findall(r"-?\d+", family.key(family.parse(k)))] for k in keys]
    width = max((len(r) for r in rows), default=0)
    codes = np.full((len(rows), width), -1, dtype=np.int32)
    for i, row in enumerate(rows):
        codes[i, : len(row)] = row
    return codes


def in_key_sample(keys: Sequence[str], count: int | None, pool_size: int) -> npt.NDArray[np.bool_]:
    """Which ``keys`` belong to a fixed sample of about ``count`` of a pool's ``pool_size`` rows.

    A key is in the sample when its SHA-256 falls in the lowest ``count / pool_size`` of the
    hash range, so the sample is the same for every seed and process and does not depend on
    the order of the keys; a cost-budgeted space holds the sampled rows that fit. All keys are
    in it when ``count`` is None or at least ``pool_size``.

    Examples:
        >>> keys = [str(i) for i in range(1000)]
        >>> int(in_key_sample(keys, 100, 1000).sum()), bool(in_key_sample(keys, None, 1000).all())
        (106, True)
        >>> head = in_key_sample(keys[:20], 100, 1000)
        >>> head.tolist() == in_key_sample(keys, 100, 1000)[:20].tolist()
        True
    """
    if count is None or count >= pool_size:
        return np.ones(len(keys), dtype=bool)
    limit = count / pool_size * 2.0**64
    return np.array(
        [int(hashlib.sha256(k.encode()).hexdigest()[:16], 16) < limit for k in keys], dtype=bool
    )


@dataclass(frozen=True)
class SearchSpace:
    """Candidates of a search: a pool's rows that fit ``budget``, in pool order.

    Attributes:
        family: the cg-ir family.
        keys: candidate keys (the oracle's encoding).
        labels: their class-mean oracle labels (every twin has its class's mean).
        costs: ``{cost: values}`` of the candidates (``flops``, ``params``, table costs).
        graphs: the candidates' packed graphs (with canonical hashes).
        classes: isomorphism class id of each candidate (equal ids: twins).
        budget: the resolved budget.
        pool_size: rows of the pool before the budget.
        whole_space: whether the pool is the whole family (mutation never leaves it).
    """

    family: Family[Any]
    keys: tuple[str, ...]
    labels: FloatArray
    costs: dict[str, FloatArray]
    graphs: GraphSet
    classes: IntArray
    budget: Budget
    pool_size: int
    whole_space: bool
    _codes: npt.NDArray[np.int32] | None = field(repr=False, default=None)

    @classmethod
    def from_oracle(
        cls, oracle: Oracle, budget: Budget | None = None, *, progress: bool = False
    ) -> SearchSpace:
        """The candidates of ``oracle``'s pool under ``budget`` (graphs cached on disk).

        Raises:
            NoCandidatesError: nothing fits the budget.
            InvalidSearchError: the budget names a cost the pool lacks.
        """
        from cg_predict.evaluate import graphs_with_costs

        graphs, flops, params = graphs_with_costs(oracle.family, oracle.keys, progress=progress)
        costs = {"flops": flops, "params": params, **oracle.costs}
        budget = (budget or Budget()).resolve(costs)
        keep = np.flatnonzero(budget.mask(costs))
        if keep.size == 0:
            raise NoCandidatesError(
                f"no architecture of the {oracle.benchmark} pool fits the budget "
                f"({budget.describe()}); smallest: "
                + ", ".join(f"{c} {v.min():.4g}" for c, v in sorted(costs.items()))
            )
        assert graphs.hashes is not None  # graphs_with_costs always records them
        hashes = graphs.hashes[keep]
        ids: dict[str, int] = {}
        classes = np.array([ids.setdefault(str(h), len(ids)) for h in hashes], dtype=np.int64)
        return cls(
            family=families.get(oracle.family),
            keys=tuple(oracle.keys[i] for i in keep),
            # class ids number the classes in order of first appearance, as class_means does
            labels=class_means(classes, oracle.labels[keep], oracle.labels[keep])[0][classes],
            costs={c: v[keep] for c, v in costs.items()},
            graphs=graphs.subset(keep),
            classes=classes,
            budget=budget,
            pool_size=len(oracle),
            whole_space=oracle.whole_space,
        )

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def num_classes(self) -> int:
        """Distinct networks (isomorphism classes) among the candidates."""
        return int(self.classes.max()) + 1

    def cost(self, name: str) -> FloatArray:
        """One cost of every candidate; InvalidSearchError listing the costs when unknown."""
        if name not in self.costs:
            raise InvalidSearchError(
                f"unknown cost {name!r} for this space; costs: {', '.join(sorted(self.costs))}"
            )
        return self.costs[name]

    def _codes_matrix(self) -> npt.NDArray[np.int32]:
        if self._codes is None:
            object.__setattr__(self, "_codes", _key_codes(self.family, self.keys))
        assert self._codes is not None
        return self._codes

    def nearest_candidates(
        self, index: int, known: npt.NDArray[np.bool_] | None = None, *, widen: bool = True
    ) -> IntArray:
        """The candidates nearest to ``index`` (Hamming on key integers), other networks only.

        ``known`` (one flag per class) marks networks already queried: they are passed over
        while any other network is left, so a search never stalls on known neighbours. On
        NB-201 the nearest unqueried networks of a cell are its unqueried single-edge changes
        while it has any, then the two-edge ones, and so on. With ``widen=False`` the search
        does not look farther: only the unqueried networks among the nearest of all are
        returned, none once those are all known (``index`` is then a local optimum of the
        networks queried).
        """
        codes = self._codes_matrix()
        distance = (codes != codes[index]).sum(axis=1)
        excluded = self.classes == self.classes[index]
        distance[excluded] = codes.shape[1] + 1
        if known is None:
            return np.flatnonzero(distance == distance.min()).astype(np.int64)
        fresh = ~known[self.classes]
        if not widen:
            return np.flatnonzero((distance == distance.min()) & fresh).astype(np.int64)
        if np.any(fresh & ~excluded):
            distance[~fresh] = codes.shape[1] + 1
        return np.flatnonzero(distance == distance.min()).astype(np.int64)

    def nearest(
        self,
        index: int,
        rng: np.random.Generator,
        known: npt.NDArray[np.bool_] | None = None,
    ) -> int:
        """A random candidate among ``nearest_candidates(index, known)``."""
        return int(rng.choice(self.nearest_candidates(index, known)))

    def mutate(
        self,
        index: int,
        rng: np.random.Generator,
        known: npt.NDArray[np.bool_] | None = None,
    ) -> int:
        """A candidate one move from candidate ``index`` (see the module docstring).

        With ``known`` (``Queries.known_classes``) the move goes to the nearest networks not
        queried yet, as an evolution that mutates until it meets a new architecture would.

        Raises:
            NoCandidatesError: the space holds a single network.
        """
        if self.num_classes < 2:
            raise NoCandidatesError("the space has a single network: nothing to mutate to")
        return self.nearest(index, rng, known)

    def class_labels(self) -> FloatArray:
        """One label per isomorphism class, ascending (read-only)."""
        return self._class_labels

    @cached_property
    def _class_labels(self) -> FloatArray:
        # sorted once per space: every seed's ranks and the top 0.1 % read it
        _, first = np.unique(self.classes, return_index=True)
        ordered = np.sort(self.labels[first])
        ordered.setflags(write=False)
        return ordered

    def ranks(self, values: FloatArray) -> IntArray:
        """Rank of each value among the classes' labels (1 = the best label; ties share)."""
        ordered = self.class_labels()
        return (len(ordered) - np.searchsorted(ordered, values, side="right") + 1).astype(np.int64)

    def top_threshold(self, fraction: float) -> float:
        """The lowest label of the best ``ceil(fraction * classes)`` classes (at least one)."""
        ordered = self.class_labels()
        return float(ordered[-max(1, int(np.ceil(fraction * len(ordered))))])


class QueryBudgetExhausted(Exception):  # noqa: N818 (control flow, not an error)
    """Raised inside a strategy when the query budget is spent; the runner catches it."""


class Queries:
    """What a search has paid the oracle for, in order; twins come back free.

    Args:
        space: the candidates.
        budget: paid queries allowed.

    Examples:
        >>> import numpy as np
        >>> from types import SimpleNamespace
        >>> space = SimpleNamespace(labels=np.array([1.5, 1.5, 3.0]), classes=np.array([0, 0, 1]))
        >>> q = Queries(space, budget=2)
        >>> q.ask(0), q.ask(1), q.paid, q.free_hits
        (1.5, 1.5, 1, 1)
    """

    def __init__(self, space: Any, budget: int) -> None:
        self.space = space
        self.budget = budget
        self.order: list[int] = []
        self.labels: list[float] = []
        self._by_class: dict[int, float] = {}
        self.known_classes = np.zeros(int(np.max(space.classes)) + 1, dtype=bool)
        """One flag per isomorphism class: queried already (``SearchSpace.mutate``'s ``known``)."""
        self.free_hits = 0
        self._networks = len(np.unique(space.classes))

    @property
    def paid(self) -> int:
        """Queries paid so far."""
        return len(self.order)

    @property
    def remaining(self) -> int:
        """Queries still allowed."""
        return self.budget - self.paid

    def known(self, index: int) -> bool:
        """Whether candidate ``index``'s class has been queried (its label is known)."""
        return int(self.space.classes[index]) in self._by_class

    def ask(self, index: int) -> float:
        """The label of candidate ``index``: paid once per class, then free for its twins.

        Raises:
            QueryBudgetExhausted: a new class was asked for with no query left, or every class
                is known (a budget of every network is spent: strategies that draw from known
                networks, as evolution's mutants end up doing, would ask for free forever).
        """
        cls = int(self.space.classes[index])
        if cls in self._by_class:
            if len(self._by_class) == self._networks:
                raise QueryBudgetExhausted
            self.free_hits += 1
            return self._by_class[cls]
        if self.remaining <= 0:
            raise QueryBudgetExhausted
        label = float(self.space.labels[index])
        self._by_class[cls] = label
        self.known_classes[cls] = True
        self.order.append(int(index))
        self.labels.append(label)
        return label

    def label(self, index: int) -> float:
        """The known label of candidate ``index``'s class (KeyError if it was never paid for)."""
        return self._by_class[int(self.space.classes[index])]

    def known_indices(self) -> list[int]:
        """Candidates paid for, in query order."""
        return list(self.order)
