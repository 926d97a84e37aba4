"""No stale reuse: every cache and resume point of cg-predict is tied to the code that made it.

A code change is simulated by changing what ``cg_ir.provenance.code_digest`` reports for every
package (``code_changed``); each cache must then rebuild, and each results file refuse to
resume (or, with ``force``, recompute).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import cg_ir.provenance
import cg_predict.evaluate._protocol as protocol
from cg_ir import families
from cg_predict.encoder import EncoderConfig
from cg_predict.errors import StaleResultError
from cg_predict.evaluate import ProtocolConfig, SourceTraining, evaluate
from cg_predict.evaluate._results import config_hash, load_finished, write_json
from cg_predict.evaluate._targets import CellSet, graphs_with_costs
from cg_predict.graphs import GraphSet, family_graphs
from cg_predict.head import HeadConfig
from cg_predict.proxies import ProxyCache, compute_proxies

NB201_KEYS = ["(0, 1, 2, 3, 4, 0)", "(2, 2, 3, 2, 3, 0)", "(4, 4, 4, 4, 4, 4)"]
TINY_SOURCE = SourceTraining.quick(
    encoder=EncoderConfig(dim=8, op_dim=4, num_layers=1),
    head=HeadConfig(hidden=(8,)),
    epochs=1,
    cells=40,
)


def code_changed(
    monkeypatch: pytest.MonkeyPatch, edit: str = "edited", *, only: str | None = None
) -> None:
    """Make every package's source digest differ (or ``only``'s), as if its code had been edited."""
    real = cg_ir.provenance._package_digest

    def digest(name: str) -> str:
        return f"{edit}:{real(name)}" if only in (None, name) else real(name)

    monkeypatch.setattr(cg_ir.provenance, "_package_digest", digest)


def count_to_cg(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every ``to_cg`` call of the NB-201 family (a graph built, not read back)."""
    family = families.get("nb201")
    calls: list[object] = []
    real = family.to_cg
    monkeypatch.setattr(family, "to_cg", lambda spec: calls.append(spec) or real(spec))
    return calls


def test_family_graphs_are_rebuilt_after_a_code_change(tmp_path, monkeypatch) -> None:
    first = family_graphs("nb201", NB201_KEYS, directory=tmp_path, progress=False)
    calls = count_to_cg(monkeypatch)
    family_graphs("nb201", NB201_KEYS, directory=tmp_path, progress=False)
    assert calls == []  # same code: read back
    code_changed(monkeypatch)
    again = family_graphs("nb201", NB201_KEYS, directory=tmp_path, progress=False)
    assert len(calls) == 3  # other code: rebuilt
    np.testing.assert_array_equal(again.x, first.x)
    assert len(list(tmp_path.iterdir())) == 1  # and replaced, not piled up
    family_graphs("nb201", NB201_KEYS, directory=tmp_path, progress=False)
    assert len(calls) == 3  # the rebuilt file serves the new code


def test_evaluation_cells_and_costs_are_rebuilt_after_a_code_change(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path))
    keys = tuple(NB201_KEYS)
    graphs, flops, params = graphs_with_costs("nb201", keys, progress=False)
    calls = count_to_cg(monkeypatch)
    cached = graphs_with_costs("nb201", keys, progress=False)
    assert calls == []
    np.testing.assert_array_equal(cached[1], flops)
    np.testing.assert_array_equal(cached[2], params)
    code_changed(monkeypatch)
    rebuilt = graphs_with_costs("nb201", keys, progress=False)
    assert len(calls) == 3
    np.testing.assert_array_equal(rebuilt[0].x, graphs.x)
    np.testing.assert_array_equal(rebuilt[1], flops)


def test_evaluation_costs_are_rebuilt_after_an_edit_of_the_module_computing_them(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path))
    graphs_with_costs("nb201", tuple(NB201_KEYS), progress=False)
    calls = count_to_cg(monkeypatch)
    code_changed(monkeypatch, only="cg_predict.evaluate._targets")  # its build() counts them
    graphs_with_costs("nb201", tuple(NB201_KEYS), progress=False)
    assert len(calls) == 3


def test_proxy_scores_are_recomputed_after_a_code_change(tmp_path, monkeypatch) -> None:
    family = families.get("nb201")
    spec = family.parse(NB201_KEYS[0])
    module, shape = family.to_module(spec), family.input_shape(spec)
    graph = family.to_cg(spec)
    path = tmp_path / "proxies.json"
    names = ["nwot", "params"]
    fresh = compute_proxies(module, shape, names, batch_size=4, graph=graph, cache=ProxyCache(path))
    hit = compute_proxies(module, shape, names, batch_size=4, graph=graph, cache=ProxyCache(path))
    assert all(s.cached for s in hit.values())
    code_changed(monkeypatch)
    other = compute_proxies(module, shape, names, batch_size=4, graph=graph, cache=ProxyCache(path))
    assert not any(s.cached for s in other.values())  # scores of other code are not read
    assert {n: s.value for n, s in other.items()} == {n: s.value for n, s in fresh.items()}


def test_source_model_is_retrained_after_a_code_change(tmp_path, monkeypatch, toy_data) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path))
    graphs, labels = toy_data(24)
    cells = CellSet(
        "nb201",
        "cifar10",
        "toy",
        tuple(str(i) for i in range(24)),
        labels,
        GraphSet.from_graphs(graphs, hashes=True),
    )
    train = dataclasses.replace(TINY_SOURCE, loss="mse", batch_size=8, patience=1)
    fits: list[int] = []
    real_fit = protocol.fit
    monkeypatch.setattr(protocol, "fit", lambda *a, **kw: fits.append(1) or real_fit(*a, **kw))

    def train_source() -> None:
        protocol._train_source([cells], "nb301", train, None, "cpu", False)

    train_source()
    train_source()
    assert len(fits) == 1  # the second call loads the cached model
    code_changed(monkeypatch)
    train_source()
    assert len(fits) == 2  # other code: retrained
    assert len(list((tmp_path / "evaluate").glob("source-*.pt"))) == 2


def test_a_results_file_of_other_code_is_refused_or_forced(tmp_path) -> None:
    digest = config_hash({"x": 1})
    runs = [{"setting": "a", "seed": 0, "method": "m"}]
    path = tmp_path / "r.json"
    write_json(path, {"config_hash": digest, "code_digest": "aaa", "runs": runs})
    assert load_finished(path, digest, code="aaa") == runs  # same code: resumed
    with pytest.raises(StaleResultError) as info:
        load_finished(path, digest, code="bbb")
    message = str(info.value)
    assert all(part in message for part in (str(path), "aaa", "bbb", "--force", "delete"))
    assert (info.value.stored, info.value.current) == ("aaa", "bbb")
    assert isinstance(info.value, ValueError)
    assert load_finished(path, digest, code="bbb", force=True) == []
    # a file of the old format records no code: refused too, never resumed
    write_json(path, {"config_hash": digest, "runs": runs})
    with pytest.raises(StaleResultError, match="records no code digest"):
        load_finished(path, digest, code="bbb")
    # another configuration is another experiment: started afresh, as before
    assert load_finished(path, config_hash({"x": 2}), code="bbb") == []


def test_evaluate_cli_has_force() -> None:
    import argparse

    from cg_predict.evaluate.cli import register_evaluate

    parser = argparse.ArgumentParser()
    register_evaluate(parser.add_subparsers())
    args = parser.parse_args(["evaluate", "--target", "nb201", "--out", "r.json", "--force"])
    assert args.force is True


TINY = ProtocolConfig.quick(
    "nb301",
    sources=("nb201",),
    shots=(0, 5),
    seeds=1,
    settings="a",
    fine_tune_epochs=2,
    live_sample_size=0,
    source=TINY_SOURCE,
)


@pytest.mark.needs_data
def test_evaluate_refuses_to_resume_results_of_other_code(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "r.json"
    first = evaluate(TINY, out=out, progress=False)
    assert json.loads(out.read_text())["code_digest"] == first.code_digest
    code_changed(monkeypatch)
    with pytest.raises(StaleResultError, match=str(out)):
        evaluate(TINY, out=out, progress=False)
    assert json.loads(Path(out).read_text())["runs"] == list(first.runs)  # left untouched
    forced = evaluate(TINY, out=out, force=True, progress=False)
    assert forced.code_digest != first.code_digest
    assert json.loads(out.read_text())["code_digest"] == forced.code_digest


@pytest.mark.needs_data
def test_a_proxy_agreement_run_of_other_code_is_refused_or_forced(tmp_path, monkeypatch) -> None:
    from cg_predict.proxies.agreement import proxy_agreement

    out = tmp_path / "agreement.json"
    run = dict(names=["params", "nwot"], batch_size=4, out=out)
    first = proxy_agreement(2, 0, None, **run)
    assert json.loads(out.read_text())["code_digest"] == first["code_digest"]
    code_changed(monkeypatch)
    with pytest.raises(StaleResultError, match="--force"):
        proxy_agreement(2, 0, None, **run)
    forced = proxy_agreement(2, 0, None, force=True, **run)
    assert forced["code_digest"] != first["code_digest"]
    assert forced["cells"].keys() == first["cells"].keys()
