"""One small use of an installed cg-nas package, with no benchmark data: the wheels' smoke test.

``tools/check_wheels.sh`` runs it in each package's fresh venv (the package's wheel, its
declared siblings and torch, nothing else), from a directory outside the source tree, after
importing the package; it checks what an import cannot: that the wheel's data files (cg-ir's
vocabulary, cg-predict's shipped checkpoint) are installed and the package's main path works.

Usage: python tools/wheel_smoke.py cg_ir|cg_predict|cg_contrast|cg_evo
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np


def _tiny_cnn():  # type: ignore[no-untyped-def]
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )


def smoke_cg_ir() -> str:
    """A benchmark cell through the fast path and a module through torch.fx."""
    from cg_ir import families, from_module

    nb201 = families.get("nb201")
    graph = nb201.to_cg(nb201.sample(np.random.default_rng(0)))
    net = _tiny_cnn()
    traced = from_module(net, (1, 3, 32, 32))
    assert traced.params == sum(p.numel() for p in net.parameters()), traced.params
    return f"nb201 cell: {graph.num_nodes} nodes; a CNN traced: {traced.num_nodes} nodes"


def smoke_cg_predict() -> str:
    """The shipped checkpoint scores two networks."""
    from cg_ir import from_module
    from cg_predict import Predictor

    graphs = [from_module(_tiny_cnn(), (1, 3, 32, 32)) for _ in range(2)]
    scores = Predictor.default().predict(graphs)
    assert np.isfinite(scores).all(), scores
    return f"shipped predictor scores: {np.round(scores, 3).tolist()}"


def smoke_cg_contrast() -> str:
    """Spectral features, the similarity contrastive pretraining uses, of two cells."""
    from cg_contrast.spectral import spectral_features
    from cg_ir import families
    from cg_predict.graphs import GraphSet

    nb201 = families.get("nb201")
    rng = np.random.default_rng(0)
    graphs = GraphSet.from_graphs([nb201.to_cg(nb201.sample(rng)) for _ in range(2)])
    features = spectral_features(graphs, workers=1, progress=False)
    assert features.shape[0] == 2 and np.isfinite(features).all(), features
    return f"spectral features: shape {features.shape}"


def smoke_cg_evo() -> str:
    """A predicted-score search of the ResNet space with the shipped checkpoint (no labels)."""
    from importlib import resources

    from cg_evo import search_predicted
    from cg_predict.predictor import DEFAULT_CHECKPOINT

    checkpoint = resources.files("cg_predict").joinpath(DEFAULT_CHECKPOINT)
    found = search_predicted(
        "resnet", evaluations=40, seeds=1, checkpoint=checkpoint, progress=False
    )
    return f"predicted-score search: {len(found['runs'])} run, best {found['best']['key']}"


SMOKE: dict[str, Callable[[], str]] = {
    "cg_ir": smoke_cg_ir,
    "cg_predict": smoke_cg_predict,
    "cg_contrast": smoke_cg_contrast,
    "cg_evo": smoke_cg_evo,
}


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in SMOKE:
        raise SystemExit(f"usage: python tools/wheel_smoke.py {'|'.join(SMOKE)}")
    print(f"[wheels] {sys.argv[1]} smoke: {SMOKE[sys.argv[1]]()}")
