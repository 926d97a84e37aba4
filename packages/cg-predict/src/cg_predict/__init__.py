"""cg-predict: benchmark data, a transferable GNN accuracy predictor, proxies and evaluation.

Importing ``cg_predict`` is cheap: the public names below are imported on first use (module
``__getattr__``), so ``cgnas --help`` and the error classes do not pull in torch and
torch-geometric; ``from cg_predict import Predictor`` imports the predictor's modules then.

Examples:
    >>> import cg_predict
    >>> issubclass(cg_predict.InvalidArgumentError, ValueError)
    True
    >>> cg_predict.Predictor.__name__
    'Predictor'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cg_ir.lazy import lazy_attributes
from cg_predict.errors import (
    BenchmarkDataError,
    CgPredictError,
    CheckpointError,
    InvalidArgumentError,
    InvalidLabelError,
    MalformedDataError,
    MetricInputError,
    ProxyCacheError,
    ProxyComputationError,
    StaleResultError,
    TargetLeakError,
    UnknownArchitectureError,
    UnknownBenchmarkError,
    UnknownProxyError,
)

if TYPE_CHECKING:  # the same names, for type checkers (at run time they come from _LAZY)
    from cg_predict import data, metrics, proxies
    from cg_predict.checkpoint import load_checkpoint, load_encoder, save_checkpoint, save_encoder
    from cg_predict.encoder import Encoder, EncoderConfig
    from cg_predict.graphs import GraphSet, family_graphs
    from cg_predict.head import HeadConfig
    from cg_predict.model import PredictorNet
    from cg_predict.predictor import Predictor
    from cg_predict.training import fine_tune, fit

__version__ = "0.1.0"

__all__ = [
    # modules
    "data",
    "metrics",
    "proxies",
    # predictor
    "Predictor",
    "PredictorNet",
    "Encoder",
    "EncoderConfig",
    "HeadConfig",
    "GraphSet",
    "family_graphs",
    "fit",
    "fine_tune",
    "save_checkpoint",
    "load_checkpoint",
    "save_encoder",
    "load_encoder",
    # errors
    "BenchmarkDataError",
    "CgPredictError",
    "CheckpointError",
    "InvalidArgumentError",
    "InvalidLabelError",
    "MalformedDataError",
    "MetricInputError",
    "ProxyCacheError",
    "ProxyComputationError",
    "StaleResultError",
    "TargetLeakError",
    "UnknownArchitectureError",
    "UnknownBenchmarkError",
    "UnknownProxyError",
]

# public name -> the module defining it (a submodule itself where the name is the module's)
_LAZY = {
    "data": "cg_predict.data",
    "metrics": "cg_predict.metrics",
    "proxies": "cg_predict.proxies",
    "Predictor": "cg_predict.predictor",
    "PredictorNet": "cg_predict.model",
    "Encoder": "cg_predict.encoder",
    "EncoderConfig": "cg_predict.encoder",
    "HeadConfig": "cg_predict.head",
    "GraphSet": "cg_predict.graphs",
    "family_graphs": "cg_predict.graphs",
    "fit": "cg_predict.training",
    "fine_tune": "cg_predict.training",
    "save_checkpoint": "cg_predict.checkpoint",
    "load_checkpoint": "cg_predict.checkpoint",
    "save_encoder": "cg_predict.checkpoint",
    "load_encoder": "cg_predict.checkpoint",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
