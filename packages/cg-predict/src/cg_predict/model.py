"""The predictor network: an encoder followed by an MLP head (optionally with graph features).

See :class:`~cg_predict.encoder.Encoder` and :class:`~cg_predict.head.Head`.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from cg_predict.encoder import Encoder, EncoderConfig
from cg_predict.errors import InvalidArgumentError
from cg_predict.head import Head, HeadConfig

__all__ = ["PredictorNet"]


class PredictorNet(nn.Module):
    """Encoder + MLP head; ``forward(batch)`` gives one score per graph, ``[num_graphs]``.

    Scores are in units of the training targets, i.e. per-family standardised accuracies
    (see ``cg_predict.training.fit``): compare them within a family, not across families.

    Examples:
        >>> net = PredictorNet(EncoderConfig(dim=16, op_dim=8), HeadConfig(hidden=(16,)))
        >>> net.head.config.in_dim  # the head reads the encoder's width
        16
        >>> PredictorNet.from_config(net.config()).config() == net.config()
        True
    """

    def __init__(
        self, encoder: EncoderConfig | Encoder | None = None, head: HeadConfig | None = None
    ) -> None:
        super().__init__()
        self.encoder = encoder if isinstance(encoder, Encoder) else Encoder(encoder)
        head = head or HeadConfig()
        if head.in_dim != self.encoder.dim:
            head = HeadConfig(**{**head.to_dict(), "in_dim": self.encoder.dim})
        self.head = Head(head)

    def config(self) -> dict[str, Any]:
        """JSON-able configuration: ``{"encoder": {...}, "head": {...}}``."""
        return {"encoder": self.encoder.config.to_dict(), "head": self.head.config.to_dict()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PredictorNet:
        """A freshly initialised network of the configuration ``config()`` returned."""
        if not isinstance(config, dict) or set(config) != {"encoder", "head"}:
            raise InvalidArgumentError(
                f"a predictor config is {{'encoder': {{...}}, 'head': {{...}}}}, got {config!r}"
            )
        return cls(EncoderConfig.from_dict(config["encoder"]), HeadConfig.from_dict(config["head"]))

    def forward(self, batch: Any) -> Tensor:
        """One score per graph of ``batch``, ``[num_graphs]``.

        A head with ``graph_features`` reads ``batch.graph_x`` (``GraphSet.batch`` sets it).
        """
        # a batch without graph_x (PyG's own collation of ``cg.to_pyg()``) still serves a head
        # without graph features; one that needs them says so
        out: Tensor = self.head(self.encoder.embed(batch), getattr(batch, "graph_x", None))
        return out
