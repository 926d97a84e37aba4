"""Rank transforms: z-scored ranks and the blends of the zero-shot rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from cg_predict.errors import InvalidArgumentError
from cg_predict.ranking import flops_blend, rank_blend, z_ranks


def test_z_ranks_are_standardised_and_ignore_scale() -> None:
    values = np.array([3.0, 1e9, -2.0, 7.0, 7.0])
    z = z_ranks(values)
    assert z.mean() == pytest.approx(0.0) and z.std() == pytest.approx(1.0)
    assert z[3] == z[4]  # ties share their mean rank
    assert np.allclose(z_ranks(np.log(values - values.min() + 1)), z)  # monotone maps keep it
    assert z_ranks([5.0, 5.0]).tolist() == [0.0, 0.0]  # constant: no ranking, all zeros


def test_flops_blend_ends_are_the_two_rankings() -> None:
    rng = np.random.default_rng(0)
    scores, flops = rng.normal(size=50), rng.lognormal(size=50)
    assert spearmanr(flops_blend(scores, flops, 0.0), scores)[0] == pytest.approx(1.0)
    assert spearmanr(flops_blend(scores, flops, 1.0), flops)[0] == pytest.approx(1.0)
    between = flops_blend(scores, flops, 0.5)
    assert 0 < spearmanr(between, scores)[0] < 1 and 0 < spearmanr(between, flops)[0] < 1


def test_flops_blend_rejects_bad_input() -> None:
    with pytest.raises(InvalidArgumentError, match="weight in \\[0, 1\\].*got 1.5"):
        flops_blend([1.0, 2.0], [1.0, 2.0], 1.5)
    with pytest.raises(InvalidArgumentError, match="\\(2,\\) and \\(3,\\)"):
        flops_blend([1.0, 2.0], [1.0, 2.0, 3.0], 0.5)


def test_rank_blend_weighs_rankings_not_scales() -> None:
    rng = np.random.default_rng(1)
    columns = {
        "network": rng.normal(size=40),
        "flops": rng.lognormal(size=40),
        "meco": rng.normal(size=40),
    }
    alone = rank_blend(columns, {"meco": 1.0})
    assert spearmanr(alone, columns["meco"])[0] == pytest.approx(1.0)
    scaled = {**columns, "flops": columns["flops"] * 1e6}
    weights = {"network": 0.5, "flops": 0.25, "meco": 0.25}
    assert np.allclose(rank_blend(scaled, weights), rank_blend(columns, weights))
    assert np.allclose(
        rank_blend(columns, {"network": 0.75, "flops": 0.25, "meco": 0.0}),
        flops_blend(columns["network"], columns["flops"], 0.25),
    )


def test_rank_blend_rejects_bad_weights_and_columns() -> None:
    columns = {"network": [1.0, 2.0], "flops": [2.0, 1.0]}
    with pytest.raises(InvalidArgumentError, match="sum to 1"):
        rank_blend(columns, {"network": 0.5, "flops": 0.25})
    with pytest.raises(InvalidArgumentError, match="sum to 1"):
        rank_blend(columns, {"network": 1.5, "flops": -0.5})
    with pytest.raises(InvalidArgumentError, match=r"weighs \['meco'\]"):
        rank_blend(columns, {"network": 0.5, "meco": 0.5})
    with pytest.raises(InvalidArgumentError, match="one length"):
        rank_blend({**columns, "flops": [1.0, 2.0, 3.0]}, {"network": 0.5, "flops": 0.5})
