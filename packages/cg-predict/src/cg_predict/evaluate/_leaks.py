"""Guards against target labels reaching a model that is then measured on the target.

Leave-one-family-out means no label of the target family, from any dataset, may train the
model that ranks the target: not in source training (``check_no_target_labels``) and not
hidden in a checkpoint or encoder passed in from outside (``check_model_not_trained_on``), such
as ``Predictor.default()``'s, which saw every family. What a checkpoint was trained on is read
from its metadata (``labelled_families``); a file that does not say is refused, because its
provenance cannot be checked. ``families_loaded`` audits a run from outside: which families'
cells the protocol read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from cg_predict.errors import TargetLeakError

__all__ = [
    "TargetLeakError",
    "check_model_not_trained_on",
    "check_no_target_labels",
    "families_loaded",
    "labelled_families",
]


def check_no_target_labels(groups: Sequence[str], target: str) -> None:
    """Raise ``TargetLeakError`` if any training group (``family/dataset``) is the target's.

    Examples:
        >>> check_no_target_labels(["nb201/cifar10", "nb301/cifar10"], "nb101")
        >>> check_no_target_labels(["nb101/cifar10"], "nb101")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        cg_predict.errors.TargetLeakError: ...
    """
    leaked = sorted({g for g in groups if g.split("/")[0] == target})
    if leaked:
        raise TargetLeakError(
            f"labels of the target family {target!r} ({', '.join(leaked)}) are in the source "
            "training set; leave-one-family-out forbids any label of the target family"
        )


def _family(entry: object) -> str | None:
    if isinstance(entry, str):
        return entry.split("/")[0]
    if isinstance(entry, Mapping) and isinstance(entry.get("family"), str):
        return str(entry["family"])
    return None


def labelled_families(metadata: Mapping[str, Any]) -> set[str] | None:
    """The families whose labels trained a checkpoint, from its metadata; None if it does not say.

    Reads ``trained_on`` (``"family/dataset"`` strings, as the protocol writes, or dicts with a
    ``family``, as the default checkpoint's tool writes), the groups of ``target_stats`` and
    the ``family`` of every ``fine_tuned`` entry (``Predictor.fine_tune``'s record of labels
    added later). An encoder made by label-free pretraining (cg-contrast writes ``labels_used:
    false`` and a ``pretraining_method``, no ``trained_on``) was trained on no labels: the
    empty set. A ``fine_tuned`` entry that names no family makes it None.

    Examples:
        >>> sorted(labelled_families({"trained_on": ["nb101/cifar10", {"family": "nb301"}]}))
        ['nb101', 'nb301']
        >>> sorted(labelled_families({"trained_on": [], "fine_tuned": [{"family": "nb201"}]}))
        ['nb201']
        >>> labelled_families({"pretraining_method": "augment"})
        set()
        >>> labelled_families({}) is None
        True
    """
    tuned = _fine_tuned_families(metadata)
    if tuned is None:
        return None
    found: set[str] = set()
    said = False
    trained_on = metadata.get("trained_on")
    if isinstance(trained_on, Sequence) and not isinstance(trained_on, str):
        said = True
        found |= {f for f in map(_family, trained_on) if f is not None}
    stats = metadata.get("target_stats")
    if isinstance(stats, Mapping):
        said = True
        # "target" is the group of labels that fine-tuning adds; it names no family
        found |= {str(g).split("/")[0] for g in stats if g != "target"}
    # label-free only when it says so, or (older encoders) names a pretraining method and
    # nothing about labels; ``labels_used: true`` without ``trained_on`` cannot be checked
    label_free = metadata.get("labels_used") is False or (
        isinstance(metadata.get("pretraining_method"), str) and "labels_used" not in metadata
    )
    if not said and label_free:
        return tuned
    return found | tuned if said else None


def _fine_tuned_families(metadata: Mapping[str, Any]) -> set[str] | None:
    """The families of the ``fine_tuned`` entries; None if one names none (unknown labels)."""
    entries = metadata.get("fine_tuned", [])
    if isinstance(entries, str) or not isinstance(entries, Sequence):
        return None  # not what fine_tune records: its labels cannot be checked
    families = [_family(entry) for entry in entries]
    return None if None in families else {f for f in families if f is not None}


def check_model_not_trained_on(metadata: Mapping[str, Any], target: str, what: str) -> None:
    """Refuse a checkpoint or encoder (``what`` names it) whose labelled data include ``target``.

    Raises:
        TargetLeakError: its metadata lists the target family among its labelled training
            data, or does not say what it was trained on.

    Examples:
        >>> check_model_not_trained_on({"trained_on": ["nb101/cifar10"]}, "nb201", "m.pt")
        >>> check_model_not_trained_on({"trained_on": ["nb201/cifar10"]}, "nb201", "m.pt")
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        cg_predict.errors.TargetLeakError: m.pt was trained on labels of nb201 ...
    """
    families = labelled_families(metadata)
    if families is None:
        raise TargetLeakError(
            f"{what} does not say which labelled data trained it (no 'trained_on' or "
            f"'target_stats' in its metadata, or a 'fine_tuned' entry without its 'family'), so "
            f"it cannot be shown to be free of {target} labels; use a checkpoint written by "
            "cg-predict or cg-contrast (fine-tuned with Predictor.fine_tune(..., family=...))"
        )
    if target in families:
        raise TargetLeakError(
            f"{what} was trained on labels of {target} (its metadata lists "
            f"{', '.join(sorted(families))}); a model measured on {target} must never have seen "
            f"its labels: train one on the other families (leave-one-family-out)"
        )


@contextmanager
def families_loaded() -> Iterator[list[str]]:
    """Record, in order, every family whose cells ``evaluate`` loads inside the block.

    Both loaders of the protocol (the target's test cells and each source's labelled cells) are
    wrapped while the block runs and restored after it, so a choice that must never read a
    family (``select_on_sources``, cg-contrast's CL choice) can be checked from outside.

    Examples:
        >>> with families_loaded() as loaded:
        ...     pass  # evaluate(...) or select_on_sources(...) here
        >>> loaded
        []
    """
    from cg_predict.evaluate import _protocol

    loaded: list[str] = []

    def recording(load: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(family: str, *args: Any, **kwargs: Any) -> Any:
            loaded.append(family)
            return load(family, *args, **kwargs)

        return wrapper

    real = _protocol.target_cells, _protocol.source_cells
    _protocol.target_cells, _protocol.source_cells = (recording(load) for load in real)
    try:
        yield loaded
    finally:
        _protocol.target_cells, _protocol.source_cells = real
