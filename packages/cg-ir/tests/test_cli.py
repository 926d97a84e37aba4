"""The ``cgnas`` command end to end: outputs, one-line errors with exit 2, no partial files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types
from importlib.metadata import EntryPoint

import pytest

from cg_ir import ComputationGraph, cli
from cg_ir.cli import main

ARCH = "(0, 2, 3, 2, 3, 1)"


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(err, *fragments):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cgnas: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], err


def test_convert_family_json_and_inspect(tmp_path, capsys):
    out = tmp_path / "g.json"
    status, stdout, _ = run(capsys, "convert", "--family", "nb201", "--arch", ARCH, "-o", str(out))
    assert status == 0 and f"wrote {out}" in stdout
    graph = ComputationGraph.from_json(out.read_text())
    status, stdout, _ = run(capsys, "inspect", str(out))
    assert status == 0
    assert f"nodes    {graph.num_nodes}" in stdout and graph.canonical_hash() in stdout
    assert f"params   {graph.params:,}" in stdout and "batch_norm" in stdout
    status, stdout, _ = run(capsys, "inspect", "--json", str(out))
    facts = json.loads(stdout)
    assert facts["flops"] == graph.flops and facts["op_histogram"] == graph.op_histogram()


def test_convert_fx_path_equals_fast_path(tmp_path, capsys):
    pytest.importorskip("torch")
    fast, slow = tmp_path / "fast.json", tmp_path / "fx.json"
    assert run(capsys, "convert", "--family", "nb201", "--arch", ARCH, "-o", str(fast))[0] == 0
    assert (
        run(capsys, "convert", "--family", "nb201", "--arch", ARCH, "--fx", "-o", str(slow))[0] == 0
    )
    a = ComputationGraph.from_json(fast.read_text())
    assert a.same_structure(ComputationGraph.from_json(slow.read_text()))


@pytest.mark.parametrize("suffix, start", [(".dot", b"digraph"), (".png", b"\x89PNG")])
def test_convert_to_pictures(tmp_path, capsys, suffix, start):
    out = tmp_path / f"g{suffix}"
    status, _, _ = run(capsys, "convert", "--family", "nb201", "--arch", ARCH, "-o", str(out))
    assert status == 0 and out.read_bytes().startswith(start)


def test_bad_arch_one_line_exit_2_no_file(tmp_path, capsys):
    out = tmp_path / "g.json"
    status, stdout, err = run(
        capsys, "convert", "--family", "nb201", "--arch", "(0, 9)", "-o", str(out)
    )
    assert status == 2 and stdout == ""
    assert_one_line_error(err)
    assert list(tmp_path.iterdir()) == []


def test_unknown_family_and_suffix(tmp_path, capsys):
    status, _, err = run(
        capsys, "convert", "--family", "nope", "--arch", "x", "-o", str(tmp_path / "g.json")
    )
    assert status == 2
    assert_one_line_error(err, "no family named 'nope'; known families:", "nb201")
    status, _, err = run(
        capsys, "convert", "--family", "nb201", "--arch", ARCH, "-o", str(tmp_path / "g.txt")
    )
    assert status == 2
    assert_one_line_error(err, "the output suffix must be one of .json, .dot, .png, .svg")
    assert list(tmp_path.iterdir()) == []


def test_inspect_errors(tmp_path, capsys):
    status, _, err = run(capsys, "inspect", str(tmp_path / "missing.json"))
    assert status == 2
    assert_one_line_error(err, "no such graph file")
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1, "nodes": [')
    status, _, err = run(capsys, "inspect", str(broken))
    assert status == 2
    assert_one_line_error(err, "not valid JSON (truncated or corrupt?)")


def test_usage_errors_are_one_line(capsys):
    status, _, err = run(capsys, "convert", "--family", "nb201")
    assert status == 2
    assert err.count("\n") == 1 and "the following arguments are required: -o/--output" in err
    status, _, err = run(capsys, "convert", "--family", "nb201", "-o", "x.json")
    assert status == 2
    assert_one_line_error(err, "give --family and --arch, or --module and --input-shape, or --onnx")


MODULE = """
import torch.nn as nn

def build():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))

def broken():
    raise RuntimeError("cannot build")

class Sorting(nn.Module):
    def forward(self, x):
        return x.sort(dim=1).values

def unsupported():
    return Sorting()

def not_a_module():
    return 42
"""


@pytest.fixture
def user_file(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(MODULE))
    return path


def test_convert_module(tmp_path, capsys, user_file):
    out = tmp_path / "out" / "net.json"
    status, stdout, err = run(
        capsys,
        "convert",
        "--module",
        f"{user_file}:build",
        "--input-shape",
        "1,3,16,16",
        "-o",
        str(out),
    )
    assert status == 0, err
    graph = ComputationGraph.from_json(out.read_text())
    assert graph.params == 3 * 8 * 9 + 8 + 2 * 8 + 8 * 10 + 10
    assert graph.output_shape == (10, 1, 1)


@pytest.mark.parametrize(
    "target, shape, fragments",
    [
        ("broken", "1,3,16,16", ["broken() raised RuntimeError: cannot build"]),
        ("unsupported", "1,3,16,16", ["cannot lower operator", "sort"]),
        ("not_a_module", "1,3,16,16", ["returned a int, not a torch.nn.Module"]),
        ("missing", "1,3,16,16", ["has no callable 'missing'"]),
        ("build", "1,3,x", ["--input-shape '1,3,x' is not 3 or 4 positive integers"]),
    ],
)
def test_convert_module_errors(tmp_path, capsys, user_file, target, shape, fragments):
    out = tmp_path / "net.json"
    status, _, err = run(
        capsys,
        "convert",
        "--module",
        f"{user_file}:{target}",
        "--input-shape",
        shape,
        "-o",
        str(out),
    )
    assert status == 2
    assert_one_line_error(err, *fragments)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py"]


def test_convert_module_missing_file(tmp_path, capsys):
    status, _, err = run(
        capsys,
        "convert",
        "--module",
        f"{tmp_path}/nope.py:build",
        "--input-shape",
        "1,3,8,8",
        "-o",
        str(tmp_path / "g.json"),
    )
    assert status == 2
    assert_one_line_error(err, "no such file")


def _nb201_graph() -> ComputationGraph:
    from cg_ir import families

    family = families.get("nb201")
    return family.to_cg(family.parse(ARCH))


@pytest.fixture
def onnx_stand_in(monkeypatch):
    """``cg_ir.onnx`` replaced by a stand-in whose ``from_onnx`` records the paths it reads."""
    calls = []
    module = types.ModuleType("cg_ir.onnx")

    def from_onnx(path):
        calls.append(path)
        return _nb201_graph()

    module.from_onnx = from_onnx
    monkeypatch.setitem(sys.modules, "cg_ir.onnx", module)
    return calls


def test_convert_onnx_writes_the_graph_json(tmp_path, capsys, onnx_stand_in):
    model, out = tmp_path / "net.onnx", tmp_path / "g.json"
    model.write_bytes(b"read by the stand-in only")
    status, stdout, err = run(capsys, "convert", "--onnx", str(model), "-o", str(out))
    assert status == 0, err
    assert onnx_stand_in == [str(model)] and f"wrote {out}" in stdout
    assert ComputationGraph.from_json(out.read_text()) == _nb201_graph()


def test_convert_onnx_errors(tmp_path, capsys, onnx_stand_in):
    out = tmp_path / "g.json"
    status, _, err = run(capsys, "convert", "--onnx", str(tmp_path / "no.onnx"), "-o", str(out))
    assert status == 2
    assert_one_line_error(err, "--onnx: no file", "no.onnx")
    status, _, err = run(
        capsys, "convert", "--onnx", "a.onnx", "--module", "net.py:build", "-o", str(out)
    )
    assert status == 2
    assert_one_line_error(err, "give one of --family, --module or --onnx, not --module and --onnx")
    assert list(tmp_path.iterdir()) == [] and onnx_stand_in == []


def _conv_relu_onnx(path):
    """A Conv(3->4, 3x3, bias) + Relu ONNX model on a 1x3x8x8 input, built without torch."""
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1] * 4),
            helper.make_node("Relu", ["c"], ["y"]),
        ],
        "conv_relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        initializer=[weight, bias],
    )
    onnx.save(helper.make_model(graph), path)


def test_convert_real_onnx_file(tmp_path, capsys):
    pytest.importorskip("cg_ir.onnx", reason="cg_ir.from_onnx is not installed")
    model, out = tmp_path / "net.onnx", tmp_path / "g.json"
    _conv_relu_onnx(model)
    status, _, err = run(capsys, "convert", "--onnx", str(model), "-o", str(out))
    assert status == 0, err
    graph = ComputationGraph.from_json(out.read_text())
    assert graph.params == 4 * 3 * 9 + 4 and graph.output_shape == (4, 8, 8)
    model.write_bytes(b"not an ONNX model")
    out.unlink()
    status, _, err = run(capsys, "convert", "--onnx", str(model), "-o", str(out))
    assert status == 2 and not out.exists()
    assert_one_line_error(err, "net.onnx")


def test_families_and_summary(capsys):
    status, stdout, _ = run(capsys, "families")
    assert status == 0 and "nb201" in stdout and "15,625" in stdout
    status, stdout, _ = run(capsys, "summary", "--per-family", "3", "--family", "nb201")
    assert status == 0
    row = next(line for line in stdout.splitlines() if line.startswith("nb201"))
    assert row.split()[1] == "3"
    status, _, err = run(capsys, "summary", "--per-family", "0")
    assert status == 2
    assert_one_line_error(err, "--per-family must be at least 1")


def _fake_plugins(monkeypatch, *points):
    monkeypatch.setattr(cli, "_plugins", lambda: {p.name: p for p in points})


def test_plugins_load_lazily_and_robustly(tmp_path, monkeypatch, capsys):
    (tmp_path / "cgnas_hello_plugin.py").write_text(
        textwrap.dedent("""
        def register(subparsers):
            p = subparsers.add_parser("hello", help="say hello")
            p.add_argument("--name", default="world")
            p.set_defaults(func=lambda args: print(f"hello {args.name}") or 0)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    good = EntryPoint("hello", "cgnas_hello_plugin:register", cli.COMMAND_GROUP)
    bad = EntryPoint("broken", "cgnas_no_such_module:register", cli.COMMAND_GROUP)
    _fake_plugins(monkeypatch, good, bad)
    status, stdout, err = run(capsys, "hello", "--name", "cg")
    assert status == 0 and stdout == "hello cg\n" and err == ""  # the broken one is not loaded
    status, stdout, err = run(capsys, "--help")
    assert status == 0 and "hello" in stdout
    assert err.count("\n") == 1
    assert "cgnas: warning: command plugin 'broken'" in err and "ModuleNotFoundError" in err
    status, stdout, err = run(capsys, "families")  # built-ins load no plugin at all
    assert status == 0 and "warning" not in err


def test_unexpected_exception_is_one_line_unless_traceback_asked(tmp_path, monkeypatch, capsys):
    (tmp_path / "cgnas_buggy_plugin.py").write_text(
        textwrap.dedent("""
        def register(subparsers):
            p = subparsers.add_parser("buggy")
            p.set_defaults(func=lambda args: {}["missing"])
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    _fake_plugins(monkeypatch, EntryPoint("buggy", "cgnas_buggy_plugin:register", "g"))
    monkeypatch.delenv("CGNAS_TRACEBACK", raising=False)
    status, _, err = run(capsys, "buggy")
    assert status == 2
    assert_one_line_error(err, "KeyError: 'missing'", "CGNAS_TRACEBACK=1")
    monkeypatch.setenv("CGNAS_TRACEBACK", "1")
    with pytest.raises(KeyError):
        main(["buggy"])


def test_console_entry_subprocess(tmp_path):
    out = tmp_path / "g.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cg_ir.cli",
            "convert",
            "--family",
            "nb201",
            "--arch",
            "(7,)",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert_one_line_error(result.stderr)
    assert list(tmp_path.iterdir()) == []


def test_import_is_cheap():
    code = "import sys, cg_ir.cli; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.stdout.split() == ["False", "False"]


def test_registering_every_command_imports_no_torch():
    # `cgnas --help` registers every installed plugin: it must stay cheap (no torch, PyG)
    code = (
        "import sys, cg_ir.cli; cg_ir.cli.build_parser(); "
        "print(*[m for m in ('torch', 'torch_geometric') if m in sys.modules] or ['none'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.stdout.split() == ["none"], result.stderr
    assert "warning" not in result.stderr
