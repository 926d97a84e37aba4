"""``tools/select_zero_shot_blend.py``'s rule: correlation-weighted ensembles, the power chosen
one level down, never on the target."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "select_zero_shot_blend.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("select_zero_shot_blend", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SCORES = {  # per family: each member's SRCC alone
    "a": {"network": 0.1, "flops": 0.6, "meco": 0.8},
    "b": {"network": 0.3, "flops": 0.7, "meco": -0.2},
    "c": {"network": float("nan"), "flops": 0.5, "meco": 0.4},
}


def test_weights_follow_the_mean_score_elsewhere_and_drop_the_negative(tool) -> None:
    weights = tool.ensemble_weights(SCORES, ["a", "b"], 1.0)
    assert set(weights) == {"network", "flops", "meco"}
    assert weights["flops"] > weights["meco"] > weights["network"]
    assert sum(weights.values()) == pytest.approx(1.0)
    sharper = tool.ensemble_weights(SCORES, ["a", "b"], 4.0)
    assert sharper["flops"] > weights["flops"]  # a higher power concentrates on the best
    assert tool.ensemble_weights(SCORES, ["b"], 1.0).get("meco") is None  # negative: left out
    # a member that could not be scored (NaN) counts as 0 there
    assert tool.ensemble_weights(SCORES, ["c"], 1.0) == pytest.approx(
        {"flops": 5 / 9, "meco": 4 / 9}
    )


def test_the_power_is_chosen_on_the_groups_given_only(tool) -> None:
    seen: list[str] = []

    def blend_score(family, weights):
        seen.append(family)
        return weights.get("flops", 0.0)  # a stand-in: more weight on FLOPs scores higher

    power, inner = tool._chosen_power(SCORES, blend_score, ["a", "b"], [1.0, 4.0])
    assert set(seen) == {"a", "b"}  # "c", the target, is never scored
    assert set(inner) == {"1", "4"} and power == max((1.0, 4.0), key=lambda p: inner[f"{p:g}"])
