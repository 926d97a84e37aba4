"""Hypothesis strategies of valid specs, one (or more) per family.

Examples:
    >>> from hypothesis import given
    >>> from cg_ir.testing.strategies import nb201_specs
    >>> @given(nb201_specs())
    ... def test_has_six_edges(spec):
    ...     assert len(spec.ops) == 6
    >>> test_has_six_edges()
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from cg_ir._graph import ComputationGraph
from cg_ir.errors import InvalidSpecError
from cg_ir.families import ofa_mbv3, resnet
from cg_ir.families.nb101 import OPS as NB101_OPS
from cg_ir.families.nb101 import NB101Spec
from cg_ir.families.nb201 import NB201Spec
from cg_ir.families.nb301 import NB301Spec
from cg_ir.families.ofa_mbv3 import OfaMbv3Spec
from cg_ir.families.resnet import ResNetSpec
from cg_ir.testing import _graphs

__all__ = [
    "computation_graphs",
    "nb101_specs",
    "nb201_specs",
    "nb301_specs",
    "ofa_mbv3_specs",
    "reordered_graphs",
    "resnet_specs",
]


def nb201_specs() -> st.SearchStrategy[NB201Spec]:
    """Any of the 15,625 NAS-Bench-201 cells (shrinks towards all ``skip_connect``)."""
    return st.tuples(*[st.integers(0, 4)] * 6).map(NB201Spec)


@st.composite
def _nb101(draw: st.DrawFn) -> NB101Spec:
    # at most 9 distinct edges of the 7-vertex DAG; if the output is cut off from the input,
    # the input -> output edge (replacing the last drawn one when 9 were drawn) makes it valid
    pairs = [(i, j) for j in range(1, 7) for i in range(j)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=9))
    ops = draw(st.lists(st.sampled_from(NB101_OPS), min_size=5, max_size=5))
    matrix = [[0] * 7 for _ in range(7)]
    for i, j in edges:
        matrix[i][j] = 1
    try:
        return NB101Spec(matrix, ["input", *ops, "output"])  # type: ignore[arg-type]
    except InvalidSpecError:  # only possible reason: the output is cut off
        if len(edges) == 9:
            i, j = edges[-1]
            matrix[i][j] = 0
        matrix[0][6] = 1
        return NB101Spec(matrix, ["input", *ops, "output"])  # type: ignore[arg-type]


def nb101_specs() -> st.SearchStrategy[NB101Spec]:
    """Valid NAS-Bench-101 cells (pruned), drawn as at most 9 edges on 7 vertices."""
    return _nb101()


def ofa_mbv3_specs(resolutions: Sequence[int] | None = None) -> st.SearchStrategy[OfaMbv3Spec]:
    """OFA MobileNetV3 subnets: every slot's ``ks`` and ``e``, every stage's depth, ``r``.

    Args:
        resolutions: the resolutions to draw from (default: all of 128..224 step 4).

    Examples:
        >>> from hypothesis import given
        >>> @given(ofa_mbv3_specs(resolutions=(224,)))
        ... def test_at_224(spec):
        ...     assert spec.r == 224
        >>> test_at_224()
    """
    return st.builds(
        OfaMbv3Spec,
        ks=st.tuples(*[st.sampled_from(ofa_mbv3.KERNEL_SIZES)] * ofa_mbv3.NUM_SLOTS),
        e=st.tuples(*[st.sampled_from(ofa_mbv3.EXPAND_RATIOS)] * ofa_mbv3.NUM_SLOTS),
        d=st.tuples(*[st.sampled_from(ofa_mbv3.DEPTHS)] * ofa_mbv3.NUM_STAGES),
        r=st.sampled_from(tuple(ofa_mbv3.RESOLUTIONS if resolutions is None else resolutions)),
    )


def resnet_specs() -> st.SearchStrategy[ResNetSpec]:
    """Networks of the ``resnet`` family: block type, depth and width of every stage.

    Examples:
        >>> from hypothesis import given
        >>> @given(resnet_specs())
        ... def test_four_stages(spec):
        ...     assert len(spec.depths) == len(spec.widths) == 4
        >>> test_four_stages()
    """
    return st.builds(
        ResNetSpec,
        block=st.sampled_from(resnet.BLOCKS),
        depths=st.tuples(*[st.sampled_from(resnet.DEPTHS)] * resnet.NUM_STAGES),
        widths=st.tuples(*(st.sampled_from(choices) for choices in resnet.WIDTH_CHOICES)),
    )


@st.composite
def _nb301_cell(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    pairs: list[tuple[int, int]] = []
    for node in range(2, 6):
        first = draw(st.integers(0, node - 1))
        second = draw(st.integers(0, node - 2))
        second += second >= first  # two distinct inputs below the node
        pairs += [(first, draw(st.integers(0, 6))), (second, draw(st.integers(0, 6)))]
    return tuple(pairs)


def nb301_specs() -> st.SearchStrategy[NB301Spec]:
    """NAS-Bench-301 (DARTS) specs: every node reads two distinct earlier nodes, any ops."""
    return st.builds(NB301Spec, _nb301_cell(), _nb301_cell())


def computation_graphs(max_nodes: int = 30) -> st.SearchStrategy[ComputationGraph]:
    """Random valid graphs of primitive nodes, for property tests of code that takes graphs.

    Chains and branches of conv (grouped, dilated), depthwise conv, linear, norms,
    activations, pooling, upsampling, slice and zero, joined by add, mul (also an SE-style
    ``(C,1,1)`` scale) and concat, with consistent shapes; at most ``max_nodes`` nodes.

    Examples:
        >>> from hypothesis import given
        >>> @given(computation_graphs(max_nodes=12))
        ... def test_round_trip(graph):
        ...     assert ComputationGraph.from_json(graph.to_json()) == graph
        >>> test_round_trip()
    """
    return _graphs.graphs(max_nodes)


def reordered_graphs(graph: ComputationGraph) -> st.SearchStrategy[ComputationGraph]:
    """``graph`` with its nodes in a random other topological order (inputs kept in order).

    Isomorphic to ``graph``: its ``canonical_hash()`` must be the same.
    """
    return _graphs.reorderings(graph)
