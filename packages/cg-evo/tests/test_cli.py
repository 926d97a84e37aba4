"""``cgnas search``: a tiny run end to end, and one-line errors (exit 2, no output file)."""

from __future__ import annotations

import json

import pytest

from cg_ir.cli import build_parser, main


def _search(path, *extra: str) -> list[str]:
    return ["search", "--family", "nb201", "--no-progress", "--out", str(path), *extra]


HANDLER, USAGE = "cgnas: error: ", "cgnas search: error: "


def _one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith((HANDLER, USAGE)), err
    assert "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_search_is_a_cgnas_command(capsys) -> None:
    assert main(["search", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--strategy" in out and "--max-flops" in out and "predictor-ea" in out


@pytest.mark.needs_data
def test_search_writes_results(tmp_path, capsys) -> None:
    path = tmp_path / "s.json"
    argv = ["--strategy", "cost-order", "--budget", "10", "--seeds", "2"]
    assert main(_search(path, *argv)) == 0
    data = json.loads(path.read_text())
    assert data["config"]["strategy"] == "cost-order" and data["config"]["queries"] == 10
    assert [r["seed"] for r in data["runs"]] == [0, 1]
    assert all(len(r["best_so_far"]) == 10 for r in data["runs"])
    assert data["summary"]["seeds"] == 2
    out = capsys.readouterr().out
    assert "cost-order on nb201 cifar10" in out and str(path) in out


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        # raised by the handler, printed by cgnas
        (["--family", "nb999"], [HANDLER, "nb999", "nb201, nb101, nb301, ofa-mbv3"]),
        (["--family", "resnet"], [HANDLER, "'resnet'", "no labelled pool"]),  # no oracle
        (["--max-flops", "abc"], [HANDLER, "'abc'", "K/M/G/T"]),
        # usage errors of argparse
        (["--budget", "0"], [USAGE, "--budget", "'0' is not a positive integer"]),
        (["--seeds", "-3"], [USAGE, "--seeds"]),
        (["--strategy", "bayesopt"], [USAGE, "--strategy", "bayesopt"]),
    ],
    ids=["unknown-family", "no-oracle", "bad-amount", "zero-budget", "bad-seeds", "strategy"],
)
def test_bad_inputs_exit_2_without_output(tmp_path, capsys, argv, needles) -> None:
    path = tmp_path / "s.json"
    assert main(_search(path, *argv)) == 2
    _one_line_error(capsys, *needles)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.needs_data
def test_a_cost_the_space_lacks_exits_2(tmp_path, capsys) -> None:
    path = tmp_path / "s.json"
    assert main(_search(path, "--strategy", "random", "--max-latency", "1M")) == 2
    _one_line_error(capsys, HANDLER, "no latency cost", "flops, params")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.needs_data
def test_an_impossible_budget_exits_2(tmp_path, capsys) -> None:
    path = tmp_path / "s.json"
    assert main(_search(path, "--strategy", "random", "--max-params", "1")) == 2
    _one_line_error(capsys, HANDLER, "fits the budget", "params <= 1")
    assert list(tmp_path.iterdir()) == []


def test_out_has_the_short_alias_and_progress_both_spellings() -> None:
    parser = build_parser("search")
    for out in ("-o", "--out"):
        args = parser.parse_args(["search", "--family", "nb201", out, "s.json"])
        assert args.out == "s.json" and args.progress is True
    args = parser.parse_args(["search", "--family", "nb201", "-o", "s.json", "--no-progress"])
    assert args.progress is False


def test_strategy_defaults_are_the_packages() -> None:
    from cg_evo.strategies import StrategySettings

    args = build_parser("search").parse_args(["search", "--family", "nb201", "-o", "s.json"])
    defaults = StrategySettings()
    for name in (
        "population",
        "mutants",
        "per_generation",
        "random_per_generation",
        "random_after_stall",
        "warm_start",
        "cost",
    ):
        assert getattr(args, name) == getattr(defaults, name), name


@pytest.mark.parametrize(
    "space",
    ["NB-201 CIFAR-10", "NB-101 CIFAR-10", "NB-301 CIFAR-10", "OFA-MobileNetV3, MACs ≤ 300M"],
)
def test_search_runs_with_the_selected_settings_unless_told_otherwise(space) -> None:
    """Options not given take the search selections' choices for the family and strategy, as
    the ``search`` experiment runs them (``cg_evo.experiments.goal_config``); given ones win."""
    from dataclasses import replace

    from cg_evo.cli import search_config
    from cg_evo.experiments import GOAL_SPACES, goal_config

    family = GOAL_SPACES[space][0]
    parser = build_parser("search")
    for strategy in ("predictor-ea", "predictor-ls", "cost-local-search", "rea"):
        argv = ["search", "--family", family, "--strategy", strategy, "-o", "s"]
        config = search_config(parser.parse_args(argv))
        experiment = goal_config(space, strategy)  # its proxy sample is the experiment's own
        assert config.settings == replace(experiment.settings, proxy_candidates=None), strategy
        assert config.fine_tune.members == experiment.fine_tune.members, strategy
    told = ["--warm-design", "cost", "--at-local-optimum", "widen", "--members", "2"]
    argv = ["search", "--family", family, "--strategy", "predictor-ls", "-o", "s", *told]
    config = search_config(parser.parse_args(argv))
    assert config.settings.warm_design == "cost" and config.settings.at_local_optimum == "widen"
    assert config.fine_tune.members == 2


def test_strategy_choices_are_every_registered_strategy() -> None:
    from cg_evo import strategies
    from cg_evo.names import BUILTIN_STRATEGIES

    assert set(BUILTIN_STRATEGIES) == set(strategies._BUILTIN)  # one class under each name
    parser = build_parser("search")
    for name in strategies.names():
        args = parser.parse_args(["search", "--family", "nb201", "-o", "s", "--strategy", name])
        assert args.strategy == name
    with pytest.raises(SystemExit):
        parser.parse_args(["search", "--family", "nb201", "-o", "s", "--strategy", "bayesopt"])


def test_warm_design_choices_are_the_packages() -> None:
    from cg_evo.strategies._base import WARM_DESIGNS

    parser = build_parser("search")
    for design in WARM_DESIGNS:
        args = parser.parse_args(
            ["search", "--family", "nb201", "-o", "s", "--warm-design", design]
        )
        assert args.warm_design == design
    with pytest.raises(SystemExit):
        parser.parse_args(["search", "--family", "nb201", "-o", "s", "--warm-design", "lhs"])
