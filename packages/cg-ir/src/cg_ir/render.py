r"""Pictures of computation graphs: Graphviz DOT text, and PNG/SVG drawings made with matplotlib.

``to_dot`` needs nothing but cg-ir (feed its text to Graphviz's ``dot`` if you have it);
``render`` draws the graph itself with matplotlib (the ``render`` extra), top to bottom, one row
per topological depth, each box showing the op, its kernel/stride where it has one, and the
output shape. The scale is fixed (inches per row and per box), so every picture is equally
legible: big graphs give tall pictures, and ``layers=`` draws an excerpt of the rows.

Examples:
    >>> from cg_ir import ComputationGraph, Node
    >>> g = ComputationGraph(
    ...     [Node("input", (3, 8, 8), (3, 8, 8)),
    ...      Node("relu", (3, 8, 8), (3, 8, 8)),
    ...      Node("output", (3, 8, 8), (3, 8, 8))],
    ...     [(0, 1), (1, 2)])
    >>> print(to_dot(g).splitlines()[4])
      n0 [label="input\n3×8×8", fillcolor="#d9d9d9"];
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cg_ir._atomic import atomic_output
from cg_ir._node import (
    ACTIVATION_OPS,
    ADAPTIVE_POOL_OPS,
    DATA_MOVEMENT_OPS,
    NARY_OPS,
    NORM_OPS,
    PAD_OPS,
    POOL_OPS,
    UPSAMPLE_OPS,
    Node,
)
from cg_ir.errors import InvalidArgumentError

if TYPE_CHECKING:
    from cg_ir._graph import ComputationGraph

__all__ = ["CATEGORY_COLORS", "IMAGE_SUFFIXES", "category", "node_label", "render", "to_dot"]

IMAGE_SUFFIXES = (".png", ".svg")
"""The file suffixes ``render`` can write."""

CATEGORY_COLORS: dict[str, str] = {
    "io": "#d9d9d9",
    "conv": "#9ecae1",
    "depthwise": "#c7e9f7",
    "linear": "#6baed6",
    "norm": "#fdd49e",
    "activation": "#b8e3a8",
    "pool": "#fdae6b",
    "upsample": "#fcbba1",
    "merge": "#cbc9e2",
    "attention": "#e7969c",
    "owned": "#fff2ae",
    "movement": "#e5e5e5",
    "other": "#f4f4f4",
}
"""Fill colour of each op category (``category(op)``) in DOT and in drawings."""

# drawing scale: inches per unit of the layout, box size in layout units, font sizes in points
_X_INCH, _Y_INCH = 1.3, 0.62
_BOX_W, _BOX_H = 1.0, 0.72
_DUMMY_W, _GAP = 0.12, 0.14
_FONT_OP, _FONT_ATTR = 7.0, 6.0
_MAX_PIXELS = 32_000  # keep both image sides well below matplotlib's 2**16 limit


def category(op: str) -> str:
    """The colour category of an op (a key of ``CATEGORY_COLORS``)."""
    if op in ("input", "output"):
        return "io"
    if op in ("conv", "filter"):
        return "conv"
    if op == "depthwise_conv":
        return "depthwise"
    if op == "linear":
        return "linear"
    if op in NORM_OPS:
        return "norm"
    if op in ACTIVATION_OPS:
        return "activation"
    if op in POOL_OPS or op in ADAPTIVE_POOL_OPS:
        return "pool"
    if op in UPSAMPLE_OPS:
        return "upsample"
    if op in NARY_OPS:
        return "merge"
    if op == "matmul":
        return "attention"
    if op in ("parameter", "constant"):
        return "owned"
    if op in DATA_MOVEMENT_OPS or op in PAD_OPS:
        return "movement"
    return "other"


def _pair(values: tuple[int, int]) -> str:
    return f"{values[0]}" if values[0] == values[1] else f"{values[0]}×{values[1]}"


def node_label(node: Node) -> list[str]:
    """The lines that describe ``node`` in pictures: op, attributes (if any), output shape.

    Examples:
        >>> node_label(Node("conv", (16, 32, 32), (32, 16, 16), (3, 3), (2, 2), (1, 1), (1, 1),
        ...                 1, 16, 32))
        ['conv', '3×3 s2 p1', '32×16×16']
    """
    lines = [node.op]
    if node.op in ("conv", "depthwise_conv", "filter") or node.op in POOL_OPS:
        kh, kw = node.kernel_size
        attrs = [f"{kh}×{kw}", f"s{_pair(node.stride)}", f"p{_pair(node.padding)}"]
        if max(node.dilation) > 1:
            attrs.append(f"d{_pair(node.dilation)}")
        if node.op == "conv" and node.groups > 1:
            attrs.append(f"g{node.groups}")
        lines.append(" ".join(attrs))
    elif node.op == "linear":
        lines.append(f"{node.in_channels}→{node.out_channels}")
    lines.append("×".join(str(d) for d in node.output_shape))
    return lines


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: ComputationGraph, *, name: str = "cg") -> str:
    """The graph in the Graphviz DOT language: boxes coloured by op category, top to bottom.

    Node ids are ``n<index>``; a node's module path (if any) becomes its tooltip; the edges
    into a concat are labelled with their input position, since their order matters there.
    """
    lines = [
        f"digraph {_dot_string(name)} {{",
        "  graph [rankdir=TB, nodesep=0.25, ranksep=0.3];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        "  edge [arrowsize=0.6];",
    ]
    for i, node in enumerate(graph.nodes):
        label = _dot_string("\n".join(node_label(node))).replace("\n", "\\n")
        extra = f", tooltip={_dot_string(node.name)}" if node.name else ""
        color = CATEGORY_COLORS[category(node.op)]
        lines.append(f'  n{i} [label={label}, fillcolor="{color}"{extra}];')
    for d in range(graph.num_nodes):
        preds = graph.predecessors(d)
        concat = graph.nodes[d].op == "concat"
        for position, s in enumerate(preds):
            lines.append(f'  n{s} -> n{d} [label="{position}"];' if concat else f"  n{s} -> n{d};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- layout ---------------------------------------------------------------------------------
class _Layout:
    """A layered drawing: rows by longest-path depth, long edges routed through dummy points.

    Items are the graph's nodes (ids 0..n-1) followed by dummies (one per row an edge
    skips). Rows are ordered by barycentre sweeps to reduce crossings, then x positions are
    assigned row by row with real nodes placed before dummies (the priority method), which
    keeps chains of operators straight and routes skip connections beside them.
    """

    def __init__(self, graph: ComputationGraph) -> None:
        n = graph.num_nodes
        depth = [0] * n
        for i in range(1, n):
            depth[i] = 1 + max((depth[p] for p in graph.predecessors(i)), default=-1)
        for i in range(n - 1, 0, -1):
            if not graph.predecessors(i):  # a parameter or constant: just above its first use
                depth[i] = min(depth[s] for s in graph.successors(i)) - 1
        self.row: list[int] = list(depth)
        self.preds: list[list[int]] = [[] for _ in range(n)]
        self.succs: list[list[int]] = [[] for _ in range(n)]
        self.edge_items: list[list[int]] = []  # item chain of every edge, source to target
        for s, d in graph.edges:
            chain = [s]
            for r in range(depth[s] + 1, depth[d]):
                self.row.append(r)
                self.preds.append([])
                self.succs.append([])
                chain.append(len(self.row) - 1)
            chain.append(d)
            for a, b in zip(chain, chain[1:], strict=False):
                self.succs[a].append(b)
                self.preds[b].append(a)
            self.edge_items.append(chain)
        self.num_nodes = n
        self.num_rows = max(depth) + 1
        self.rows: list[list[int]] = [[] for _ in range(self.num_rows)]
        for item, r in enumerate(self.row):
            self.rows[r].append(item)
        self.x = [0.0] * len(self.row)
        self._order()
        self._place()

    def width(self, item: int) -> float:
        return _BOX_W if item < self.num_nodes else _DUMMY_W

    def _order(self) -> None:
        rank = [0.0] * len(self.row)
        for row in self.rows:
            for k, item in enumerate(row):
                rank[item] = k

        def sweep(rows: list[list[int]], neighbours: list[list[int]]) -> None:
            for row in rows:
                keys = {
                    item: sum(rank[j] for j in neighbours[item]) / len(neighbours[item])
                    if neighbours[item]
                    else rank[item]
                    for item in row
                }
                row.sort(key=lambda item: (keys[item], rank[item]))
                for k, item in enumerate(row):
                    rank[item] = k

        for _ in range(2):
            sweep(self.rows[1:], self.preds)
            sweep(self.rows[-2::-1], self.succs)
        sweep(self.rows[1:], self.preds)

    def _place(self) -> None:
        for row in self.rows:  # packed start, centred on 0
            self._pack(row, [0.0] * len(row))
        for rows, neighbours in (
            (self.rows[1:], self.preds),
            (self.rows[-2::-1], self.succs),
            (self.rows[1:], self.preds),
        ):
            for row in rows:
                self._pack(row, [self._barycentre(i, neighbours[i]) for i in row])

    def weight(self, item: int) -> float:
        return 1.0 if item < self.num_nodes else 0.05

    def _barycentre(self, item: int, neighbours: list[int]) -> float:
        # dummies weigh little: a merge (add) stays on its operator chain, not between it
        # and the skip connection beside it
        if not neighbours:
            return self.x[item]
        total = sum(self.weight(j) for j in neighbours)
        return sum(self.weight(j) * self.x[j] for j in neighbours) / total

    def _pack(self, row: list[int], desired: list[float]) -> None:
        """Place the row's items in order, without overlaps, as near ``desired`` as possible.

        Minimises the weighted squared distance to ``desired`` subject to the order and the
        gaps: with ``y = x - offset`` the gaps become ``y`` non-decreasing, an isotonic
        regression solved exactly by pooling adjacent violators. Dummies weigh little, so
        skip connections move aside for operators rather than the other way round.
        """
        offset = [0.0]
        for a, b in zip(row, row[1:], strict=False):
            offset.append(offset[-1] + (self.width(a) + self.width(b)) / 2 + _GAP)
        blocks: list[list[float]] = []  # [weight, weighted sum, item count]
        for k, item in enumerate(row):
            weight = self.weight(item)
            blocks.append([weight, weight * (desired[k] - offset[k]), 1])
            while len(blocks) > 1 and blocks[-2][1] / blocks[-2][0] > blocks[-1][1] / blocks[-1][0]:
                w, total, count = blocks.pop()
                blocks[-1][0] += w
                blocks[-1][1] += total
                blocks[-1][2] += count
        k = 0
        for weight, total, count in blocks:
            for _ in range(int(count)):
                self.x[row[k]] = total / weight + offset[k]
                k += 1


def _matplotlib() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "cg_ir.render.render() draws with matplotlib, which is not installed: "
            "pip install 'cg-ir[render]' (or use to_dot(), which needs nothing)"
        ) from exc
    return plt


def render(
    graph: ComputationGraph,
    path: str | os.PathLike[str],
    *,
    layers: tuple[int, int] | None = None,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """Draw ``graph`` to a PNG or SVG file (chosen by the suffix of ``path``), atomically.

    Args:
        graph: the graph to draw.
        path: where to write; ``.png`` or ``.svg``.
        layers: draw only rows ``start <= depth < stop`` (a legible excerpt of a big graph);
            edges leaving the excerpt are cut at its border. None draws every row.
        title: a title line; None gives the graph's size, parameters and FLOPs.
        dpi: resolution of PNGs (lowered automatically if a side would exceed 32,000 px).

    Returns:
        The path written.

    Raises:
        InvalidArgumentError: unsupported suffix or an empty ``layers`` range.
        ImportError: matplotlib is missing (install the ``render`` extra).
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InvalidArgumentError(
            f"cannot render to {str(target)!r}: the suffix must be one of "
            f"{', '.join(IMAGE_SUFFIXES)}"
        )
    layout = _Layout(graph)
    start, stop = (0, layout.num_rows) if layers is None else layers
    start, stop = max(start, 0), min(stop, layout.num_rows)
    if start >= stop:
        raise InvalidArgumentError(
            f"layers={layers} selects no row; the graph has {layout.num_rows} rows"
        )
    plt = _matplotlib()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as MplPath

    shown = [i for i, r in enumerate(layout.row) if start <= r < stop]
    x_lo = min(layout.x[i] - layout.width(i) / 2 for i in shown) - 0.2
    x_hi = max(layout.x[i] + layout.width(i) / 2 for i in shown) + 0.2
    y_top, y_bottom = -start + 0.6, -(stop - 1) - 0.6
    width_in = max((x_hi - x_lo) * _X_INCH, 3.0)
    if title is None:
        title = (
            f"{graph.num_nodes} nodes, {graph.num_edges} edges, "
            f"{graph.params:,} params, {graph.flops / 1e6:,.1f} MFLOPs"
        )
    if (start, stop) != (0, layout.num_rows):
        title += f" — rows {start}–{stop - 1} of {layout.num_rows}"
    # wrap the title to the picture's width (about 4.6 pt per character at 8 pt)
    title = textwrap.fill(title, width=max(24, int(width_in * 72 / 4.6)))
    head = 0.3 + 0.16 * title.count("\n")  # inches above the drawing
    height_in = (y_top - y_bottom) * _Y_INCH + head
    dpi = min(dpi, int(_MAX_PIXELS / max(width_in, height_in)))
    fig = plt.figure(figsize=(width_in, height_in), dpi=dpi)
    try:
        ax = fig.add_axes((0.0, 0.0, 1.0, (height_in - head) / height_in))
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(y_bottom, y_top)
        ax.set_axis_off()
        half_h = _BOX_H / 2
        seen_inputs = [0] * graph.num_nodes
        for chain in layout.edge_items:
            position = seen_inputs[chain[-1]]  # edges are listed in each node's input order
            seen_inputs[chain[-1]] += 1
            points = [(layout.x[chain[0]], -layout.row[chain[0]] - half_h)]
            points += [(layout.x[i], -layout.row[i]) for i in chain[1:-1]]
            points.append((layout.x[chain[-1]], -layout.row[chain[-1]] + half_h))
            if points[-1][1] > y_top or points[0][1] < y_bottom:
                continue
            codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1)
            arrow = FancyArrowPatch(
                path=MplPath(points, codes),
                arrowstyle="-|>",
                mutation_scale=7,
                linewidth=0.6,
                color="#555555",
                shrinkA=0,
                shrinkB=0,
                zorder=1,
            )
            ax.add_patch(arrow)
            if graph.nodes[chain[-1]].op == "concat":  # input order matters: number the inputs
                (xa, ya), (xb, yb) = points[-2], points[-1]
                ax.text(
                    xa + 0.7 * (xb - xa) + 0.04,
                    ya + 0.7 * (yb - ya),
                    str(position),
                    fontsize=5,
                    color="#333333",
                    zorder=3,
                    clip_on=True,
                )
        for i in range(graph.num_nodes):
            if not start <= layout.row[i] < stop:
                continue
            node = graph.nodes[i]
            x, y = layout.x[i], -layout.row[i]
            ax.add_patch(
                FancyBboxPatch(
                    (x - _BOX_W / 2, y - half_h),
                    _BOX_W,
                    _BOX_H,
                    boxstyle="round,pad=0,rounding_size=0.08",
                    facecolor=CATEGORY_COLORS[category(node.op)],
                    edgecolor="#333333",
                    linewidth=0.5,
                    zorder=2,
                )
            )
            op, *rest = node_label(node)
            step = _BOX_H / (len(rest) + 1.6)
            top = y + step * len(rest) / 2
            ax.text(
                x,
                top,
                op,
                ha="center",
                va="center",
                fontsize=_FONT_OP,
                fontweight="bold",
                zorder=3,
                clip_on=True,
            )
            for k, line in enumerate(rest, 1):
                ax.text(
                    x,
                    top - k * step,
                    line,
                    ha="center",
                    va="center",
                    fontsize=_FONT_ATTR,
                    zorder=3,
                    clip_on=True,
                )
        fig.text(0.5, 1 - head / 2 / height_in, title, ha="center", va="center", fontsize=8)
        return _save(fig, target, suffix, dpi)
    finally:
        plt.close(fig)


def _save(fig: Any, target: Path, suffix: str, dpi: int) -> Path:
    with atomic_output(target) as handle:
        fig.savefig(handle, format=suffix[1:], dpi=dpi)
    return target
