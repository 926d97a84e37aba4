"""The user API: load a trained predictor and score or rank architectures.

What a score means: a **within-family rank score**. The network is trained on accuracies
standardised per family (z-scores), so a score says how an architecture compares with others
of the same family (higher = predicted better; about 0 = the family's average, 1 = one
standard deviation above). It is not an accuracy, and scores of different families (or of
unrelated hand-written modules) are not comparable on an absolute scale. Use ``rank`` or
correlations within one family.

Before it is fine-tuned on a family, a predictor whose checkpoint records a zero-shot blend (the
shipped default does) ranks by ``score``: a blend of rankings of the items scored together
(``cg_predict.ranking.rank_blend``): its own scores, FLOPs, params and the zero-cost proxies the
blend weighs, computed live on each item's untrained module (``cg_predict.proxies``). The
weights are the zero-shot ranking that did best on families held out of training
(``tools/select_zero_shot_blend.py``). Items without a module (graphs, ONNX files) cannot have
live proxies: they are ranked by the checkpoint's blend without them (``graphs_only``), unless
``proxy_scores`` gives their values. ``predict`` is always the network alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from cg_ir import ComputationGraph
from cg_predict.checkpoint import load_checkpoint
from cg_predict.errors import CheckpointError, InvalidArgumentError
from cg_predict.graphs import GraphSet
from cg_predict.model import PredictorNet
from cg_predict.ranking import rank_blend
from cg_predict.training import (
    DEFAULT_LOSS,
    FINE_TUNE_EPOCHS,
    FINE_TUNE_MODE,
    fine_tune,
    predict,
)

__all__ = [
    "DEFAULT_CHECKPOINT",
    "Item",
    "Predictor",
    "default_checkpoint_resource",
    "live_proxy_scores",
]

DEFAULT_CHECKPOINT = "checkpoints/default.pt"
"""Path of the shipped default checkpoint inside the ``cg_predict`` package."""

Item = ComputationGraph | torch.nn.Module | tuple[str, str]
"""What can be scored: a graph, a PyTorch module (with ``input_shape``) or ``(family, key)``."""


def default_checkpoint_resource() -> Traversable:
    """The checkpoint file shipped with cg-predict (what ``Predictor.default`` loads).

    Raises:
        CheckpointError: this installation of cg-predict lacks it.
    """
    resource = resources.files("cg_predict").joinpath(DEFAULT_CHECKPOINT)
    if not resource.is_file():
        raise CheckpointError(
            f"the default checkpoint cg_predict/{DEFAULT_CHECKPOINT} is not installed; build "
            "it with `python tools/train_default_checkpoint.py` in the cg-nas repository",
            str(resource),
        )
    return resource


def _is_pair(item: object) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and all(isinstance(v, str) for v in item)


def to_graph(item: Item, input_shape: Sequence[int] | None = None) -> ComputationGraph:
    """The computation graph of one item (see :data:`Item`)."""
    if isinstance(item, ComputationGraph):
        return item
    if isinstance(item, torch.nn.Module):
        if input_shape is None:
            raise InvalidArgumentError(
                f"scoring a module ({type(item).__name__}) needs input_shape, e.g. (1, 3, 32, 32)"
            )
        from cg_ir.fx import from_module  # lazy: pulls in torch.fx

        graph: ComputationGraph = from_module(item, tuple(int(d) for d in input_shape))
        return graph
    if _is_pair(item):
        from cg_ir import families

        name, key = item
        family = families.get(name)
        return family.to_cg(family.parse(key))
    raise InvalidArgumentError(
        f"cannot score {type(item).__name__} {item!r:.80}: give a cg_ir.ComputationGraph, a "
        "torch.nn.Module (with input_shape) or a (family, key) pair of strings"
    )


def _as_list(items: Sequence[Item] | Item) -> list[Item]:
    if isinstance(items, (ComputationGraph, torch.nn.Module)) or _is_pair(items):
        return [items]  # type: ignore[list-item]
    return list(items)  # type: ignore[arg-type]


def _module_free(item: Item) -> bool:
    """An item with no module to compute a live proxy on (a graph)."""
    return isinstance(item, ComputationGraph)


def live_proxy_scores(
    items: Sequence[Item],
    names: Sequence[str],
    input_shape: Sequence[int] | None,
    device: str | torch.device = "cpu",
) -> dict[str, npt.NDArray[np.float64]]:
    """``{proxy: one value per item}`` of network proxies, computed on each item's module.

    A module is scored at its current weights with ``input_shape``; a ``(family, key)`` pair on
    the family's module seeded by ``init_seed(0, key)``, as ``cgnas evaluate``'s live proxies
    (the default synthetic batch either way).

    Raises:
        InvalidArgumentError: a graph among ``items`` (it has no module), or a module without
            ``input_shape``.
    """
    from cg_predict.proxies import compute_proxies
    from cg_predict.proxies.agreement import cell_proxies

    values: dict[str, list[float]] = {name: [] for name in names}
    for item in items:
        if isinstance(item, torch.nn.Module):
            if input_shape is None:
                raise InvalidArgumentError("live proxies of a module need input_shape")
            scores = compute_proxies(item, input_shape, names, device=device)
        elif _is_pair(item):
            family, key = item  # type: ignore[misc]
            scores = cell_proxies(family, key, names, device=str(device))
        else:
            raise InvalidArgumentError(
                f"{type(item).__name__} has no module to compute {', '.join(names)} on; pass "
                "modules or (family, key) pairs, or the scores as proxy_scores"
            )
        for name in names:
            values[name].append(scores[name].value)
    return {name: np.asarray(v, dtype=np.float64) for name, v in values.items()}


def _without_failed(
    weights: Mapping[str, float], columns: Mapping[str, npt.ArrayLike]
) -> dict[str, float]:
    """``weights`` without the members a NaN or infinity spoils, renormalised.

    A proxy can fail on one network (a NaN gradient statistic); one undefined value would leave
    the whole set unranked, so the failed member sits this set out and the others keep their
    proportions (the network alone if nothing is left).

    Examples:
        >>> columns = {"network": [1.0, 2.0], "zico": [3.0, float("nan")]}
        >>> _without_failed({"network": 0.5, "zico": 0.5}, columns)
        {'network': 1.0}
    """
    kept = {
        name: w
        for name, w in weights.items()
        if np.isfinite(np.asarray(columns[name], dtype=np.float64)).all()
    }
    total = sum(kept.values())
    return {name: w / total for name, w in kept.items()} if total > 0 else {"network": 1.0}


class Predictor:
    """A trained network that scores architectures of any family.

    Scores are within-family rank scores (standardised accuracies), not accuracies; see the
    module docstring.

    Examples:
        >>> from cg_ir import ComputationGraph, Node
        >>> g = ComputationGraph([Node("input", (3, 8, 8), (3, 8, 8)),
        ...                       Node("relu", (3, 8, 8), (3, 8, 8)),
        ...                       Node("output", (3, 8, 8), (3, 8, 8))], [(0, 1), (1, 2)])
        >>> p = Predictor(PredictorNet())
        >>> p.predict([g, g]).shape, sorted(p.rank([g, g]))
        ((2,), [0, 1])
    """

    def __init__(
        self,
        model: PredictorNet,
        metadata: dict[str, Any] | None = None,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 256,
    ) -> None:
        self.model = model.to(device).eval()
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.device = device
        self.batch_size = batch_size

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Predictor:
        """A predictor from a checkpoint written by ``save_checkpoint``.

        Raises:
            CheckpointError: the file is missing, corrupt, of another format or feature schema.
        """
        loaded = load_checkpoint(path, device)
        return cls(loaded.model, {**loaded.metadata, "versions": loaded.versions}, device=device)

    @classmethod
    def default(cls, device: str | torch.device = "cpu") -> Predictor:
        """The checkpoint shipped with cg-predict.

        ``checkpoints/default.md`` says what it was trained on. Never use it to measure
        transfer: it has seen every family's labels.
        """
        with resources.as_file(default_checkpoint_resource()) as path:
            return cls.load(path, device)

    def graphs(
        self,
        items: Sequence[Item] | Item | GraphSet,
        input_shape: Sequence[int] | None = None,
    ) -> GraphSet:
        """The packed graphs of ``items`` (a single item counts as a list of one)."""
        if isinstance(items, GraphSet):
            return items
        many: Sequence[Any] = (
            [items]
            if isinstance(items, (ComputationGraph, torch.nn.Module)) or _is_pair(items)
            else items
        )
        return GraphSet.from_graphs(to_graph(item, input_shape) for item in many)

    def predict(
        self, items: Sequence[Item] | Item | GraphSet, *, input_shape: Sequence[int] | None = None
    ) -> npt.NDArray[np.float64]:
        """Scores of ``items`` in order, computed in batches of ``batch_size``.

        Args:
            items: graphs, modules, ``(family, key)`` pairs, a mix, or a ``GraphSet``.
            input_shape: ``(N, C, H, W)`` for the modules among ``items``.
        """
        gs = self.graphs(items, input_shape)
        return predict(self.model, gs, batch_size=self.batch_size, device=self.device)

    @property
    def zero_shot_blend(self) -> dict[str, dict[str, float]]:
        """``{"weights": ..., "graphs_only": ...}``: what ``score`` blends, until fine-tuned.

        ``weights`` may weigh a live proxy; ``graphs_only`` (no live proxy) ranks items that have
        no module. A fine-tuned predictor (labels of the family) and a checkpoint without a blend
        rank by the network alone; a checkpoint of the earlier format, with only
        ``zero_shot_flops_weight`` ``w``, blends the network at ``1 - w`` with FLOPs at ``w``.

        Examples:
            >>> old = Predictor(PredictorNet(), {"zero_shot_flops_weight": 0.75})
            >>> old.zero_shot_blend["weights"]
            {'network': 0.25, 'flops': 0.75}
        """
        alone = {"network": 1.0}
        blend = self.metadata.get("zero_shot_blend")
        if self.metadata.get("fine_tuned") or not (
            blend or self.metadata.get("zero_shot_flops_weight")
        ):
            return {"weights": alone, "graphs_only": alone}
        if blend:
            return {
                k: {n: float(w) for n, w in blend[k].items()} for k in ("weights", "graphs_only")
            }
        w = float(self.metadata["zero_shot_flops_weight"])
        flops = {"network": 1.0 - w, "flops": w}
        return {"weights": flops, "graphs_only": dict(flops)}

    def score(
        self,
        items: Sequence[Item] | GraphSet,
        *,
        input_shape: Sequence[int] | None = None,
        proxy_scores: Mapping[str, npt.ArrayLike] | None = None,
    ) -> npt.NDArray[np.float64]:
        """What ``rank`` orders by: ``predict``'s scores in the zero-shot blend (see the module).

        ``flops`` and ``params`` come from the graphs; a live proxy the blend weighs comes from
        ``proxy_scores`` (``{name: one value per item}``) or is computed on each item's module
        (modules: at their current weights; ``(family, key)`` pairs: the family's module, seeded
        as the protocol's live proxies are). When some item has no module and ``proxy_scores``
        lacks the proxy, the blend is ``graphs_only``.

        Raises:
            InvalidArgumentError: a blend over a ``GraphSet`` packed without graph features, or
                ``proxy_scores`` of another length than ``items``.
        """
        gs = self.graphs(items, input_shape)
        weights = self.blend_for(items, proxy_scores)
        scores = self.predict(gs)
        if weights == {"network": 1.0}:
            return scores
        columns: dict[str, npt.ArrayLike] = {
            "network": scores,
            "flops": gs.graph_feature("log_flops"),
            "params": gs.graph_feature("log_params"),
            **(proxy_scores or {}),
        }
        live = [name for name in weights if name not in columns]
        if live:
            assert not isinstance(items, GraphSet)  # blend_for: graphs_only then
            columns.update(live_proxy_scores(_as_list(items), live, input_shape, self.device))
        return rank_blend(columns, _without_failed(weights, columns))

    def blend_for(
        self,
        items: Sequence[Item] | Item | GraphSet,
        proxy_scores: Mapping[str, npt.ArrayLike] | None = None,
    ) -> dict[str, float]:
        """The weights ``score`` uses for ``items``: ``weights``, or ``graphs_only`` (see there)."""
        blend = self.zero_shot_blend
        live = [n for n in blend["weights"] if n not in ("network", "flops", "params")]
        given = set(proxy_scores or ())
        if all(n in given for n in live):
            return blend["weights"]
        if isinstance(items, GraphSet) or any(_module_free(i) for i in _as_list(items)):
            return blend["graphs_only"]
        return blend["weights"]

    def rank(
        self,
        items: Sequence[Item] | GraphSet,
        *,
        input_shape: Sequence[int] | None = None,
        proxy_scores: Mapping[str, npt.ArrayLike] | None = None,
    ) -> list[int]:
        """Indices of ``items``, best first by ``score`` (ties keep input order)."""
        scores = self.score(items, input_shape=input_shape, proxy_scores=proxy_scores)
        return [int(i) for i in np.argsort(-scores, kind="stable")]

    def fine_tune(
        self,
        items: Sequence[Item] | GraphSet,
        labels: npt.ArrayLike,
        *,
        family: str | None = None,
        mode: str = FINE_TUNE_MODE,
        epochs: int = FINE_TUNE_EPOCHS,
        loss: str = DEFAULT_LOSS,
        input_shape: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> Predictor:
        """Adapt the network to a target family in place (see ``training.fine_tune``).

        The defaults are the protocol's fine-tuning, chosen on source families only: the
        whole network (``mode="head"`` trains the head alone), 100 epochs, MSE plus the
        ranking term.

        ``metadata["fine_tuned"]`` records each fine-tuning, with ``family``, the family
        whose labels these are: the leak guard (``cg_predict.evaluate.labelled_families``)
        reads it, so a checkpoint saved from this predictor never ranks that family in a
        transfer measurement, and one fine-tuned without ``family`` ranks none (its labels
        cannot be checked).
        """
        gs = self.graphs(items, input_shape)
        result = fine_tune(
            self.model,
            gs,
            labels,
            mode=mode,
            epochs=epochs,
            loss=loss,
            device=self.device,
            **kwargs,
        )
        self.metadata.setdefault("fine_tuned", []).append(
            {
                "mode": mode,
                "family": family,
                "labels": len(gs),
                "target_stats": result.to_dict()["target_stats"],
            }
        )
        self.model.eval()
        return self

    def __repr__(self) -> str:
        method = self.metadata.get("method", "?")
        return f"Predictor(method={method!r}, device={str(self.device)!r})"
