"""cg-evo's table of pool proxy scores: computed once, then read without building networks."""

from __future__ import annotations

from pathlib import Path

import pytest

from cg_evo.proxy_table import ProxyTable, score_cells

KEYS = ["(1, 1, 1, 1, 1, 1)", "(0, 2, 3, 2, 3, 1)"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_scores_are_computed_once_then_read_from_the_table(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cg_predict.proxies import agreement

    first = score_cells("nb201", "synflow", KEYS)
    assert sorted(first) == sorted(KEYS)
    assert (cache / "search" / "proxy-scores-nb201.json").exists()

    def build(*_: object, **__: object) -> None:
        raise AssertionError("built a network whose score the table holds")

    monkeypatch.setattr(agreement, "cell_proxies", build)
    assert score_cells("nb201", "synflow", KEYS) == first


def test_the_same_score_as_cg_predicts_live_proxies(cache: Path) -> None:
    from cg_predict.proxies.agreement import cell_proxies

    live = cell_proxies("nb201", KEYS[1], ["synflow"], seed=0)["synflow"].value
    assert score_cells("nb201", "synflow", KEYS[1:]) == {KEYS[1]: live}


def test_another_proxy_or_family_is_another_entry(cache: Path) -> None:
    score_cells("nb201", "synflow", KEYS[:1])
    assert ProxyTable("nb201", "synflow").missing(KEYS) == KEYS[1:]
    assert ProxyTable("nb201", "nwot").missing(KEYS) == KEYS
    assert ProxyTable("nb101", "synflow").missing(KEYS[:1]) == KEYS[:1]
