from __future__ import annotations

from importlib.metadata import entry_points

from cg_ir.cli import main
from cg_predict.checkpoint import load_encoder


def test_entry_point_is_declared() -> None:
    points = {ep.name: ep.value for ep in entry_points(group="cgnas.commands")}
    assert points["pretrain"] == "cg_contrast.cli:register_pretrain"


def test_pretrain_writes_a_cg_predict_encoder_checkpoint(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "enc.pt"
    status = main(
        [
            "pretrain",
            "--method",
            "dropout",
            "--families",
            "nb201,nb301",
            "--pool-size",
            "40",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--seed",
            "3",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert status == 0 and "wrote" in capsys.readouterr().out
    loaded = load_encoder(out)
    assert loaded.metadata["pretraining_method"] == "cl-dropout"
    assert loaded.metadata["families"] == ["nb201", "nb301"]
    assert loaded.metadata["labels_used"] is False
    assert not (tmp_path / "enc.pt.state").exists()


def test_bad_family_is_one_line_error(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    status = main(["pretrain", "--families", "nb201,bogus", "--out", str(tmp_path / "e.pt")])
    assert status == 2
    assert "bogus" in capsys.readouterr().err
