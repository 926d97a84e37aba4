"""cg-predict."""

__version__ = "0.1.0"

__all__: list[str] = []

# benchmark data, metrics and errors
from cg_predict import data, metrics  # noqa: E402
from cg_predict.errors import (  # noqa: E402
    BenchmarkDataError,
    CgPredictError,
    InvalidArgumentError,
    InvalidLabelError,
    MalformedDataError,
    MetricInputError,
    UnknownBenchmarkError,
)

__all__ += [
    "data",
    "metrics",
    "CgPredictError",
    "BenchmarkDataError",
    "MalformedDataError",
    "InvalidLabelError",
    "InvalidArgumentError",
    "UnknownBenchmarkError",
    "MetricInputError",
]
