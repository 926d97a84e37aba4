"""``cgnas predict``: argument handling, output lines, and one-line errors with exit status 2."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
from importlib.metadata import entry_points

import numpy as np
import pytest
import torch

import cg_ir
import cg_predict
from cg_ir import ComputationGraph, families
from cg_ir.cli import main
from cg_predict.checkpoint import save_checkpoint
from cg_predict.encoder import EncoderConfig
from cg_predict.model import PredictorNet
from cg_predict.predictor import Predictor

KEYS = ["(2, 2, 3, 2, 3, 0)", "(4, 4, 4, 4, 4, 4)", "(0, 2, 2, 3, 2, 1)"]
NETS = """
import torch.nn as nn

def small():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())

def wide():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 8, 1))
"""


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


@pytest.fixture
def nets(tmp_path):
    path = tmp_path / "nets.py"
    path.write_text(NETS)
    return path


def _graph(family: str, key: str) -> ComputationGraph:
    return families.get(family).to_cg(families.get(family).parse(key))


def _stand_in(monkeypatch, name: str, attribute: str, function) -> None:
    """``name`` (``cg_ir.onnx``, ``cg_ir.zoo``) replaced by a module with just ``function``."""
    module = types.ModuleType(name)
    setattr(module, attribute, function)
    monkeypatch.setitem(sys.modules, name, module)


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
    assert run(["predict", "--family", "nb201"]) == 2  # nothing to score
    err = capsys.readouterr().err
    assert err.startswith("cgnas: error: nothing to score: give --arch, --keys-file, --module")
    assert err.count("\n") == 1
    assert run(["predict", "--arch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cgnas predict: error: ") and err.count("\n") == 1


def _module_graph(path, factory: str, shape: tuple[int, ...]) -> ComputationGraph:
    """The graph of ``factory()`` of the file ``path``, by the Python API."""
    spec = importlib.util.spec_from_file_location("_nets", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cg_ir.from_module(getattr(module, factory)(), shape)


def test_several_modules_are_scored_in_the_order_given(checkpoint, nets, capsys):
    specs = [f"{nets}:wide", f"{nets}:small", f"{nets}:wide"]
    argv = ["predict", "--checkpoint", str(checkpoint), "--input-shape", "1,3,16,16"]
    assert run([*argv, *(a for spec in specs for a in ("--module", spec))]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [label for _, label in rows] == specs
    wide, small = (_module_graph(nets, f, (1, 3, 16, 16)) for f in ("wide", "small"))
    expected = Predictor.load(checkpoint).predict([wide, small, wide])
    np.testing.assert_allclose([float(score) for score, _ in rows], expected, atol=1e-5)


def test_one_input_shape_per_module(checkpoint, nets, capsys):
    small = f"{nets}:small"
    argv = ["predict", "--checkpoint", str(checkpoint), "--module", small, "--module", small]
    assert run([*argv, "--input-shape", "3,8,8", "--input-shape", "1,3,32,32", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    graphs = [_module_graph(nets, "small", shape) for shape in ((3, 8, 8), (1, 3, 32, 32))]
    expected = Predictor.load(checkpoint).predict(graphs)
    np.testing.assert_allclose([row["score"] for row in rows], expected, atol=1e-5)
    assert run([*argv, *["--input-shape", "3,8,8"] * 3]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cgnas: error: 3 --input-shape options for 2 --module options")


def test_mixed_sources_keep_the_command_line_order(checkpoint, nets, tmp_path, monkeypatch, capsys):
    onnx_file, onnx_graph = tmp_path / "net.onnx", _graph("nb201", KEYS[1])
    onnx_file.write_bytes(b"read by the stand-in only")
    _stand_in(monkeypatch, "cg_ir.onnx", "from_onnx", lambda path: onnx_graph)
    zoo_net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
    _stand_in(monkeypatch, "cg_ir.zoo", "load_model", lambda name: (zoo_net, (3, 16, 16)))
    argv = ["predict", "--checkpoint", str(checkpoint), "--family", "nb201", "--json"]
    sources = [
        ("--zoo", "torchvision:tiny"),
        ("--arch", KEYS[0]),
        ("--onnx", str(onnx_file)),
        ("--module", f"{nets}:wide"),
    ]
    assert run([*argv, "--input-shape", "3,8,8", *(a for pair in sources for a in pair)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(f"--{row['source']}", row["item"]) for row in rows] == sources
    expected = Predictor.load(checkpoint).predict(
        [
            cg_ir.from_module(zoo_net, (3, 16, 16)),
            ("nb201", KEYS[0]),
            onnx_graph,
            _module_graph(nets, "wide", (3, 8, 8)),
        ]
    )
    np.testing.assert_allclose([row["score"] for row in rows], expected, atol=1e-5)


def test_network_source_errors_are_one_line(checkpoint, nets, tmp_path, capsys):
    pytest.importorskip("cg_ir.zoo", reason="cg_ir.zoo is not installed")
    small = f"{nets}:small"
    cases = [
        (["--onnx", str(tmp_path / "no.onnx")], "--onnx: no file"),
        (["--zoo", "resnet18"], "resnet18"),
        (["--module", small, "--module", f"{nets}:wide"], "needs --input-shape"),
        (["--onnx", str(tmp_path / "no.onnx"), "--input-shape", "3,8,8"], "--module only"),
    ]
    for extra, message in cases:
        assert run(["predict", "--checkpoint", str(checkpoint), *extra]) == 2, extra
        err = capsys.readouterr().err
        assert err.startswith("cgnas: error: ") and err.count("\n") == 1, err
        assert message in err, (message, err)


def test_onnx_file_is_scored(checkpoint, tmp_path, capsys):
    pytest.importorskip("cg_ir.onnx", reason="cg_ir.from_onnx is not installed")
    from onnx import TensorProto, helper, save

    relu = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    path = tmp_path / "relu.onnx"
    save(helper.make_model(relu), path)
    assert run(["predict", "--checkpoint", str(checkpoint), "--onnx", str(path)]) == 0
    score, label = capsys.readouterr().out.strip().split("\t")
    expected = Predictor.load(checkpoint).predict([cg_ir.from_onnx(path)])
    assert label == str(path) and float(score) == pytest.approx(float(expected[0]), abs=1e-5)


def test_zoo_model_is_scored(checkpoint, capsys):
    pytest.importorskip("cg_ir.zoo", reason="cg_ir.zoo is not installed")
    argv = ["predict", "--checkpoint", str(checkpoint), "--zoo", "torchvision:resnet18"]
    assert run(argv) == 0
    score, label = capsys.readouterr().out.strip().split("\t")
    assert label == "torchvision:resnet18" and np.isfinite(float(score))


def test_registering_predict_imports_no_torch():
    code = (
        "import sys, cg_predict, cg_ir.cli; cg_ir.cli.build_parser('predict'); "
        "heavy = ('torch', 'torch_geometric', 'cg_predict.predictor'); "
        "print(*[m for m in heavy if m in sys.modules] or ['none'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.stdout.split() == ["none"], result.stderr


def test_public_names_load_on_first_use():
    assert set(cg_predict.__all__) <= set(dir(cg_predict))
    for name in cg_predict.__all__:
        assert getattr(cg_predict, name) is not None
    from cg_predict import Predictor as public

    assert public is Predictor and cg_predict.data.__name__ == "cg_predict.data"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = cg_predict.nope


def test_labels_fine_tune_the_predictor_first(checkpoint, tmp_path, capsys):
    labels = tmp_path / "trained.csv"
    labels.write_text(f'item,accuracy\n{KEYS[0]},91.5\n"{KEYS[1]}",70.25\n')
    argv = ["predict", "--checkpoint", str(checkpoint), "--family", "nb201"]
    argv += [a for k in KEYS for a in ("--arch", k)]
    assert run([*argv, "--labels", str(labels), "--fine-tune-epochs", "3"]) == 0
    scores = [float(line.split("\t")[0]) for line in capsys.readouterr().out.splitlines()]
    torch.manual_seed(0)  # the command fine-tunes from the same state with the same seed
    tuned = Predictor.load(checkpoint).fine_tune(
        [("nb201", KEYS[0]), ("nb201", KEYS[1])], [91.5, 70.25], epochs=3
    )
    assert tuned.metadata["fine_tuned"][0]["mode"] == "full"  # the protocol's best mode
    expected = tuned.predict([("nb201", k) for k in KEYS])
    np.testing.assert_allclose(scores, expected, atol=1e-5)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("(9, 9),90\n(4, 4, 4, 4, 4, 4),80\n", "'(9, 9)' is not a scored item"),
        (f"{KEYS[0]},nan\n{KEYS[1]},80\n", "is 'nan', not a number in [0, 100]"),
        (f"{KEYS[0]},101\n{KEYS[1]},80\n", "is '101', not a number"),
        (f"{KEYS[0]},90\n", "fine-tuning needs at least 2 labels"),
    ],
)
def test_bad_labels_are_one_line_errors(checkpoint, tmp_path, capsys, rows, message):
    labels = tmp_path / "trained.csv"
    labels.write_text(rows)
    argv = ["predict", "--checkpoint", str(checkpoint), "--family", "nb201"]
    argv += [a for k in KEYS for a in ("--arch", k)]
    assert run([*argv, "--labels", str(labels)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cgnas: error:")
    assert message in err, err


def test_fine_tune_options_need_labels(checkpoint, capsys):
    argv = ["predict", "--checkpoint", str(checkpoint), "--family", "nb201", "--arch", KEYS[0]]
    assert run([*argv, "--fine-tune-mode", "head"]) == 2
    assert "need --labels" in capsys.readouterr().err


def test_evaluate_choices_are_the_protocols():
    from cg_predict.evaluate import FAMILIES, SETTINGS
    from cg_predict.evaluate import cli as evaluate_cli
    from cg_predict.training import LOSSES

    assert evaluate_cli._TARGETS == FAMILIES
    assert evaluate_cli._SETTINGS == (*SETTINGS, "both")
    assert evaluate_cli._LOSSES == LOSSES


def test_evaluate_errors_are_raised_and_printed_once_by_cgnas(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["evaluate", "--target", "nb101", "--sources", "nb101", "--no-progress", "-o", str(out)]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("cgnas: error: ") and err.count("\n") == 1, err
    assert "cannot be a source" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--shots", "0,ten", "'0,ten' is not a comma-separated list of integers"),
        ("--seeds", "0", "'0' is not a positive integer"),
        ("--target", "nb999", "invalid choice: 'nb999'"),
        ("--setting", "c", "invalid choice: 'c'"),
    ],
)
def test_evaluate_usage_errors_are_one_line(tmp_path, capsys, option, value, message):
    argv = ["evaluate", "--target", "nb201", option, value, "--out", str(tmp_path / "r.json")]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("cgnas evaluate: error: ") and err.count("\n") == 1, err
    assert message in err
    assert list(tmp_path.iterdir()) == []


CLASSIFIER = """
import torch.nn as nn

def classifier():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
"""


def test_a_blend_with_a_live_proxy_computes_it_or_says_it_ranks_graphs_only(
    tmp_path, monkeypatch, capsys
):
    torch.manual_seed(0)
    path = tmp_path / "blend.pt"
    blend = {"weights": {"meco": 1.0}, "graphs_only": {"params": 1.0}}
    net = PredictorNet(EncoderConfig(num_layers=2, dim=16, op_dim=8))
    save_checkpoint(path, net, {"method": "gnn", "zero_shot_blend": blend})
    argv = ["predict", "--checkpoint", str(path), "--family", "nb201", "--rank"]
    assert run([*argv, *(a for k in KEYS for a in ("--arch", k))]) == 0
    captured = capsys.readouterr()
    assert "zero-shot ranking: rank blend {'meco': 1.0}\n" in captured.err
    assert "live proxies (meco)" in captured.err  # the progress bar, unless --no-progress
    assert run([*argv, "--no-progress", "--arch", KEYS[0]]) == 0
    assert "live proxies" not in capsys.readouterr().err
    live = Predictor.load(path).score([("nb201", k) for k in KEYS])
    ranked = [KEYS[i] for i in np.argsort(-live, kind="stable")]
    assert [line.split("\t")[1] for line in captured.out.splitlines()] == ranked
    nets = tmp_path / "classifier.py"
    nets.write_text(CLASSIFIER)
    module = [*argv, "--arch", KEYS[1], "--module", f"{nets}:classifier", "--input-shape", "3,8,8"]
    assert run(module) == 0
    assert "rank blend {'meco': 1.0}\n" in capsys.readouterr().err
    # a network without a module (ONNX, stood in here) ranks the whole set by the graphs
    onnx_file = tmp_path / "net.onnx"
    onnx_file.write_bytes(b"read by the stand-in only")
    _stand_in(monkeypatch, "cg_ir.onnx", "from_onnx", lambda p: _graph("nb201", KEYS[0]))
    assert run([*module, "--onnx", str(onnx_file)]) == 0
    err = capsys.readouterr().err
    assert "rank blend {'params': 1.0} (graphs only" in err
    assert "live proxies" not in err  # none computed: the graphs-only blend reads none
    # asked not to compute proxies: the graphs-only blend, saying why
    assert run([*module, "--no-live-proxies"]) == 0
    assert "rank blend {'params': 1.0} (graphs only: --no-live-proxies)" in capsys.readouterr().err
