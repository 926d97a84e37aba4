"""DOT text and PNG/SVG drawings of computation graphs."""

from __future__ import annotations

import builtins
import re

import pytest

from cg_ir import ComputationGraph, InvalidArgumentError, Node
from cg_ir.render import CATEGORY_COLORS, category, node_label, render, to_dot

X = (4, 8, 8)
Y = (8, 8, 8)


def graph() -> ComputationGraph:
    nodes = [
        Node("input", X, X),
        Node("conv", X, X, (3, 3), (1, 1), (1, 1), (1, 1), 1, 4, 4, name='f."q"'),
        Node("max_pool", X, X, (3, 3), (1, 1), (1, 1), (1, 1)),
        Node("concat", Y, Y),
        Node("linear", Y, (10, 1, 1), in_channels=8 * 64, out_channels=10),
        Node("output", (10, 1, 1), (10, 1, 1)),
    ]
    return ComputationGraph(nodes, [(0, 1), (1, 2), (2, 3), (0, 3), (3, 4), (4, 5)])


def test_labels():
    g = graph()
    assert node_label(g.nodes[1]) == ["conv", "3×3 s1 p1", "4×8×8"]
    assert node_label(g.nodes[2]) == ["max_pool", "3×3 s1 p1", "4×8×8"]
    assert node_label(g.nodes[4]) == ["linear", "512→10", "10×1×1"]
    assert node_label(g.nodes[3]) == ["concat", "8×8×8"]
    dil = g.nodes[1]._replace(dilation=(2, 1), stride=(2, 1))
    assert node_label(dil)[1] == "3×3 s2×1 p1 d2×1"


def test_categories_have_colours():
    for op in (
        "input",
        "conv",
        "depthwise_conv",
        "linear",
        "batch_norm",
        "relu",
        "avg_pool",
        "global_avg_pool",
        "upsample_nearest",
        "add",
        "zero",
        "slice",
    ):
        assert category(op) in CATEGORY_COLORS


def test_dot_structure():
    g = graph()
    dot = to_dot(g, name="demo")
    assert dot.startswith('digraph "demo" {') and dot.rstrip().endswith("}")
    assert len(re.findall(r"^  n\d+ \[label=", dot, flags=re.M)) == g.num_nodes
    assert len(re.findall(r"^  n\d+ -> n\d+", dot, flags=re.M)) == g.num_edges
    assert 'n2 -> n3 [label="0"]' in dot and 'n0 -> n3 [label="1"]' in dot  # concat order
    assert 'tooltip="f.\\"q\\""' in dot  # quotes escaped
    assert CATEGORY_COLORS["conv"] in dot


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_render_writes_image(tmp_path, suffix, magic):
    pytest.importorskip("matplotlib")
    path = render(graph(), tmp_path / f"g{suffix}")
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [f"g{suffix}"]  # no temp file left


def test_render_excerpt_and_errors(tmp_path):
    pytest.importorskip("matplotlib")
    assert render(graph(), tmp_path / "part.png", layers=(1, 3), title="x").exists()
    with pytest.raises(InvalidArgumentError, match=r"the suffix must be one of \.png, \.svg"):
        render(graph(), tmp_path / "g.jpg")
    with pytest.raises(InvalidArgumentError, match="selects no row; the graph has 6 rows"):
        render(graph(), tmp_path / "g.png", layers=(7, 9))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part.png"]


def test_missing_matplotlib_message(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'cg-ir\[render\]'"):
        render(graph(), tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()
