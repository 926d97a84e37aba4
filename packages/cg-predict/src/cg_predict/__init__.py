"""cg-predict: benchmark data, a transferable GNN accuracy predictor, proxies and evaluation."""

from cg_predict import data, metrics, proxies
from cg_predict.checkpoint import load_checkpoint, load_encoder, save_checkpoint, save_encoder
from cg_predict.encoder import Encoder, EncoderConfig
from cg_predict.errors import (
    BenchmarkDataError,
    CgPredictError,
    CheckpointError,
    InvalidArgumentError,
    InvalidLabelError,
    MalformedDataError,
    MetricInputError,
    UnknownBenchmarkError,
)
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
    "CgPredictError",
    "BenchmarkDataError",
    "CheckpointError",
    "MalformedDataError",
    "InvalidLabelError",
    "InvalidArgumentError",
    "UnknownBenchmarkError",
    "MetricInputError",
]
