"""cg-contrast: contrastive pretraining of cg-predict encoders on unlabeled computation graphs.

Submodules (imported on use; ``import cg_contrast`` stays cheap): ``spectral``, ``retrieval``,
``loss``, ``augment``, ``pools``, ``pretrain``, ``pipeline``, ``ablation``, ``cli``,
``errors``.
"""

from cg_contrast.errors import (
    CgContrastError,
    InvalidArgumentError,
    PretrainCheckpointError,
    StaleResultError,
)

__version__ = "0.1.0"

__all__ = [
    "CgContrastError",
    "InvalidArgumentError",
    "PretrainCheckpointError",
    "StaleResultError",
    "__version__",
]
