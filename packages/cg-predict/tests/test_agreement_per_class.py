"""``agreement_per_class``: proxy agreement on one row per isomorphism class."""

from __future__ import annotations

import math

import pytest

from cg_predict.experiments.agreement import ClassAgreement, agreement_per_class

# two NB-201 specs with one computation graph (isomorphic twins), and two others
TWINS = ("(3, 2, 3, 2, 4, 1)", "(3, 1, 3, 4, 1, 0)")
OTHERS = ("(2, 2, 2, 2, 2, 2)", "(3, 3, 3, 3, 3, 3)")


def _cell(label: float, ours: float, theirs: float | None = None) -> dict[str, object]:
    return {
        "label": label,
        "ours": {"proxy": {"value": ours}},
        "theirs": {} if theirs is None else {"proxy": theirs},
    }


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))


def test_twins_are_one_row_with_their_mean_label():
    # per cell the twins' labels 10 and 60 straddle the class 50's; their mean, 35, does not
    cells = {
        TWINS[0]: _cell(10.0, 1.0),
        TWINS[1]: _cell(60.0, 1.0),
        OTHERS[0]: _cell(50.0, 2.0),
        OTHERS[1]: _cell(90.0, 3.0),
    }
    assert agreement_per_class(cells, "nb201") == {
        "proxy": ClassAgreement(ours=1.0, theirs=None, classes=3)
    }


def test_a_reference_score_is_correlated_on_the_same_classes():
    cells = {
        TWINS[0]: _cell(10.0, 1.0, theirs=3.0),
        TWINS[1]: _cell(30.0, 1.0, theirs=3.0),
        OTHERS[0]: _cell(50.0, 2.0, theirs=2.0),
        OTHERS[1]: _cell(90.0, 3.0, theirs=1.0),
    }
    assert agreement_per_class(cells, "nb201")["proxy"] == ClassAgreement(1.0, -1.0, 3)


def test_cells_without_a_score_are_left_out():
    cells = {
        TWINS[0]: _cell(10.0, math.nan),
        TWINS[1]: _cell(30.0, 1.0),
        OTHERS[0]: _cell(50.0, 3.0),
        OTHERS[1]: _cell(90.0, 2.0),
    }
    assert agreement_per_class(cells, "nb201")["proxy"] == ClassAgreement(0.5, None, 3)
