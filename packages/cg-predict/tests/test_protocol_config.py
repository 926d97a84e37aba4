"""The protocol's configuration and results types: ``ProtocolConfig`` and ``EvaluationResult``.

No benchmark data needed: ``assets/evaluate-r.json`` is an ``r.json`` written by the protocol
before these types existed (NB-201, setting a, two seeds; a few rows kept).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from types import MappingProxyType

import pytest

from cg_predict.encoder import EncoderConfig
from cg_predict.errors import InvalidArgumentError
from cg_predict.evaluate import (
    DEFAULT_MODEL,
    FAMILIES,
    SELECTED_MODELS,
    EvaluationResult,
    ProtocolConfig,
    ResultRow,
    SourceTraining,
    _config,
)
from cg_predict.evaluate.cli import evaluate_arguments, protocol_config, register_evaluate
from cg_predict.head import HeadConfig
from cg_predict.proxies import DEFAULT_BATCH_SIZE

OLD_RESULTS = Path(__file__).parent / "assets" / "evaluate-r.json"


def test_full_defaults_are_the_reported_protocol() -> None:
    config = ProtocolConfig.full("nb101")
    assert (config.dataset, config.sources, config.shots, config.seeds) == (
        "cifar10",
        ("nb201", "nb301", "ofa-mbv3", "cbm-mobilenet", "cbm-resnet"),
        (0, 10, 20, 50),
        5,
    )
    assert config.settings == ("a", "b") and config.reported_settings == ("a", "b", "b-live")
    assert (config.fine_tune_epochs, config.test_cells, config.live_sample_size) == (100, None, 200)
    assert config.live_batch_size == DEFAULT_BATCH_SIZE and config.mode == "full"
    source = config.source
    # the source training chosen without the targets' labels (selection-zero-shot.json)
    assert (source.epochs, source.patience, source.cells, source.seed) == (12, 4, None, 0)
    assert (source.lr, source.family_cells, config.zero_shot_flops_weight) == (2e-3, 3000, 0.75)
    # the bare constructor keeps the package defaults
    bare = ProtocolConfig("nb101")
    assert (bare.source.epochs, bare.source.family_cells, bare.zero_shot_flops_weight) == (
        40,
        None,
        0.0,
    )
    # the samples of cells are seeded apart from the run seeds
    assert (source.sample_seed, config.test_sample_seed, config.live_sample_seed) == (
        20240,
        20240,
        20241,
    )
    assert ProtocolConfig("ofa-mbv3").dataset == "imagenet"
    assert ProtocolConfig("nb201", settings="b").settings == ("b", "b-all")


def test_quick_defaults_live_in_the_quick_constructors() -> None:
    quick = ProtocolConfig.quick("nb201")
    assert (quick.seeds, quick.test_cells, quick.live_sample_size, quick.live_batch_size) == (
        3,  # training is involved: at least 3 seeds, also in quick mode
        1000,
        8,
        8,
    )
    assert quick.source == SourceTraining.for_target("nb201", quick=True)
    # the quick cells cap; epochs and patience are the target's chosen source training
    assert (quick.source.epochs, quick.source.patience, quick.source.cells) == (12, 4, 600)
    assert quick.fine_tune_epochs == 100  # fine-tuning is not shortened in quick mode
    assert quick.to_dict()["quick"] is True and ProtocolConfig("nb201").to_dict()["quick"] is False
    # overrides win over the mode's defaults
    assert ProtocolConfig.quick("nb201", seeds=4, live_sample_size=0).seeds == 4
    assert SourceTraining.quick(cells=100).epochs == 10


def test_every_target_reads_cost_features_and_the_embedding() -> None:
    assert set(SELECTED_MODELS) == set(FAMILIES)
    for make in (ProtocolConfig.full, ProtocolConfig.quick):
        for target in FAMILIES:
            source = make(target).source
            assert source.encoder == EncoderConfig()
            assert source.head == HeadConfig(graph_features=("log_flops", "log_params", "depth"))


def test_each_target_runs_the_model_chosen_on_its_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen = {"encoder": {"readout": "attention"}, "head": {"graph_features": ("depth",)}}
    monkeypatch.setattr(_config, "SELECTED_MODELS", MappingProxyType({"nb201": chosen}))
    for make in (ProtocolConfig.full, ProtocolConfig.quick):
        source = make("nb201").source
        assert (source.encoder.readout, source.head.graph_features) == ("attention", ("depth",))
        assert make("nb101").source.encoder == EncoderConfig()
    # sizes follow the mode, the model the target; an explicit source wins
    assert SourceTraining.for_target("nb201", quick=True).cells == 600
    assert SourceTraining.for_target("nb201", cells=7).encoder.readout == "attention"
    explicit = ProtocolConfig.full("nb201", source=SourceTraining())
    assert explicit.source.encoder.readout == "mean-sum"
    # a family outside the protocol (a search space) gets the default
    assert SourceTraining.for_target("resnet") == SourceTraining()
    # the CLI runs the target's choice with its own options on top
    parser = argparse.ArgumentParser()
    register_evaluate(parser.add_subparsers())
    argv = ["evaluate", "--target", "nb201", "--quick", "--source-cells", "50", "--out", "r"]
    source = protocol_config(parser.parse_args(argv)).source
    assert (source.encoder.readout, source.cells, source.epochs) == ("attention", 50, 10)
    assert source.head.graph_features == ("depth",)


def test_model_defaults_come_from_the_encoder_and_head_configs() -> None:
    assert DEFAULT_MODEL == {"encoder": EncoderConfig().to_dict(), "head": HeadConfig().to_dict()}
    assert DEFAULT_MODEL["encoder"]["readout"] == "mean-sum"
    # the head reads the encoder's width, whatever its own default
    narrow = SourceTraining(encoder=EncoderConfig(dim=16, op_dim=8))
    assert narrow.head.in_dim == 16 and narrow.model()["head"]["in_dim"] == 16


def test_digest_is_stable_and_sees_every_number_changing_field(tmp_path) -> None:
    base = ProtocolConfig.quick("nb301", settings="a")
    again = ProtocolConfig.quick("nb301", settings=("a",), shots=[50, 0, 10, 20, 0])
    assert base.digest() == again.digest()
    assert len(base.digest()) == 64 and base.digest() == json.loads(json.dumps(base.digest()))
    # the number of seeds is not part of it: more seeds extend a results file
    assert dataclasses.replace(base, seeds=5).digest() == base.digest()
    changed = [
        dataclasses.replace(base, shots=(0, 10)),
        dataclasses.replace(base, fine_tune_epochs=50),
        dataclasses.replace(base, fine_tune_lr=1e-2),
        dataclasses.replace(base, sources=("nb101",)),
        dataclasses.replace(base, test_cells=None),
        dataclasses.replace(base, source=SourceTraining.quick(seed=1)),
        dataclasses.replace(base, source=SourceTraining.quick(sample_seed=1)),
        dataclasses.replace(base, test_sample_seed=1),
        dataclasses.replace(base, live_sample_seed=1),
        dataclasses.replace(base, source=SourceTraining.quick(cells=100)),
        dataclasses.replace(
            base, source=SourceTraining.quick(encoder=EncoderConfig(readout="mean"))
        ),
        ProtocolConfig.full("nb301", settings="a"),
    ]
    digests = {c.digest() for c in changed}
    assert base.digest() not in digests and len(digests) == len(changed)
    # an encoder is identified by its weights: same path, other bytes, other digest
    encoder = tmp_path / "enc.pt"
    encoder.write_bytes(b"one")
    with_encoder = dataclasses.replace(base, encoders=(str(encoder),))
    first = with_encoder.digest()
    encoder.write_bytes(b"two")
    assert with_encoder.digest() != first


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"target": "nb999"}, "unknown target 'nb999'; valid: nb101, nb201, nb301, ofa-mbv3"),
        ({"target": "nb101", "dataset": "cifar100"}, "nb101 has no dataset 'cifar100'"),
        ({"target": "nb201", "sources": ("nb101", "nb201")}, "cannot be a source"),
        ({"target": "nb201", "sources": ("nb101", "resnet")}, "must be among"),
        ({"target": "nb101", "shots": (1,)}, "shots of 0 or >= 2"),
        ({"target": "nb101", "seeds": 0}, "need seeds >= 1"),
        ({"target": "ofa-mbv3", "settings": "a"}, "ofa-mbv3 has no test setting ['a']"),
        ({"target": "nb301", "live_sample_size": -1}, "live_sample_size=-1 must be 0"),
        ({"target": "nb301", "fine_tune_loss": "l1"}, "fine_tune_loss='l1' is not valid"),
        ({"target": "nb301", "mode": "fast"}, "mode='fast' is not valid"),
    ],
)
def test_invalid_configs_are_refused_with_the_protocols_messages(fields, message) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        ProtocolConfig(**fields)
    assert message in str(info.value)


def test_invalid_source_training_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="epochs=0"):
        SourceTraining(epochs=0)
    with pytest.raises(InvalidArgumentError, match="loss='l1'"):
        SourceTraining(loss="l1")
    with pytest.raises(InvalidArgumentError, match="source cells=0"):
        SourceTraining.quick(cells=0)


def test_the_cli_builds_the_config_of_its_options() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    register_evaluate(parser.add_subparsers())
    argv = ["evaluate", "--target", "nb201", "--out", "r.json", "--quick", "--setting", "a"]
    quick = protocol_config(parser.parse_args([*argv, "--source-cells", "100", "--seeds", "4"]))
    source = SourceTraining.for_target("nb201", quick=True, cells=100)
    assert quick == ProtocolConfig.quick("nb201", settings="a", seeds=4, source=source)
    full = protocol_config(parser.parse_args(["evaluate", "--target", "nb101", "--out", "r.json"]))
    assert full == ProtocolConfig.full("nb101")
    mse = protocol_config(
        parser.parse_args(["evaluate", "--target", "nb101", "--out", "r", "--loss", "mse"])
    )
    assert mse.source.loss == mse.fine_tune_loss == "mse"


def _run(method: str, shots: int, seed: int, srcc: float | None, unit: str = "class") -> dict:
    return {
        "setting": "a",
        "method": method,
        "shots": shots,
        "unit": unit,
        "seed": seed,
        "test_size": 10,
        "srcc": srcc,
        "kendall": None if srcc is None else srcc / 2,
    }


def _result() -> EvaluationResult:
    runs = [
        _run(method, k, seed, value + 0.01 * seed)
        for method, value in (("gnn-fine-tune", 0.5), ("proxy:flops", 0.4), ("proxy:nwot", 0.7))
        for k in (0, 10)
        for seed in (0, 1)
    ]
    runs += [_run("gnn-fine-tune", 10, s, 0.3, unit="row") for s in (0, 1)]
    runs += [_run("proxy:snip", 0, s, None) for s in (0, 1)]  # undefined: never the best
    return EvaluationResult.from_runs({"shots": [0, 10], "settings": ["a"]}, "h", "c", {}, runs)


def test_rows_are_looked_up_by_setting_method_shots_and_unit() -> None:
    result = _result()
    row = result.row("a", "gnn-fine-tune", 10)
    assert isinstance(row, ResultRow) and row.unit == "class" and row.seeds == (0, 1)
    assert row.srcc_mean == pytest.approx(0.505)
    assert result.row("a", "gnn-fine-tune", 10, "row").srcc_mean == pytest.approx(0.3)
    assert result.row("a", "gnn-fine-tune", 10, "row").srcc_std == 0.0
    assert result.find("a", "gnn-head", 10) is None
    assert [r.method for r in result.rows("a", shots=0)] == [
        "gnn-fine-tune",
        "proxy:flops",
        "proxy:nwot",
        "proxy:snip",
    ]
    assert (result.shots, result.settings) == ((0, 10), ("a",))


def test_a_missing_row_is_an_error_naming_what_exists() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        _result().row("a", "gnn-head", 10)
    message = str(info.value)
    assert "gnn-head" in message and "gnn-fine-tune" in message and "proxy:nwot" in message
    with pytest.raises(InvalidArgumentError, match="setting='b'"):
        _result().row("b", "gnn-fine-tune", 10)


def test_best_proxy_is_the_oracle_pick_on_the_test_cells() -> None:
    result = _result()
    best = result.best_proxy("a", 0)
    assert best is not None and best.method == "proxy:nwot"
    assert result.best_proxy("a", 0, "row") is None  # no proxy was scored per row
    header, rows = result.table("a", ["gnn-fine-tune", "gnn-head"])
    assert header == ["shots", "gnn-fine-tune", "gnn-head", "best proxy (oracle)"]
    assert rows[0] == ["0", "+0.505 ± 0.007", "–", "+0.705 ± 0.007 (nwot)"]
    assert [r[0] for r in rows] == ["0", "10"]


def test_json_round_trip(tmp_path) -> None:
    result = _result()
    assert EvaluationResult.from_json(result.to_json()) == result
    path = tmp_path / "r.json"
    result.write(path)
    document = json.loads(path.read_text())
    assert sorted(document) == [
        "code_digest",
        "config",
        "config_hash",
        "metadata",
        "results",
        "runs",
    ]
    assert EvaluationResult.read(path) == result


def test_an_r_json_of_the_earlier_protocol_code_is_read() -> None:
    document = json.loads(OLD_RESULTS.read_text())
    result = EvaluationResult.read(OLD_RESULTS)
    assert result.config_hash == document["config_hash"]
    assert result.to_json()["results"] == document["results"]  # rows keep their layout
    row = result.row("a", "gnn-fine-tune", 10)
    stored = next(
        r
        for r in document["results"]
        if (r["method"], r["shots"], r["unit"]) == ("gnn-fine-tune", 10, "class")
    )
    for name in ("setting", "method", "shots", "test_size", "srcc_mean", "srcc_std", "unit"):
        assert getattr(row, name) == stored[name]
    assert result.shots == (0, 10) and result.settings == ("a",)
    # a row written before units existed was scored on every test cell
    legacy = {k: v for k, v in document["results"][0].items() if k != "unit"}
    assert ResultRow.from_dict(legacy).unit == "row"


def test_a_file_that_is_not_a_results_document_is_refused(tmp_path) -> None:
    path = tmp_path / "r.json"
    path.write_text("[1, 2]")
    with pytest.raises(InvalidArgumentError, match="not an evaluate results document"):
        EvaluationResult.read(path)
    path.write_text("{")
    with pytest.raises(InvalidArgumentError, match="cannot read results"):
        EvaluationResult.read(path)
    with pytest.raises(InvalidArgumentError, match="no field 'method'"):
        ResultRow.from_dict({"setting": "a"})


def test_one_run_can_be_done_alone() -> None:
    config = ProtocolConfig.quick("nb201", seeds=4, first_seed=3)
    assert list(config.runs) == [3] and list(ProtocolConfig("nb201").runs) == [0, 1, 2, 3, 4]
    assert config.digest() == ProtocolConfig.quick("nb201").digest()  # runs extend a file
    with pytest.raises(InvalidArgumentError, match="first_seed=4 must lie in 0 .. seeds - 1"):
        ProtocolConfig("nb201", seeds=4, first_seed=4)


def test_an_inner_fold_evaluates_a_held_out_source() -> None:
    base = ProtocolConfig.full("ofa-mbv3", seeds=2, live_sample_size=50)
    fold = base.for_fold(("nb201", ("nb101", "nb301")))
    assert (fold.target, fold.dataset, fold.sources) == ("nb201", "cifar10", ("nb101", "nb301"))
    assert (fold.settings, fold.live_sample_size, fold.seeds) == (("a",), 0, 2)
    assert fold.source == base.source


@pytest.mark.parametrize(
    "argv",
    [
        ["--target", "nb201", "--dataset", "cifar100", "--live-proxies", "0"],
        ["--target", "nb101", "--source-cells", "2000", "--epochs", "25", "--setting", "b"],
        ["--target", "nb201", "--quick", "--setting", "b", "--seeds", "4", "--loss", "mse"],
        ["--target", "ofa-mbv3", "--sources", "nb201,nb301", "--shots", "0,50"],
        ["--target", "nb301", "--family-cells", "4096", "--zero-shot-flops-weight", "0.25"],
        ["--target", "cbm-resnet", "--family-cells", "all", "--zero-shot-flops-weight", "0"],
    ],
)
def test_a_results_file_gives_the_command_that_runs_it_again(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    register_evaluate(parser.add_subparsers())
    config = protocol_config(parser.parse_args(["evaluate", *argv, "--out", "r.json"]))
    again = evaluate_arguments(config.to_dict(), seeds=config.seeds)
    assert protocol_config(parser.parse_args([*again, "--out", "r.json"])) == config


def test_family_cells_option_takes_a_count_or_all(capsys) -> None:
    parser = argparse.ArgumentParser()
    register_evaluate(parser.add_subparsers())
    base = ["evaluate", "--target", "nb101", "--out", "r.json"]
    assert (
        protocol_config(parser.parse_args([*base, "--family-cells", "all"])).source.family_cells
        is None
    )
    assert (
        protocol_config(parser.parse_args([*base, "--family-cells", "9"])).source.family_cells == 9
    )
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--family-cells", "0"])
    assert "neither a positive count nor 'all'" in capsys.readouterr().err


def test_a_run_with_encoders_has_no_command(tmp_path: Path) -> None:
    encoder = tmp_path / "e.pt"
    encoder.write_bytes(b"weights")
    stored = ProtocolConfig.quick("nb101", encoders=(str(encoder),)).to_dict()
    with pytest.raises(InvalidArgumentError, match="name them with --encoder"):
        evaluate_arguments(stored, seeds=3)
