"""The ``cgnas`` command end to end: outputs, one-line errors with exit 2, no partial files.

Also the conventions every command follows (``cg_ir.cli.options``), checked over every
registered command, plugins included.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import types
from importlib.metadata import EntryPoint

import pytest

from cg_ir import ComputationGraph, cli
from cg_ir.cli import add_out_option, add_progress_option, comma_list, main, positive_int

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
    assert err.count("\n") == 1 and "the following arguments are required: --out/-o" in err
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
    assert status == 2 and err.count("\n") == 1
    assert err.startswith("cgnas summary: error: argument --per-family: '0' is not a positive")


def test_a_failing_family_keeps_the_other_rows_and_ends_in_one_error_line(capsys, monkeypatch):
    from cg_ir.cli import describe

    real = describe.family_statistics

    def statistics(name, *args):
        if name == "nb101":
            raise ValueError("broken spec")
        return real(name, *args)

    monkeypatch.setattr(describe, "family_statistics", statistics)
    status, stdout, err = run(capsys, "summary", "--per-family", "2", "--families", "nb101,nb201")
    assert status == 2
    assert "failed: ValueError: broken spec" in stdout
    assert any(line.startswith("nb201") and "failed" not in line for line in stdout.splitlines())
    assert err.count("\n") == 1 and "1 of 2 families failed: nb101" in err


def test_summary_takes_a_comma_separated_family_list(capsys):
    argv = ["summary", "--per-family", "2", "--no-progress", "--families", "nb201,nb101"]
    status, stdout, _ = run(capsys, *argv, "--family", "nb301")  # the old spelling still adds
    assert status == 0
    rows = [line.split()[0] for line in stdout.splitlines()[3:]]
    assert rows == ["nb201", "nb101", "nb301"]
    status, _, err = run(capsys, "summary", "--families", "nb201,nope")
    assert status == 2
    assert_one_line_error(err, "unknown families ['nope']")


def _fake_plugins(monkeypatch, *points):
    monkeypatch.setattr(cli.program, "_plugins", lambda: {p.name: p for p in points})


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


def test_convert_keeps_the_old_output_spelling(tmp_path, capsys):
    for option in ("--out", "--output"):
        out = tmp_path / f"g{option}.json"
        status, stdout, _ = run(
            capsys, "convert", "--family", "nb201", "--arch", ARCH, option, str(out)
        )
        assert status == 0 and out.is_file() and f"wrote {out}" in stdout


def _parser_errors(parser: argparse.ArgumentParser, argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as info:
        parser.parse_args(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("text", ["0", "-1", "x", "1.5", ""])
def test_positive_int_rejects_with_one_line(text, capsys):
    parser = cli.build_parser("summary")
    err = _parser_errors(parser, ["summary", "--per-family", text], capsys)
    assert err.count("\n") == 1, err
    assert f"argument --per-family: {text!r} is not a positive integer" in err
    assert positive_int("3") == 3


def test_comma_list_reads_and_rejects():
    integers, counts = comma_list(int, "integers"), comma_list(positive_int, "counts")
    assert integers(" 0, 10,,20 ") == [0, 10, 20] and counts("1,2") == [1, 2]
    for parse, bad in [(integers, ""), (integers, ","), (integers, "1,x"), (counts, "0,1")]:
        with pytest.raises(argparse.ArgumentTypeError, match="is not a comma-separated list"):
            parse(bad)


def test_out_option_and_its_alias_set_one_value(capsys):
    parser = argparse.ArgumentParser(prog="demo")
    add_out_option(parser, help="results")
    assert parser.parse_args(["-o", "a.json"]).out == parser.parse_args(["--out", "a.json"]).out
    err = _parser_errors(parser, [], capsys)
    assert "the following arguments are required: --out/-o" in err
    optional = argparse.ArgumentParser(prog="demo")
    add_out_option(optional, help="results", required=False)
    assert optional.parse_args([]).out is None


@pytest.mark.parametrize("default", [True, False])
def test_progress_option_keeps_the_default_and_takes_both_spellings(default):
    parser = argparse.ArgumentParser(prog="demo")
    add_progress_option(parser, default=default)
    assert parser.parse_args([]).progress is default
    assert parser.parse_args(["--progress"]).progress is True
    assert parser.parse_args(["--no-progress"]).progress is False


# every registered command, by what it does with files: a new command must be classified here
WRITES_A_FILE = {"convert", "evaluate", "pretrain", "proxy-agreement", "reproduce", "search"}
PRINTS_ONLY = {"families", "inspect", "predict", "summary"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()  # every installed plugin
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_is_classified():
    assert set(_commands()) == WRITES_A_FILE | PRINTS_ONLY


@pytest.mark.parametrize("name", sorted(WRITES_A_FILE))
def test_a_command_that_writes_a_file_takes_out_and_o(name):
    options = _commands()[name]._option_string_actions
    assert "--out" in options and options["-o"] is options["--out"]
    assert options["--out"].dest == "out" and options["--out"].option_strings[:2] == ["--out", "-o"]


@pytest.mark.parametrize("name", sorted(PRINTS_ONLY))
def test_a_command_that_prints_only_takes_no_out(name):
    assert not {"--out", "-o", "--output"} & set(_commands()[name]._option_string_actions)


def _has_default(action: argparse.Action) -> bool:
    """Whether ``action`` has a value without its option (a flag off by default has none)."""
    off_flag = action.nargs == 0 and action.default is False
    return (
        action.help is not argparse.SUPPRESS
        and action.default not in (None, argparse.SUPPRESS, [])
        and (isinstance(action, argparse.BooleanOptionalAction) or not off_flag)
    )


@pytest.mark.parametrize("name", sorted(WRITES_A_FILE | PRINTS_ONLY))
def test_every_default_is_shown_in_help(name):
    parser = _commands()[name]
    checked = 0
    for action in parser._actions:
        if _has_default(action):
            assert action.help, (name, action.option_strings)  # argparse shows no default then
            shown = parser._get_formatter()._expand_help(action)
            assert f"(default: {action.default})" in shown, (name, action.option_strings, shown)
            checked += 1
    hand_written = [a.help for a in parser._actions if a.help and "default" in a.help.lower()]
    assert all("(default: " in text or "%(default)" in text for text in hand_written), hand_written
    assert checked or name in {"convert", "families", "inspect"}


@pytest.mark.parametrize("name", sorted(WRITES_A_FILE | PRINTS_ONLY))
def test_help_of_every_command_answers(name, capsys):
    assert main([name, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: cgnas {name}")


def test_reproduce_runs_then_reuses_an_experiment(tmp_path, capsys):
    out = tmp_path / "results"
    argv = ("reproduce", "--quick", "--only", "graph-statistics", "--no-progress", "-o", str(out))
    status, stdout, _ = run(capsys, *argv)
    assert status == 0 and "graph-statistics  ran" in stdout
    folder = out / "graph-statistics"
    assert {p.name for p in folder.iterdir()} == {
        "provenance.json",
        "statistics.csv",
        "statistics.json",
        "statistics.png",
    }
    status, stdout, _ = run(capsys, *argv)
    assert status == 0 and "graph-statistics  reused" in stdout


def test_reproduce_fails_on_failures_and_strict_skips(tmp_path, capsys, monkeypatch):
    from cg_ir import experiments
    from cg_ir.errors import UnknownFamilyError

    def broken(ctx):
        raise UnknownFamilyError("no family 'nb999'")

    def missing(data_dir):
        raise FileNotFoundError("benchmark file x.csv is missing: get it from example.org")

    fake = [
        experiments.Experiment("needs-data", "Needs data", broken, code=("cg_ir",), data=missing),
        experiments.Experiment("broken", "Broken", broken, code=("cg_ir",)),
    ]
    monkeypatch.setattr(experiments, "registered_experiments", lambda: fake)
    out = str(tmp_path / "r")
    status, stdout, stderr = run(
        capsys, "reproduce", "--no-progress", "--only", "needs-data", "-o", out
    )
    assert status == 0 and "skipped" in stdout and "x.csv is missing" in stdout
    status, _, stderr = run(
        capsys, "reproduce", "--no-progress", "--strict", "--only", "needs-data", "-o", out
    )
    assert status == 2 and stderr.strip().splitlines() == [
        "cgnas: error: reproduce: needs-data did not finish (see the lines above)"
    ]
    status, stdout, stderr = run(capsys, "reproduce", "--no-progress", "-o", out)
    assert status == 2 and "UnknownFamilyError: no family 'nb999'" in stdout
    assert "broken did not finish" in stderr
    status, _, stderr = run(capsys, "reproduce", "--only", "nope", "-o", out)
    assert status == 2 and "no experiment 'nope'" in stderr
