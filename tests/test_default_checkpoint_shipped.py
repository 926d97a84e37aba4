"""The shipped default checkpoint is the one ``cgnas reproduce --full`` trained."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

FULL = Path(__file__).resolve().parents[1] / "results" / "full" / "default-checkpoint"


@pytest.mark.parametrize("name", ["default.pt", "default.md"])
def test_the_shipped_file_is_the_full_runs(name: str) -> None:
    shipped = resources.files("cg_predict").joinpath("checkpoints", name).read_bytes()
    assert shipped == (FULL / name).read_bytes(), (
        f"cg_predict/checkpoints/{name} is not results/full/default-checkpoint/{name}: "
        "ship it with python tools/train_default_checkpoint.py"
    )
