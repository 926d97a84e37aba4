"""The regression head: an MLP from a graph embedding (and graph cost features) to one score."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

from cg_predict.encoder import ACTIVATIONS
from cg_predict.errors import InvalidArgumentError
from cg_predict.graphs import GRAPH_FEATURE_SCALINGS, GRAPH_FEATURES, graph_feature_column

__all__ = ["Head", "HeadConfig"]


@dataclass(frozen=True)
class HeadConfig:
    """Shape of the MLP head (saved in checkpoints).

    Attributes:
        in_dim: width of the graph embedding it reads (the encoder's ``dim``).
        hidden: widths of the hidden layers (the paper's k-GNN baseline uses four of 32).
        activation: ``"relu"`` or ``"tanh"`` between hidden layers.
        dropout: dropout after every hidden activation (0 disables it).
        graph_features: graph-level cost features (names of
            ``cg_predict.graphs.GRAPH_FEATURES``: ``"log_flops"``, ``"log_params"``,
            ``"depth"``, ``"log_nodes"``) the head reads beside the embedding, in this order,
            so that it can fall back on cost where the graph structure does not transfer.
            ``()`` (the default) reads the embedding alone.
        graph_feature_scaling: which scaling of the graph features the head reads
            (``cg_predict.graphs.GRAPH_FEATURE_SCALINGS``): ``"fixed"`` (the default), the
            absolute costs with a scaling common to all families; ``"set"``, the costs
            standardised within the set each graph was packed in (``GraphSet.graph_x``
            documents where: per family for sets built per family and then concatenated,
            the whole set's statistics for a subset). With ``"set"`` a prediction depends on
            the other graphs packed with it: score the graphs to be ranked as one set, not
            one at a time (a lone graph's set-scaled features are all 0).

    Examples:
        >>> HeadConfig(in_dim=32, hidden=(64, 32)).hidden
        (64, 32)
        >>> HeadConfig(graph_features=["log_flops", "depth"]).graph_features
        ('log_flops', 'depth')
        >>> config = HeadConfig(graph_features=("depth",), graph_feature_scaling="set")
        >>> config.to_dict()["graph_feature_scaling"]
        'set'
    """

    in_dim: int = 32
    hidden: tuple[int, ...] = (32, 32)
    activation: str = "relu"
    dropout: float = 0.0
    graph_features: tuple[str, ...] = ()
    graph_feature_scaling: str = "fixed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "graph_features", tuple(self.graph_features))
        unknown = [name for name in self.graph_features if name not in GRAPH_FEATURES]
        if unknown:
            raise InvalidArgumentError(
                f"graph_features {unknown} are not valid; choose among {GRAPH_FEATURES}"
            )
        if self.graph_feature_scaling not in GRAPH_FEATURE_SCALINGS:
            raise InvalidArgumentError(
                f"graph_feature_scaling={self.graph_feature_scaling!r} is not valid; choose one "
                f"of {GRAPH_FEATURE_SCALINGS}"
            )
        if self.activation not in ACTIVATIONS:
            raise InvalidArgumentError(
                f"activation={self.activation!r} is not valid; choose one of {tuple(ACTIVATIONS)}"
            )
        if self.in_dim < 1 or any(h < 1 for h in self.hidden):
            raise InvalidArgumentError(
                f"layer widths must be positive: {self.in_dim}, {self.hidden}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidArgumentError(f"dropout={self.dropout} must lie in [0, 1)")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        data = asdict(self)
        data["hidden"] = list(self.hidden)  # JSON has no tuples
        data["graph_features"] = list(self.graph_features)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeadConfig:
        """Rebuild from ``to_dict``; unknown keys are an error, missing ones take defaults.

        A dict saved before ``graph_features`` existed loads with ``graph_features=()``, one
        saved before ``graph_feature_scaling`` existed with ``graph_feature_scaling="fixed"``
        (the only scaling there was).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgumentError(
                f"unknown head config keys {unknown}; valid: {sorted(known)}"
            )
        return cls(**data)


class Head(nn.Module):
    """MLP regressor: ``[batch, in_dim] -> [batch]``, with the configured graph features.

    Its input is the embedding concatenated with the ``config.graph_features`` columns of
    ``graph_x`` with the ``config.graph_feature_scaling`` (``GraphSet.batch``'s
    ``[batch, 2 * len(GRAPH_FEATURES)]`` table; ``graph_feature_column``).

    Examples:
        >>> import torch
        >>> Head(HeadConfig(in_dim=8, hidden=(4,)))(torch.zeros(3, 8)).shape
        torch.Size([3])
        >>> head = Head(HeadConfig(in_dim=8, hidden=(4,), graph_features=("depth",)))
        >>> head(torch.zeros(3, 8), torch.zeros(3, 8)).shape
        torch.Size([3])
    """

    def __init__(self, config: HeadConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or HeadConfig()
        # column indices into graph_x, a plain list: no buffer, so the state dict is unchanged
        self.columns = [
            graph_feature_column(name, config.graph_feature_scaling)
            for name in config.graph_features
        ]
        layers: list[nn.Module] = []
        width = config.in_dim + len(self.columns)
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), ACTIVATIONS[config.activation]()]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, embedding: Tensor, graph_x: Tensor | None = None) -> Tensor:
        """One score per row of ``embedding``; ``graph_x`` is needed with graph features.

        Raises:
            InvalidArgumentError: the head reads graph features and ``graph_x`` is None.
        """
        if self.columns:
            if graph_x is None:
                raise InvalidArgumentError(
                    f"this head reads graph features {self.config.graph_features}: pass "
                    "graph_x (batches of cg_predict.graphs.GraphSet.batch carry it)"
                )
            embedding = torch.cat([embedding, graph_x[:, self.columns]], dim=-1)
        out: Tensor = self.mlp(embedding).squeeze(-1)
        return out
