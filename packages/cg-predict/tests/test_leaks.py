"""Leak guards: a checkpoint or encoder that saw the target's labels never ranks the target.

``Predictor.default()``'s checkpoint was trained on every family's labels, so it is refused
for any of them, in ``cgnas evaluate --encoder`` and as the starting model of a cg-evo search.
No benchmark data needed.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from cg_predict.checkpoint import load_checkpoint, load_encoder, save_checkpoint, save_encoder
from cg_predict.encoder import Encoder, EncoderConfig
from cg_predict.errors import CgPredictError
from cg_predict.evaluate import (
    TargetLeakError,
    check_model_not_trained_on,
    labelled_families,
)
from cg_predict.model import PredictorNet
from cg_predict.predictor import Predictor

FAMILIES = ("nb101", "nb201", "nb301", "ofa-mbv3")


@pytest.fixture(scope="module")
def default_checkpoint() -> Iterator[Path]:
    resource = importlib.resources.files("cg_predict") / "checkpoints" / "default.pt"
    with importlib.resources.as_file(resource) as path:
        yield Path(path)


def _tiny_encoder(path: Path, metadata: dict[str, object]) -> None:
    save_encoder(path, Encoder(EncoderConfig(dim=16, op_dim=8, num_layers=2)), metadata)


def test_the_default_checkpoint_saw_every_family(default_checkpoint) -> None:
    metadata = load_checkpoint(default_checkpoint).metadata
    families = labelled_families(metadata)
    assert families is not None and families >= set(FAMILIES)
    for family in FAMILIES:
        with pytest.raises(TargetLeakError, match=f"trained on labels of {family}") as info:
            check_model_not_trained_on(metadata, family, "the default checkpoint")
        assert "the default checkpoint" in str(info.value)
    assert issubclass(TargetLeakError, CgPredictError) and issubclass(TargetLeakError, RuntimeError)


def test_the_default_checkpoint_is_refused_as_an_encoder_too(default_checkpoint) -> None:
    # an encoder read out of a predictor checkpoint carries the checkpoint's metadata
    metadata = load_encoder(default_checkpoint).metadata
    with pytest.raises(TargetLeakError, match="nb201"):
        check_model_not_trained_on(metadata, "nb201", "encoder")


@pytest.mark.parametrize(
    ("metadata", "families"),
    [
        ({"trained_on": ["nb101/cifar10", "nb301/cifar10"]}, {"nb101", "nb301"}),
        ({"trained_on": [{"family": "ofa-mbv3", "dataset": "imagenet"}]}, {"ofa-mbv3"}),
        ({"target_stats": {"nb201/cifar100": [1.0, 2.0], "target": [0.0, 1.0]}}, {"nb201"}),
        ({"trained_on": []}, set()),  # says it saw no labels
        # labels added later by Predictor.fine_tune, which records their family
        (
            {"trained_on": ["nb101/cifar10"], "fine_tuned": [{"family": "nb201"}]},
            {"nb101", "nb201"},
        ),
        ({"labels_used": False, "fine_tuned": [{"family": "nb301"}]}, {"nb301"}),
        ({"trained_on": ["nb101/cifar10"], "fine_tuned": [{"mode": "full"}]}, None),  # whose?
        ({"pretraining_method": "augment", "labels_used": False}, set()),
        ({}, None),  # does not say
        ({"method": "gnn", "pretraining_method": None}, None),
    ],
)
def test_labelled_families(metadata, families) -> None:
    assert labelled_families(metadata) == families


def test_a_label_free_encoder_passes(tmp_path) -> None:
    path = tmp_path / "enc.pt"
    _tiny_encoder(path, {"pretraining_method": "augment", "labels_used": False})
    metadata = load_encoder(path).metadata
    for family in FAMILIES:
        check_model_not_trained_on(metadata, family, "enc.pt")  # no error
    check_model_not_trained_on({"trained_on": ["nb101/cifar10"]}, "nb201", "m.pt")


def test_a_checkpoint_fine_tuned_on_the_target_is_refused(tmp_path, toy_data) -> None:
    graphs, labels = toy_data(8)

    def saved(family: str | None) -> dict[str, object]:
        torch.manual_seed(0)
        net = PredictorNet(EncoderConfig(dim=16, op_dim=8, num_layers=2))
        tuned = Predictor(net, {"trained_on": ["nb101/cifar10"]})  # sources: no nb201 label
        tuned.fine_tune(graphs, labels, family=family, epochs=1)
        save_checkpoint(tmp_path / "tuned.pt", tuned.model, tuned.metadata)
        return load_checkpoint(tmp_path / "tuned.pt").metadata

    on_nb201 = saved("nb201")
    with pytest.raises(TargetLeakError, match="trained on labels of nb201"):
        check_model_not_trained_on(on_nb201, "nb201", "tuned.pt")
    check_model_not_trained_on(on_nb201, "nb301", "tuned.pt")  # another target: accepted
    with pytest.raises(TargetLeakError, match="without its 'family'"):  # whose labels?
        check_model_not_trained_on(saved(None), "nb301", "tuned.pt")


def test_metadata_that_does_not_say_is_refused() -> None:
    with pytest.raises(TargetLeakError, match="does not say which labelled data") as info:
        check_model_not_trained_on({}, "nb201", "m.pt")
    assert "m.pt" in str(info.value) and "nb201" in str(info.value)


def test_an_encoder_that_used_labels_without_saying_which_is_refused() -> None:
    # labels_used: true and no trained_on/target_stats: its labels cannot be checked
    metadata = {"pretraining_method": "spectral-supcon", "labels_used": True}
    with pytest.raises(TargetLeakError, match="does not say"):
        check_model_not_trained_on(metadata, "nb201", "supcon.pt")


def test_a_search_refuses_the_default_checkpoint(default_checkpoint) -> None:
    from cg_evo.surrogate import source_predictor

    with pytest.raises(TargetLeakError, match="nb201") as info:
        source_predictor("nb201", checkpoint=default_checkpoint, progress=False)
    assert str(default_checkpoint) in str(info.value)


def test_evaluate_refuses_the_default_checkpoint_as_encoder(
    tmp_path, capsys, monkeypatch, default_checkpoint
) -> None:
    import cg_predict.evaluate._protocol as protocol
    from cg_ir.cli import main

    def accepted(*args, **kwargs):
        raise AssertionError("the leaking encoder was accepted: source cells are being loaded")

    monkeypatch.setattr(protocol, "source_cells", accepted)  # fail fast, not a whole run
    monkeypatch.chdir(tmp_path)
    argv = ["evaluate", "--target", "nb201", "--encoder", str(default_checkpoint)]
    status = main([*argv, "--quick", "--seeds", "1", "--out", "r.json"])
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert err.startswith("cgnas: error:") and "\n" not in err
    assert "nb201" in err and str(default_checkpoint) in err
    assert not (tmp_path / "r.json").exists()
    assert list(tmp_path.iterdir()) == []
