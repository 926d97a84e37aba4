"""cg-contrast's experiments for ``cgnas reproduce`` (entry-point group ``cgnas.experiments``).

- ``contrast-ablation`` (``cg_contrast.experiments.ablation``): contrastive pretraining of the
  encoder against the supervised control, on every labelled target, and the embedding space.
- ``contrast-speed`` (``cg_contrast.experiments.speed``): what pretraining at scale costs.
"""

from cg_contrast.experiments.ablation import CONTRAST_ABLATION, FROZEN_TARGET
from cg_contrast.experiments.speed import CONTRAST_SPEED

__all__ = ["CONTRAST_ABLATION", "CONTRAST_SPEED", "FROZEN_TARGET"]
