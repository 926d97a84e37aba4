"""Tests of the transfer protocol: splits, leakage guard, results file, determinism, resuming."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cg_ir import ComputationGraph, Node
from cg_ir.provenance import code_digest
from cg_predict.checkpoint import save_encoder
from cg_predict.encoder import Encoder, EncoderConfig
from cg_predict.errors import InvalidArgumentError
from cg_predict.evaluate import (
    CellSet,
    FewShotSplit,
    ProtocolConfig,
    SourceTraining,
    TargetLeakError,
    check_no_target_labels,
    class_ids,
    evaluate,
    few_shot_split,
)
from cg_predict.evaluate._baselines import score_units
from cg_predict.evaluate._protocol import _train_source
from cg_predict.evaluate._results import (
    EvaluationResult,
    config_hash,
    load_finished,
    summarize_runs,
    write_json,
)
from cg_predict.evaluate._seed_run import Models, View, seed_rows
from cg_predict.evaluate.cli import register_evaluate
from cg_predict.graphs import GraphSet
from cg_predict.head import HeadConfig
from cg_predict.model import PredictorNet
from cg_predict.proxies import NETWORK_PROXIES, compute_proxies
from cg_predict.training import embed


@pytest.mark.property
@given(
    st.lists(st.integers(0, 30), min_size=12, max_size=80),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=60, deadline=None)
def test_split_never_tests_a_twin_of_a_labelled_cell(classes: list[int], seed: int) -> None:
    hashes = [f"h{c}" for c in classes]
    n_classes = len(set(classes))
    if n_classes < 4:
        return
    top = n_classes - 2
    split = few_shot_split(hashes, [0, top // 2, top], np.random.default_rng(seed))
    labelled = split.labelled[top]
    assert len({hashes[i] for i in labelled}) == top  # one cell per class
    assert not {hashes[i] for i in labelled} & {hashes[i] for i in split.test}
    assert set(split.test) | {
        i for i, h in enumerate(hashes) if h in {hashes[j] for j in labelled}
    } == set(range(len(hashes)))
    # nested: fewer shots are a prefix of more shots
    assert list(split.labelled[top // 2]) == list(labelled[: top // 2])
    assert len(split.labelled[0]) == 0


def test_split_is_seeded() -> None:
    hashes = [f"h{i % 17}" for i in range(60)]
    a = few_shot_split(hashes, [5, 10], np.random.default_rng(3))
    b = few_shot_split(hashes, [5, 10], np.random.default_rng(3))
    c = few_shot_split(hashes, [5, 10], np.random.default_rng(4))
    assert a.labelled[10].tolist() == b.labelled[10].tolist()
    assert a.test.tolist() == b.test.tolist()
    assert a.labelled[10].tolist() != c.labelled[10].tolist()


def test_split_rejects_too_many_shots() -> None:
    with pytest.raises(InvalidArgumentError, match="isomorphism classes"):
        few_shot_split(["a", "b", "c", "a"], [2], np.random.default_rng(0))
    assert class_ids(["x", "y", "x"]).tolist() == [0, 1, 0]


def test_leak_guard() -> None:
    check_no_target_labels(["nb201/cifar10", "nb301/cifar10"], "nb101")
    with pytest.raises(TargetLeakError, match="nb201/cifar100"):
        check_no_target_labels(["nb101/cifar10", "nb201/cifar100"], "nb201")
    assert issubclass(TargetLeakError, RuntimeError)


def test_target_cannot_be_a_source() -> None:
    with pytest.raises(InvalidArgumentError, match="cannot be a source"):
        ProtocolConfig("nb201", sources=("nb101", "nb201"), seeds=1)


def test_results_file_roundtrip(tmp_path) -> None:
    runs = [
        {
            "setting": "a",
            "method": "m",
            "shots": 10,
            "seed": s,
            "unit": "class",
            "test_size": 5,
            "srcc": v,
            "kendall": v / 2,
            "precision@5%": 1.0,
            "precision@10%": 0.5,
            "ndcg@10": 0.9,
            "mae": None,
        }
        for s, v in enumerate([0.5, -0.3])
    ]
    rows = summarize_runs(runs)
    assert rows[0].srcc_mean == pytest.approx(0.1)  # signs kept, not absolute values
    assert rows[0].srcc_std == pytest.approx(np.std([0.5, -0.3], ddof=1))  # sample std
    assert rows[0].srcc_std == pytest.approx(0.565685425)  # not the population 0.4
    assert rows[0].unit == "class"
    assert summarize_runs(runs[:1])[0].srcc_std is None  # one seed: no spread
    # a unit is its own row: per class and per row never share a mean
    both = summarize_runs([*runs, *({**r, "unit": "row", "srcc": 0.9} for r in runs)])
    assert [(r.unit, r.srcc_mean) for r in both] == [
        ("class", rows[0].srcc_mean),
        ("row", 0.9),
    ]
    assert rows[0].per_seed["srcc"] == [0.5, -0.3]
    digest = config_hash({"x": 1})
    path = tmp_path / "r.json"
    write_json(path, {"config_hash": digest, "runs": runs, "bad": float("nan")})
    assert json.loads(path.read_text())["bad"] is None  # strict JSON
    assert load_finished(path, digest) == runs
    assert load_finished(path, config_hash({"x": 2})) == []
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0o600


def test_the_cli_raises_errors_for_cgnas_to_print(tmp_path) -> None:
    parser = argparse.ArgumentParser()
    register_evaluate(parser.add_subparsers())
    args = parser.parse_args(
        ["evaluate", "--target", "nb101", "--sources", "nb101", "--out", str(tmp_path / "r.json")]
    )
    assert args.shots == [0, 10, 20, 50]
    with pytest.raises(InvalidArgumentError, match="cannot be a source"):
        args.func(args)
    assert not (tmp_path / "r.json").exists()


TINY_SOURCE = SourceTraining.quick(
    encoder=EncoderConfig(dim=16, op_dim=8, num_layers=2),
    head=HeadConfig(hidden=(16,)),
    epochs=1,
    cells=40,
)
TINY = ProtocolConfig.quick(
    "nb301",
    sources=("nb201",),
    shots=(0, 5),
    seeds=2,
    settings="a",
    fine_tune_epochs=2,
    source=TINY_SOURCE,
)


def _spy_on_fit(monkeypatch, record) -> None:  # type: ignore[no-untyped-def]
    """Call ``record(model, families)`` before every source-training ``fit`` of the protocol."""
    import cg_predict.evaluate._protocol as protocol

    real_fit = protocol.fit

    def spy_fit(model, graphs, labels, families, **kw):  # type: ignore[no-untyped-def]
        record(model, families)
        return real_fit(model, graphs, labels, families, **kw)

    monkeypatch.setattr(protocol, "fit", spy_fit)


@pytest.mark.needs_data
def test_tiny_run_is_deterministic_and_resumable(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    seen_groups: list[str] = []
    import cg_predict.evaluate._protocol as protocol

    _spy_on_fit(monkeypatch, lambda model, families: seen_groups.extend(families))
    encoder = Encoder(EncoderConfig(dim=16, op_dim=8, num_layers=2))
    save_encoder(tmp_path / "enc.pt", encoder, {"pretraining_method": "cl"})
    tiny = dataclasses.replace(TINY, encoders=(str(tmp_path / "enc.pt"),))
    out = tmp_path / "r.json"
    first = evaluate(tiny, out=out, progress=False)
    assert seen_groups and {g.split("/")[0] for g in seen_groups} == {"nb201"}
    methods = {r.method for r in first.results}
    assert {
        "gnn-fine-tune",
        "gnn-head",
        "gnn-target-only",
        "gbm-flops-params-proxies",
        "proxy:synflow",
        "proxy:flops",
        "cl-fine-tune",
        "cl-head",
    } <= methods
    rows = first.rows("a", method="gnn-fine-tune", shots=5, unit=None)
    assert [r.unit for r in rows] == ["class", "row"]
    assert len(rows[0].per_seed["srcc"]) == 2 and 700 < rows[0].test_size <= rows[1].test_size
    assert EvaluationResult.read(out).results == first.results
    # every run seed trains its own source models (the supervised one and the encoder's), so
    # the zero-shot rows vary over seeds too
    assert len(list((tmp_path / "cache" / "evaluate").glob("source-*.pt"))) == 2 * 2
    assert set(first.metadata["source_training"]) == {"0", "1"}
    zero_shot = first.row("a", "gnn-fine-tune", 0).per_seed["srcc"]
    assert len(set(zero_shot)) == 2
    # same seed, same numbers: a fresh run (source model retrained) gives identical results
    for trained in (tmp_path / "cache" / "evaluate").glob("source-*.pt"):
        trained.unlink()
    out2 = tmp_path / "r2.json"
    second = evaluate(tiny, out=out2, progress=False)
    assert second.runs == first.runs
    # resuming: every (setting, seed) is finished, so nothing is recomputed
    monkeypatch.setattr(protocol, "few_shot_split", None)  # would fail if called
    third = evaluate(tiny, out=out2, progress=False)
    assert third.runs == first.runs


@pytest.mark.needs_data
def test_a_head_with_graph_features_runs_every_method(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    head = HeadConfig(hidden=(16,), graph_features=("log_flops", "log_params", "depth"))
    tiny = dataclasses.replace(TINY, seeds=1, source=dataclasses.replace(TINY_SOURCE, head=head))
    result = evaluate(tiny, progress=False)
    assert result.config["model"]["head"]["graph_features"] == ["log_flops", "log_params", "depth"]
    for method in ("gnn-fine-tune", "gnn-head"):  # zero-shot, full and head fine-tuning
        for shots in (0, 5):
            assert result.row("a", method, shots).srcc_mean is not None


@pytest.mark.needs_data
def test_zero_shot_flops_blend_rows(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    assert TINY.zero_shot_flops_weight == 0.75  # quick(): the target's chosen blend
    plain = evaluate(dataclasses.replace(TINY, seeds=1, zero_shot_flops_weight=0), progress=False)
    assert "gnn+flops" not in {r.method for r in plain.results}  # weight 0: no blend rows
    results = {
        w: evaluate(dataclasses.replace(TINY, seeds=1, zero_shot_flops_weight=w), progress=False)
        for w in (0.5, 1.0)
    }
    half = results[0.5]
    assert {r.shots for r in half.results if r.method == "gnn+flops"} == {0}
    assert half.config["zero_shot_flops_weight"] == 0.5
    assert half.row("a", "gnn+flops", 0).srcc_mean != half.row("a", "gnn-fine-tune", 0).srcc_mean
    # all weight on FLOPs: the cg-ir FLOPs ranking whatever the network predicts
    only_flops = results[1.0].row("a", "gnn+flops", 0).srcc_mean
    assert only_flops is not None and only_flops > 0.3  # FLOPs rank NB-301 cells positively
    assert half.row("a", "gnn-fine-tune", 0) == plain.row("a", "gnn-fine-tune", 0)
    with pytest.raises(InvalidArgumentError, match="zero_shot_flops_weight=1.5"):
        dataclasses.replace(TINY, zero_shot_flops_weight=1.5)


@pytest.mark.needs_data
def test_zero_shot_ensemble_rows_only_where_every_member_is(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    tiny = dataclasses.replace(TINY, seeds=1, zero_shot_ensemble=())  # the target's choice unset
    plain = evaluate(tiny, progress=False)
    both = evaluate(
        dataclasses.replace(tiny, zero_shot_ensemble={"network": 0.5, "flops": 0.5}),
        progress=False,
    )
    assert {r.shots for r in both.results if r.method == "gnn+ensemble"} == {0}
    assert both.config["zero_shot_ensemble"] == {"network": 0.5, "flops": 0.5}
    # the same blend as the FLOPs one at weight 0.5 (both rank the whole test set here)
    half = evaluate(dataclasses.replace(tiny, zero_shot_flops_weight=0.5), progress=False)
    assert both.row("a", "gnn+ensemble", 0).srcc_mean == pytest.approx(
        half.row("a", "gnn+flops", 0).srcc_mean
    )
    assert "zero_shot_ensemble" not in plain.config  # unset: the configuration keeps its hash
    # setting a has no live MeCo: no ensemble row there
    live = evaluate(
        dataclasses.replace(tiny, zero_shot_ensemble={"network": 0.5, "meco": 0.5}),
        progress=False,
    )
    assert "gnn+ensemble" not in {r.method for r in live.results}
    with pytest.raises(InvalidArgumentError, match="sum to 1"):
        dataclasses.replace(TINY, zero_shot_ensemble={"network": 0.5})


def _tiny_encoder(path, method: str) -> None:  # type: ignore[no-untyped-def]
    encoder = Encoder(EncoderConfig(dim=16, op_dim=8, num_layers=2))
    save_encoder(path, encoder, {"pretraining_method": method})


@pytest.mark.needs_data
def test_several_encoders_share_one_run_and_can_be_unfrozen(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    frozen_during_fit: list[bool] = []
    _spy_on_fit(
        monkeypatch,
        lambda model, _: frozen_during_fit.append(
            not any(p.requires_grad for p in model.encoder.parameters())
        ),
    )
    _tiny_encoder(tmp_path / "a.pt", "cl-a")
    _tiny_encoder(tmp_path / "b.pt", "cl-b")
    tiny = dataclasses.replace(
        TINY,
        seeds=1,
        encoders=(str(tmp_path / "a.pt"), str(tmp_path / "b.pt")),
        unfreeze_encoder=True,
    )
    result = evaluate(tiny, progress=False)
    methods = {r.method for r in result.results}
    assert {"gnn-fine-tune", "cl-a-fine-tune", "cl-a-head", "cl-b-fine-tune"} <= methods
    # the CL models' two-stage schedule has its supervised control, with as many fits
    assert {"supervised-2stage-fine-tune", "supervised-2stage-head"} <= methods
    # supervised: one end-to-end fit; its control two; each encoder: frozen head fit, then
    # unfrozen fit
    assert frozen_during_fit == [False, False, False, True, False, True, False]
    trained = result.metadata["source_training"]["0"]  # run seed 0's source models
    assert set(trained["supervised-2stage"]) >= {"fit", "fit_unfrozen"}
    assert set(trained["cl-a"]) >= {"fit", "fit_unfrozen"}
    assert result.config["unfreeze_encoder"] is True


def test_encoders_must_add_distinct_rows(tmp_path) -> None:
    _tiny_encoder(tmp_path / "a.pt", "cl-a")
    _tiny_encoder(tmp_path / "b.pt", "cl-a")
    tiny = dataclasses.replace(TINY, encoders=(str(tmp_path / "a.pt"), str(tmp_path / "b.pt")))
    with pytest.raises(InvalidArgumentError, match="distinct pretraining methods"):
        evaluate(tiny, progress=False)


@pytest.mark.needs_data
def test_setting_b_scores_live_proxies_on_a_sample(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    tiny = dataclasses.replace(TINY, settings=("b",), seeds=1, live_sample_size=4)
    result = evaluate(tiny, progress=False)
    assert result.settings == ("b", "b-live")
    by_setting: dict[str, set[str]] = {}
    for row in result.results:
        by_setting.setdefault(row.setting, set()).add(row.method)
    live = {f"proxy:{p}" for p in NETWORK_PROXIES}
    assert live <= by_setting["b-live"] and not live & by_setting["b"]
    assert {"gnn-fine-tune", "gbm-flops-params-proxies", "proxy:flops"} <= by_setting["b-live"]
    sizes = {r.test_size for r in result.rows("b-live", unit=None)}
    assert sizes and max(sizes) <= 4
    # the scores come back from the on-disk cache: same numbers without recomputing
    monkeypatch.setattr("cg_predict.proxies.agreement.compute_proxies", _cached_only)
    again = evaluate(tiny, progress=False)
    assert again.runs == result.runs


def _cached_only(*args, cache, **kwargs):  # type: ignore[no-untyped-def]
    """``compute_proxies`` that fails unless every score is a cache hit."""
    scores = compute_proxies(*args, cache=cache, **kwargs)
    assert all(s.cached for s in scores.values())
    return scores


def _twin_cells(hashes: list[str], labels: list[float], proxy: list[float]) -> CellSet:
    """Cells that share one small graph, with the given isomorphism classes (hashes)."""
    g = ComputationGraph(
        [
            Node("input", (3, 8, 8), (3, 8, 8)),
            Node("relu", (3, 8, 8), (3, 8, 8)),
            Node("output", (3, 8, 8), (3, 8, 8)),
        ],
        [(0, 1), (1, 2)],
    )
    packed = GraphSet.from_graphs([g] * len(hashes))
    gs = GraphSet(packed.x, packed.op, packed.edge_index, packed.node_ptr, packed.edge_ptr, hashes)
    keys = tuple(str(i) for i in range(len(hashes)))
    return CellSet("toy", "cifar10", "toy", keys, np.asarray(labels), gs, {"p": np.asarray(proxy)})


def test_rows_are_scored_per_isomorphism_class_and_per_row() -> None:
    # class A: 10 twins whose mean label (5) is the best, though 9 of them have the worst;
    # the proxy ranks the four classes perfectly, the 13 rows badly
    hashes = ["A"] * 10 + ["B", "C", "D"]
    cells = _twin_cells(hashes, [0.0] * 9 + [50.0, 1.0, 2.0, 3.0], [4.0] * 10 + [1.0, 2.0, 3.0])
    test = np.arange(len(hashes))
    split = FewShotSplit({0: np.zeros(0, np.int64)}, test)
    net = PredictorNet.from_config(TINY_SOURCE.model())
    trained = Models({"gnn": net}, {"gnn": torch.from_numpy(embed(net.encoder, cells.graphs))}, {})
    view = View("a", np.ones(len(test), dtype=bool), cells.proxies)
    runs = seed_rows(trained, cells, split, [view], np.zeros((13, 1)), {}, 0.0, 0, "cpu")
    by = {(r["method"], r["unit"]): r for r in runs}
    assert by["proxy:p", "class"]["srcc"] == pytest.approx(1.0)
    assert by["proxy:p", "class"]["test_size"] == 4
    assert by["proxy:p", "row"]["srcc"] < -0.5 and by["proxy:p", "row"]["test_size"] == 13
    # the GNN scores one graph for all: tied, so undefined per class as per row
    assert {(m, u) for m, u in by} == {
        (m, u) for m in ("gnn-fine-tune", "gnn-head", "proxy:p") for u in ("class", "row")
    }
    assert by["gnn-head", "class"]["test_size"] == 4
    rows = summarize_runs(runs)
    assert [(r.method, r.unit) for r in rows][-2:] == [
        ("proxy:p", "class"),
        ("proxy:p", "row"),
    ]


def test_a_prediction_without_any_score_has_no_metric() -> None:
    # a proxy that failed on every cell: undefined, as its SRCC is, not a random order's top-k
    y = np.array([1.0, 2.0, 3.0, 4.0])
    units = score_units(y, np.full(4, np.nan), ["a", "b", "c", "c"], with_mae=False)
    assert {unit: set(metrics.values()) for unit, (_, metrics) in units.items()} == {
        "class": {None},
        "row": {None},
    }
    partial = score_units(y, np.array([1.0, 2.0, 3.0, np.nan]), list("abcd"), with_mae=False)
    assert partial["row"][1]["srcc"] == pytest.approx(-0.2)  # a NaN score still ranks last


def test_a_resumed_result_holds_exactly_the_configured_seeds(tmp_path, monkeypatch) -> None:
    import cg_predict.evaluate._protocol as protocol

    # the file has seeds 0-4 finished; the run asks for runs 1 and 2, so nothing is computed
    cells = _twin_cells(["A", "B", "C"], [1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    monkeypatch.setattr(protocol, "source_cells", lambda *args, **kwargs: cells)
    monkeypatch.setattr(protocol, "target_cells", lambda *args, **kwargs: cells)
    config = dataclasses.replace(TINY, seeds=3, first_seed=1)
    run = {"setting": "a", "method": "proxy:p", "shots": 0, "unit": "class", "test_size": 3}
    out = tmp_path / "r.json"
    runs = [{**run, "seed": seed, "srcc": seed / 10} for seed in range(5)]
    code = code_digest(*protocol.RESULTS_CODE)
    write_json(out, {"config_hash": config.digest(), "code_digest": code, "runs": runs})
    result = evaluate(config, out=out, progress=False)
    assert [r["seed"] for r in result.runs] == [1, 2] == result.metadata["seeds"]
    row = result.row("a", "proxy:p", 0)
    assert row.seeds == (1, 2) and row.srcc_mean == pytest.approx(0.15)
    assert EvaluationResult.read(out).results == result.results


def test_a_zero_shot_blend_is_ranked_on_the_cells_of_its_view(toy_data) -> None:
    # b-live holds a third of setting b's test cells: its +flops and +ensemble rows must be the
    # blends of those cells' rankings, as a run on those cells alone computes them
    graphs, labels = toy_data(60)
    gs = GraphSet.from_graphs(graphs, hashes=True)
    cells = CellSet("nb201", "cifar10", "toy", tuple(map(str, range(60))), labels, gs)
    torch.manual_seed(0)
    net = PredictorNet.from_config(TINY_SOURCE.model())
    embedding = torch.from_numpy(embed(net.encoder, cells.graphs))
    live = np.arange(60) % 3 == 0
    arguments = {"flops_weight": 0.5, "seed": 0, "device": "cpu"}
    ensemble = {"network": 0.5, "params": 0.5}

    def rows(cells: CellSet, embedding: torch.Tensor, views: list[View]) -> dict[tuple, dict]:
        split = FewShotSplit({0: np.zeros(0, np.int64)}, np.arange(len(cells)))
        trained = Models({"gnn": net}, {"gnn": embedding}, {})
        runs = seed_rows(
            trained,
            cells,
            split,
            views,
            np.zeros((len(cells), 1)),
            {},
            **arguments,
            ensemble=ensemble,
        )
        return {(r["setting"], r["method"], r["unit"]): r for r in runs}

    whole = np.ones(60, dtype=bool)
    both = rows(cells, embedding, [View("b", whole, {}), View("b-live", live, {})])
    alone = rows(
        cells.subset(np.flatnonzero(live)), embedding[live], [View("b-live", whole[:20], {})]
    )
    for method in ("gnn+flops", "gnn+ensemble"):
        for unit in ("class", "row"):
            assert both["b-live", method, unit] == pytest.approx(alone["b-live", method, unit])
    assert both["b", "gnn+flops", "row"]["test_size"] == 60


def test_supervised_two_stage_control_fits_the_whole_network_twice(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    hashes = [f"h{i % 9}" for i in range(24)]
    source = _twin_cells(hashes, list(np.linspace(0.0, 1.0, 24)), [0.0] * 24)
    source = dataclasses.replace(source, family="nb201")
    train = dataclasses.replace(TINY_SOURCE, epochs=2, loss="mse", batch_size=8)
    fits: list[bool] = []
    _spy_on_fit(
        monkeypatch, lambda model, _: fits.append(all(p.requires_grad for p in model.parameters()))
    )
    _, one = _train_source([source], "nb301", train, None, "cpu", False)
    _, two = _train_source([source], "nb301", train, None, "cpu", False, second_stage=True)
    assert fits == [True, True, True]  # one fit, then two, every one of the whole network
    assert "fit_unfrozen" not in one and two["fit_unfrozen"]["epochs_run"] == 2
