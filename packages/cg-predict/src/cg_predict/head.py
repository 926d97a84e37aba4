"""The regression head: an MLP from a graph embedding to one score."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from torch import Tensor, nn

from cg_predict.encoder import ACTIVATIONS
from cg_predict.errors import InvalidArgumentError

__all__ = ["Head", "HeadConfig"]


@dataclass(frozen=True)
class HeadConfig:
    """Shape of the MLP head (saved in checkpoints).

    Attributes:
        in_dim: width of the graph embedding it reads (the encoder's ``dim``).
        hidden: widths of the hidden layers (the paper's k-GNN baseline uses four of 32).
        activation: ``"relu"`` or ``"tanh"`` between hidden layers.
        dropout: dropout after every hidden activation (0 disables it).

    Examples:
        >>> HeadConfig(in_dim=32, hidden=(64, 32)).hidden
        (64, 32)
    """

    in_dim: int = 32
    hidden: tuple[int, ...] = (32, 32)
    activation: str = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
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
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeadConfig:
        """Rebuild from ``to_dict``; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgumentError(
                f"unknown head config keys {unknown}; valid: {sorted(known)}"
            )
        return cls(**data)


class Head(nn.Module):
    """MLP regressor: ``[batch, in_dim] -> [batch]``.

    Examples:
        >>> import torch
        >>> Head(HeadConfig(in_dim=8, hidden=(4,)))(torch.zeros(3, 8)).shape
        torch.Size([3])
    """

    def __init__(self, config: HeadConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or HeadConfig()
        layers: list[nn.Module] = []
        width = config.in_dim
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), ACTIVATIONS[config.activation]()]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, embedding: Tensor) -> Tensor:
        """One score per row of ``embedding``."""
        out: Tensor = self.mlp(embedding).squeeze(-1)
        return out
