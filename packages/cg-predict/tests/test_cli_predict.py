"""``cgnas predict``: argument handling, output lines, and one-line errors with exit status 2."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import numpy as np
import pytest
import torch

from cg_ir import families
from cg_ir.cli import main
from cg_predict.checkpoint import save_checkpoint
from cg_predict.encoder import EncoderConfig
from cg_predict.model import PredictorNet
from cg_predict.predictor import Predictor

KEYS = ["(2, 2, 3, 2, 3, 0)", "(4, 4, 4, 4, 4, 4)", "(0, 2, 2, 3, 2, 1)"]


def run(argv: list[str]) -> int:
    """``cgnas ARGV`` through cg-ir's main program (which finds ``predict`` by entry point)."""
    return main(argv)


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "ck.pt"
    save_checkpoint(
        path, PredictorNet(EncoderConfig(num_layers=2, dim=16, op_dim=8)), {"method": "gnn"}
    )
    return path


def test_entry_point_is_declared():
    points = {ep.name: ep.value for ep in entry_points(group="cgnas.commands")}
    assert points.get("predict") == "cg_predict.cli:register_predict"


def test_scores_of_keys_match_the_python_api(checkpoint, capsys):
    argv = ["predict", "--checkpoint", str(checkpoint), "--family", "nb201"]
    assert run([*argv, *(a for k in KEYS for a in ("--arch", k))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[1] for line in lines] == KEYS
    expected = Predictor.load(checkpoint).predict([("nb201", k) for k in KEYS])
    np.testing.assert_allclose([float(line.split("\t")[0]) for line in lines], expected, atol=1e-5)


def test_keys_file_rank_and_json(checkpoint, tmp_path, capsys):
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("# NB-201 cells\n" + "".join(f"nb201 {k}\n" for k in KEYS) + "\n")
    assert (
        run(
            [
                "predict",
                "--checkpoint",
                str(checkpoint),
                "--keys-file",
                str(keys_file),
                "--rank",
                "--json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert sorted(r["item"] for r in rows) == sorted(f"nb201 {k}" for k in KEYS)


def test_module_needs_input_shape_and_valid_factory(checkpoint, tmp_path, capsys):
    mod = tmp_path / "net.py"
    mod.write_text(
        "import torch\n\ndef build():\n    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), "
        "torch.nn.ReLU())\n\nNOT_CALLABLE = 3\n\ndef NOT_A_MODULE():\n    return 3\n"
    )
    base = ["predict", "--checkpoint", str(checkpoint), "--module"]
    cases = [
        ([f"{mod}:build"], "needs --input-shape"),
        ([f"{mod}:build", "--input-shape", "1,3,x"], "3 or 4 positive integers"),
        ([f"{mod}:NOT_A_MODULE", "--input-shape", "1,3,8,8"], "not a torch.nn.Module"),
        ([f"{mod}:missing", "--input-shape", "1,3,8,8"], "no callable 'missing'"),
        ([f"{mod}:NOT_CALLABLE", "--input-shape", "1,3,8,8"], "no callable"),
        ([f"{tmp_path}/nope.py:build", "--input-shape", "1,3,8,8"], "no file"),
        (["netpy", "--input-shape", "1,3,8,8"], "FILE.py:FACTORY"),
    ]
    for extra, message in cases:
        assert run([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("cgnas: error: ") and message in err and err.count("\n") == 1


def test_module_is_scored(checkpoint, tmp_path, capsys):
    pytest.importorskip("cg_ir.fx", reason="cg_ir.from_module is not installed")
    mod = tmp_path / "net.py"
    mod.write_text(
        "import torch\n\ndef build():\n    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, "
        "padding=1), torch.nn.ReLU())\n"
    )
    assert (
        run(
            [
                "predict",
                "--checkpoint",
                str(checkpoint),
                "--module",
                f"{mod}:build",
                "--input-shape",
                "1,3,8,8",
            ]
        )
        == 0
    )
    score, label = capsys.readouterr().out.strip().split("\t")
    assert label == f"{mod}:build" and np.isfinite(float(score))


def test_errors_are_one_line_with_status_2(checkpoint, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    cases = [
        (["--checkpoint", str(bad), "--family", "nb201", "--arch", KEYS[0]], "not a zip archive"),
        (["--checkpoint", str(checkpoint), "--arch", KEYS[0]], "needs --family"),
        (["--checkpoint", str(checkpoint), "--family", "nb999", "--arch", KEYS[0]], "nb999"),
        (["--checkpoint", str(checkpoint), "--family", "nb201", "--arch", "(9, 9)"], "(9, 9)"),
        (
            ["--checkpoint", str(checkpoint), "--keys-file", str(tmp_path / "none.txt")],
            "cannot be read",
        ),
        (
            [
                "--checkpoint",
                str(checkpoint),
                "--family",
                "nb201",
                "--arch",
                KEYS[0],
                "--input-shape",
                "1,3,8,8",
            ],
            "--module only",
        ),
    ]
    for extra, message in cases:
        assert run(["predict", *extra]) == 2, extra
        err = capsys.readouterr().err
        assert err.startswith("cgnas: error: ") and err.count("\n") == 1, err
        assert message in err, (message, err)


def test_usage_errors_exit_2(capsys):
    assert run(["predict", "--family", "nb201"]) == 2  # none of --arch / --module / --keys-file
    err = capsys.readouterr().err
    assert err.startswith("cgnas predict: error: ") and err.count("\n") == 1


def test_default_checkpoint_is_used_without_checkpoint_option(capsys):
    key = families.get("nb201").key(families.get("nb201").parse(KEYS[0]))
    assert run(["predict", "--family", "nb201", "--arch", key]) == 0
    score, label = capsys.readouterr().out.strip().split("\t")
    assert label == key and np.isfinite(float(score))
