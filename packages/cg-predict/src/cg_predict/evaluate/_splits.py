"""Few-shot splits by isomorphism class: a twin of a labelled cell never enters the test set.

Two cells of a benchmark can be the same computation (NB-201 cells that differ only in edges
that never reach the output, OFA subnets that differ only in unused slots). They share the
computation graph's ``canonical_hash()``, and a split that labels one twin and tests on the
other measures memorisation, not prediction. So every split here draws *classes* (distinct
hashes): a labelled class contributes one cell (its label) and the whole class leaves the test
set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cg_predict.errors import InvalidArgumentError

__all__ = ["FewShotSplit", "class_ids", "few_shot_split"]

IntArray = npt.NDArray[np.int64]


def class_ids(hashes: Sequence[str] | npt.ArrayLike) -> IntArray:
    """The isomorphism class of every cell: equal hashes, equal ids (numbered by first use).

    Examples:
        >>> class_ids(["b", "a", "b", "c"]).tolist()
        [0, 1, 0, 2]
    """
    table: dict[str, int] = {}
    return np.fromiter(
        (table.setdefault(str(h), len(table)) for h in np.asarray(hashes).reshape(-1)),
        dtype=np.int64,
    )


@dataclass(frozen=True)
class FewShotSplit:
    """Nested labelled sets for several shot counts and one common test set.

    Attributes:
        labelled: ``{shots: indices}``; the set for ``k`` shots is the first ``k`` cells of
            the set for the largest count (nested, so more shots only add labels).
        test: indices of every cell whose class has no labelled cell in the largest set: the
            same test cells for every shot count and method of a seed.
    """

    labelled: dict[int, IntArray]
    test: IntArray


def few_shot_split(
    hashes: Sequence[str] | npt.ArrayLike, shots: Sequence[int], rng: np.random.Generator
) -> FewShotSplit:
    """Draw ``max(shots)`` labelled cells from distinct isomorphism classes, test on the rest.

    Classes are visited in a random order; each labelled class gives one random member. The
    test set drops every member of every labelled class.

    Args:
        hashes: every cell's canonical graph hash.
        shots: labelled-set sizes (0 allowed: zero-shot uses the same test set).
        rng: the seeded generator that draws the classes.

    Raises:
        InvalidArgumentError: a negative shot count, or more shots than classes minus two
            (the test set needs at least two classes).

    Examples:
        >>> s = few_shot_split(["a", "a", "b", "c", "d"], [0, 1, 2], np.random.default_rng(0))
        >>> [len(s.labelled[k]) for k in (0, 1, 2)], len(s.test) >= 2
        ([0, 1, 2], True)
    """
    ids = class_ids(hashes)
    counts = sorted({int(k) for k in shots})
    if not counts or counts[0] < 0:
        raise InvalidArgumentError(f"shots={list(shots)} must be non-negative integers")
    n_classes = int(ids.max()) + 1 if len(ids) else 0
    largest = counts[-1]
    if largest > n_classes - 2:
        raise InvalidArgumentError(
            f"{largest} shots need at least {largest + 2} isomorphism classes (two left to "
            f"test); the target has {n_classes}: lower --shots"
        )
    order = rng.permutation(n_classes)[:largest]
    members = [np.flatnonzero(ids == c) for c in order]
    picked = np.array([int(rng.choice(m)) for m in members], dtype=np.int64)
    test = np.flatnonzero(~np.isin(ids, order)).astype(np.int64)
    return FewShotSplit({k: picked[:k] for k in counts}, test)
