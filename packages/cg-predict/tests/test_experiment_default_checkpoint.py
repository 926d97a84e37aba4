"""``default-checkpoint``: the shipped checkpoint's recipe, trained by ``cgnas reproduce``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from cg_ir.experiments import ReproduceConfig, run_experiment
from cg_predict import Predictor
from cg_predict.experiments.default_checkpoint import CheckpointRecipe, sampled_cells

TINY = CheckpointRecipe(
    nb201=40,
    nb101=40,
    nb301=40,
    ofa=40,
    cbm=40,
    epochs=1,
    held_out="nb301",
    held_out_cells=40,
    held_out_seeds=2,
    held_out_live=0,
)


def test_the_shipped_checkpoint_records_the_recipe_defaults() -> None:
    training = Predictor.default().metadata["training"]
    assert CheckpointRecipe.from_metadata(training) == CheckpointRecipe()


@pytest.mark.needs_data
def test_sampled_cells_are_those_the_shipped_checkpoint_trained_on(data_dir: Path) -> None:
    shipped = Predictor.default().metadata
    recipe = CheckpointRecipe.from_metadata(shipped["training"])
    drawn = [(t.name, len(pick), len(t)) for t, pick in sampled_cells(recipe, data_dir)]
    assert drawn == [(t["benchmark"], t["count"], t["of"]) for t in shipped["trained_on"]]


def _run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    force: bool = False,
    recipe: CheckpointRecipe = TINY,
) -> Path:
    monkeypatch.setattr(CheckpointRecipe, "quick", classmethod(lambda cls: recipe))
    config = ReproduceConfig(out=tmp_path, progress=False, force=force)
    record = run_experiment("default-checkpoint", config)
    assert record.status == "ran", record.message
    return tmp_path / "default-checkpoint"


@pytest.mark.needs_data
def test_a_run_writes_the_checkpoint_its_note_and_the_zero_shot_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _run(tmp_path, monkeypatch)
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["files"] == ["default.pt", "default.md", "zero-shot.csv", "zero-shot.png"]
    meta = Predictor.load(folder / "default.pt").metadata
    assert meta["training"] == dataclasses.asdict(TINY)
    assert [t["family"] for t in meta["trained_on"]] == [
        "nb201", "nb101", "nb301", "ofa-mbv3", "cbm-mobilenet", "cbm-resnet"
    ]  # fmt: skip
    # validation SRCC per isomorphism class, beside the per-cell one (NB-201 has twins)
    assert set(meta["val_srcc"]) == {t["family"] for t in meta["trained_on"]}
    assert set(meta["val_srcc"]["nb201"]) == {"per_class", "per_cell", "classes"}
    [held_out] = meta["held_out_zero_shot"]
    assert (held_out["family"], held_out["cells"], held_out["flops_weight"]) == ("nb301", 40, 0.75)
    # one model per training seed, summarised by the mean and the sample std
    runs = held_out["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    per_seed = [r["srcc"] for r in runs]
    assert held_out["srcc"] == pytest.approx(sum(per_seed) / 2, abs=1e-4)
    assert held_out["srcc_std"] == pytest.approx(abs(per_seed[0] - per_seed[1]) / 2**0.5, abs=1e-4)
    assert provenance["seeds"] == [0, 1]
    # per cell beside per class: the network and its blend as means over the seeds
    per_cell = held_out["per_cell"]
    assert set(per_cell) == {"network", "network + FLOPs", "FLOPs", "params"}
    assert per_cell["network"] == pytest.approx(
        sum(r["per_cell"]["network"] for r in runs) / 2, abs=1e-4
    )
    assert provenance["headline"] == {
        "nb301": {
            "network + FLOPs": held_out["srcc_blend"]["0.75"],
            "FLOPs": held_out["srcc_flops"],
        }
    }
    note = (folder / "default.md").read_text()
    assert "quick mode" in note and "| nb301 | 40 of 725" in note
    csv = (folder / "zero-shot.csv").read_text().splitlines()
    assert csv[0].startswith("family,cells,classes,seeds,network,network_std")
    assert csv[1].startswith("nb301,40,")


@pytest.mark.slow
@pytest.mark.needs_data
def test_a_live_sample_scores_the_ensemble_chosen_without_the_family(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cg_predict.evaluate import UNSEEN_FAMILY_BLEND, chosen_zero_shot_ensemble

    folder = _run(tmp_path, monkeypatch, recipe=dataclasses.replace(TINY, held_out_live=3))
    meta = Predictor.load(folder / "default.pt").metadata
    assert meta["zero_shot_blend"] == {k: dict(v) for k, v in UNSEEN_FAMILY_BLEND.items()}
    [held_out] = meta["held_out_zero_shot"]
    live = held_out["live"]
    assert (live["cells"], live["weights"]) == (3, chosen_zero_shot_ensemble("nb301"))
    assert [set(r["live"]) for r in held_out["runs"]] == [
        {"network", "ensemble", "ensemble_per_cell"}
    ] * 2
    assert set(live["per_cell"]) == {"ensemble", "FLOPs", "params"}
    assert -1 <= live["srcc_ensemble"] <= 1
    headline = json.loads((folder / "provenance.json").read_text())["headline"]["nb301"]
    assert headline["ensemble (live)"] == live["srcc_ensemble"]
    [_, row] = (folder / "zero-shot.csv").read_text().splitlines()
    header = (folder / "zero-shot.csv").read_text().splitlines()[0].split(",")
    assert row.split(",")[header.index("live_cells")] == "3"
    assert "| nb301 | 3 (" in (folder / "default.md").read_text()


@pytest.mark.needs_data
def test_more_held_out_seeds_leave_the_first_seeds_model_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = dataclasses.replace(TINY, held_out_seeds=1)
    alone = _run(tmp_path / "one", monkeypatch, recipe=one)
    both = _run(tmp_path / "two", monkeypatch)
    [first] = Predictor.load(alone / "default.pt").metadata["held_out_zero_shot"]
    [second] = Predictor.load(both / "default.pt").metadata["held_out_zero_shot"]
    assert first["runs"][0] == second["runs"][0]
    assert (first["srcc_flops"], first["srcc_params"]) == (
        second["srcc_flops"],
        second["srcc_params"],
    )


@pytest.mark.needs_data
def test_the_same_recipe_gives_the_same_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Predictor.load(_run(tmp_path, monkeypatch) / "default.pt").model.state_dict()
    again = Predictor.load(_run(tmp_path, monkeypatch, force=True) / "default.pt")
    for name, tensor in again.model.state_dict().items():
        assert torch.equal(tensor, first[name]), name
