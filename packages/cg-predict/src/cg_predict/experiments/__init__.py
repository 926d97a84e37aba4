"""cg-predict's experiments for ``cgnas reproduce`` (entry-point group ``cgnas.experiments``).

- ``proxy-agreement`` (``cg_predict.experiments.agreement``): the live proxies against
  NAS-Bench-Suite-Zero's and against accuracy, per cell and per isomorphism class.
- ``transfer`` (``cg_predict.experiments.transfer``): the leave-one-family-out transfer tables.
- ``default-checkpoint`` (``cg_predict.experiments.default_checkpoint``): the shipped default
  checkpoint, trained reproducibly, and its zero-shot ranking of families it never saw.
- ``inference-speed`` (``cg_predict.experiments.speed``): how fast the shipped predictor scores
  graphs.
"""

from cg_predict.experiments.agreement import PROXY_AGREEMENT
from cg_predict.experiments.default_checkpoint import DEFAULT_CHECKPOINT
from cg_predict.experiments.speed import INFERENCE_SPEED
from cg_predict.experiments.transfer import TRANSFER

__all__ = ["DEFAULT_CHECKPOINT", "INFERENCE_SPEED", "PROXY_AGREEMENT", "TRANSFER"]
