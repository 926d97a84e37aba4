"""The user API: load a trained predictor and score or rank architectures.

What a score means: a **within-family rank score**. The network is trained on accuracies
standardised per family (z-scores), so a score says how an architecture compares with others
of the same family (higher = predicted better; about 0 = the family's average, 1 = one
standard deviation above). It is not an accuracy, and scores of different families (or of
unrelated hand-written modules) are not comparable on an absolute scale. Use ``rank`` or
correlations within one family.

Before it is fine-tuned on a family, a predictor whose checkpoint records a
``zero_shot_flops_weight`` (the shipped default does) ranks by ``score``: its scores blended
with the FLOPs ranking of the items scored together (``cg_predict.ranking.flops_blend``), the
zero-shot ranking that did best on families held out of training
(``tools/select_zero_shot.py``). ``predict`` is always the network alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from cg_ir import ComputationGraph
from cg_predict.checkpoint import load_checkpoint
from cg_predict.errors import CheckpointError, InvalidArgumentError
from cg_predict.graphs import GraphSet
from cg_predict.model import PredictorNet
from cg_predict.ranking import flops_blend
from cg_predict.training import (
    DEFAULT_LOSS,
    FINE_TUNE_EPOCHS,
    FINE_TUNE_MODE,
    fine_tune,
    predict,
)

__all__ = ["DEFAULT_CHECKPOINT", "Item", "Predictor"]

DEFAULT_CHECKPOINT = "checkpoints/default.pt"
"""Path of the shipped default checkpoint inside the ``cg_predict`` package."""

Item = ComputationGraph | torch.nn.Module | tuple[str, str]
"""What can be scored: a graph, a PyTorch module (with ``input_shape``) or ``(family, key)``."""


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
        resource = resources.files("cg_predict").joinpath(DEFAULT_CHECKPOINT)
        if not resource.is_file():
            raise CheckpointError(
                f"the default checkpoint cg_predict/{DEFAULT_CHECKPOINT} is not installed; build "
                "it with `python tools/train_default_checkpoint.py` in the cg-nas repository",
                str(resource),
            )
        with resources.as_file(resource) as path:
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
    def zero_shot_flops_weight(self) -> float:
        """The FLOPs weight of ``score``: the checkpoint's, until fine-tuned (then 0)."""
        if self.metadata.get("fine_tuned"):
            return 0.0
        return float(self.metadata.get("zero_shot_flops_weight", 0.0))

    def score(
        self, items: Sequence[Item] | GraphSet, *, input_shape: Sequence[int] | None = None
    ) -> npt.NDArray[np.float64]:
        """What ``rank`` orders by: ``predict``'s scores blended with the FLOPs ranking.

        With ``zero_shot_flops_weight`` 0 (a fine-tuned predictor, or a checkpoint without
        one) these are ``predict``'s scores; otherwise ``flops_blend`` of them and the items'
        FLOPs, z-scored ranks relative to the items scored together.

        Raises:
            InvalidArgumentError: a blend over a ``GraphSet`` packed without graph features.
        """
        gs = self.graphs(items, input_shape)
        scores = self.predict(gs)
        weight = self.zero_shot_flops_weight
        if weight == 0:
            return scores
        return flops_blend(scores, gs.graph_feature("log_flops"), weight)

    def rank(
        self, items: Sequence[Item] | GraphSet, *, input_shape: Sequence[int] | None = None
    ) -> list[int]:
        """Indices of ``items``, best first by ``score`` (ties keep input order)."""
        scores = self.score(items, input_shape=input_shape)
        return [int(i) for i in np.argsort(-scores, kind="stable")]

    def fine_tune(
        self,
        items: Sequence[Item] | GraphSet,
        labels: npt.ArrayLike,
        *,
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
                "labels": len(gs),
                "target_stats": result.to_dict()["target_stats"],
            }
        )
        self.model.eval()
        return self

    def __repr__(self) -> str:
        method = self.metadata.get("method", "?")
        return f"Predictor(method={method!r}, device={str(self.device)!r})"
