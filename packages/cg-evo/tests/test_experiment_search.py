"""The ``search`` experiment of ``cgnas reproduce``: its runs are due when it runs them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from cg_evo.experiments import _run, results_name
from cg_ir.experiments import RunContext

SPACE, STRATEGY = "NB-201 CIFAR-10", "cost-order"


@pytest.mark.needs_data
def test_a_file_other_code_left_in_the_folder_is_recomputed(tmp_path: Path, data_dir: Path) -> None:
    ctx = RunContext(tmp_path, "quick", data_dir, "local", "cpu", progress=False)
    first = _run(ctx, SPACE, STRATEGY)
    path = tmp_path / results_name(SPACE, STRATEGY)
    stale = json.loads(path.read_text())
    digests = [key for key in stale if "digest" in key]
    assert digests, sorted(stale)
    path.write_text(json.dumps({**stale, **dict.fromkeys(digests, "0" * 64)}))
    # reproduce reruns an experiment only when its code changed: a file of other code in its
    # folder is recomputed, not refused (SearchStateError) as cgnas search refuses it
    again = _run(ctx, SPACE, STRATEGY)
    timeless = [
        {k: v for k, v in doc["summary"].items() if "seconds" not in k} for doc in (first, again)
    ]
    assert timeless[0] == timeless[1]
    assert json.loads(path.read_text())[digests[0]] != "0" * 64


def test_the_warm_up_scores_the_whole_pool_into_the_proxy_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cg_evo
    from cg_evo import experiments
    from cg_predict.evaluate import live_proxy_cache

    keys = ["(1, 1, 1, 1, 1, 1)", "(4, 0, 1, 2, 3, 4)", "(3, 3, 3, 3, 3, 3)"]
    monkeypatch.setattr(cg_evo, "load_oracle", lambda *_: SimpleNamespace(keys=keys))
    monkeypatch.setattr(experiments, "_POOL_CHUNK", 2)  # two saves of the cache
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    ctx = RunContext(tmp_path, "full", None, "local", "cpu", progress=False, workers=2)
    experiments.warm_proxy_cache(experiments.goal_config(SPACE, "proxy-order"), ctx)
    cache = live_proxy_cache("nb201")
    assert len(cache) == len(keys)
