from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import torch

from cg_contrast import cli as contrast_cli
from cg_contrast.pools import unlabeled_pool
from cg_contrast.pretrain import METHODS, PRETRAIN_CODE, PretrainConfig, _identity
from cg_ir.cli import build_parser, main
from cg_ir.provenance import code_digest
from cg_predict.checkpoint import load_encoder

# a tiny run: 40 graphs of two families, one epoch
TINY = ["--method", "dropout", "--families", "nb201,nb301", "--pool-size", "40", "--epochs", "1"]
TINY += ["--batch-size", "16", "--seed", "3"]


def test_entry_point_is_declared() -> None:
    points = {ep.name: ep.value for ep in entry_points(group="cgnas.commands")}
    assert points["pretrain"] == "cg_contrast.cli:register_pretrain"


def test_method_choices_are_the_loops() -> None:
    assert contrast_cli._METHODS == METHODS


def test_pretrain_writes_a_cg_predict_encoder_checkpoint(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "enc.pt"
    status = main(["pretrain", *TINY, "-o", str(out), "--no-progress"])
    assert status == 0 and "wrote" in capsys.readouterr().out
    loaded = load_encoder(out)
    assert loaded.metadata["pretraining_method"] == "cl-dropout"
    assert loaded.metadata["families"] == ["nb201", "nb301"]
    assert loaded.metadata["labels_used"] is False
    assert not (tmp_path / "enc.pt.state").exists()


def test_progress_options() -> None:
    parser = build_parser("pretrain")
    base = ["pretrain", "--out", "e.pt"]
    assert parser.parse_args(base).progress is True
    assert parser.parse_args([*base, "--no-progress"]).progress is False
    assert parser.parse_args([*base, "--quiet"]).progress is False  # the older spelling


def test_bad_family_is_one_line_error(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    status = main(["pretrain", "--families", "nb201,bogus", "--out", str(tmp_path / "e.pt")])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("cgnas: error: ") and err.count("\n") == 1 and "bogus" in err


def test_bad_method_is_a_usage_error(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["pretrain", "--method", "magic", "--out", str(tmp_path / "e.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cgnas pretrain: error: ") and err.count("\n") == 1
    assert "invalid choice: 'magic'" in err
    assert list(tmp_path.iterdir()) == []


def _damaged_parts() -> dict[str, object]:
    """A state of the tiny run's format, settings and code whose weights are missing."""
    config = PretrainConfig(method="dropout", epochs=1, batch_size=16, seed=3)
    pool = unlabeled_pool(["nb201", "nb301"], 40, seed=3, workers=1, progress=False)
    return {
        "format": "cg-contrast/pretrain-state",
        "identity": _identity(config, pool),
        "epoch": 1,
        "code": code_digest(*PRETRAIN_CODE),
        "history": "[]",
    }


@pytest.mark.parametrize("damage", ["truncated", "parts"])
def test_a_damaged_resume_state_is_one_line_error(tmp_path, monkeypatch, capsys, damage) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CGNAS_TRACEBACK", raising=False)
    out, state = tmp_path / "enc.pt", tmp_path / "enc.pt.state"
    if damage == "truncated":
        state.write_bytes(b"PK\x03\x04 cut short by a crash")
    else:
        torch.save(_damaged_parts(), state)
    status = main(["pretrain", *TINY, "--out", str(out), "--resume", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith("cgnas: error: ") and err.count("\n") == 1, err
    assert str(state) in err and "delete it to start afresh" in err
    assert "Traceback" not in err and "CGNAS_TRACEBACK" not in err  # an expected error
    assert not out.exists()
