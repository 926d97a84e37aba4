"""No stale reuse: pools, training states and an ablation's encoders are tied to their code.

A code change is simulated by changing what ``cg_ir.provenance.code_digest`` reports for every
package (``code_changed``).
"""

from __future__ import annotations

import dataclasses

import pytest

import cg_contrast.ablation as ablation
import cg_contrast.pools as pools
import cg_ir.provenance
from cg_contrast.ablation import AblationConfig, run_ablation
from cg_contrast.errors import StaleResultError
from cg_contrast.pools import Pool, unlabeled_pool
from cg_contrast.pretrain import PRETRAIN_CODE, PretrainConfig, pretrain
from cg_predict.checkpoint import save_encoder
from cg_predict.encoder import Encoder, EncoderConfig


def code_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every package's source digest differ, as if its code had been edited."""
    real = cg_ir.provenance._package_digest
    monkeypatch.setattr(cg_ir.provenance, "_package_digest", lambda name: f"edited:{real(name)}")


def test_a_pool_is_rebuilt_after_a_code_change(tmp_path, monkeypatch) -> None:
    builds: list[object] = []
    real = pools._build
    monkeypatch.setattr(pools, "_build", lambda *a: builds.append(a) or real(*a))

    def pool() -> Pool:
        return unlabeled_pool(["nb201"], 6, directory=tmp_path, workers=1, progress=False)

    first = pool()
    assert (len(pool()), len(builds)) == (6, 1)  # read back
    code_changed(monkeypatch)
    again = pool()
    assert len(builds) == 2  # other code: rebuilt ...
    assert (again.keys == first.keys).all() and (again.spectra == first.spectra).all()
    assert len(list(tmp_path.iterdir())) == 1  # ... and the file replaced


def test_a_training_state_of_other_code_is_not_resumed(tmp_path, monkeypatch, tiny_pool) -> None:
    config = PretrainConfig(method="dropout", epochs=1, batch_size=16)
    state = tmp_path / "enc.pt.state"
    pretrain(tiny_pool, config, state_path=state, progress=False)
    code_changed(monkeypatch)
    longer = dataclasses.replace(config, epochs=2)
    with pytest.raises(StaleResultError, match="--resume") as info:
        pretrain(tiny_pool, longer, state_path=state, resume=True, progress=False)
    assert str(state) in str(info.value) and info.value.current in str(info.value)
    # without resume it starts afresh, as before
    assert len(pretrain(tiny_pool, longer, state_path=state, progress=False).history) == 2


TINY = AblationConfig(
    targets=("nb201",),
    methods=("dropout",),
    families=("nb201", "nb301"),
    pool_size=40,
    epochs=1,
    seeds=1,
    shots=(0, 5),
    # two small labelled sources: the CL choice holds out each in turn (all five took minutes)
    sources=("nb301", "cbm-resnet"),
    source_cells=40,
    source_epochs=1,
    quick=True,
    pretrain={"batch_size": 16},
    unfreeze_encoder=False,
)


def _encoder(path, code: str | None) -> None:  # type: ignore[no-untyped-def]
    """A finished encoder of ``TINY``'s dropout run as ``code`` wrote it (None: no digest)."""
    config = TINY.pretrain_config("dropout")
    meta = {
        "pretraining_method": "cl-dropout",
        "families": list(TINY.families),
        "pool_size": TINY.pool_size,
        "pool_seed": config.seed,
        "config": {**config.identity(), "epochs": config.epochs},
        "labels_used": False,
    }
    if code is not None:
        meta["code_digest"] = code
    save_encoder(path, Encoder(EncoderConfig(dim=8, op_dim=4, num_layers=1)), meta)


def test_an_ablation_encoder_of_other_code_is_refused_or_forced(tmp_path, monkeypatch) -> None:
    path = tmp_path / "dropout.pt"
    config = TINY.pretrain_config("dropout")
    current = cg_ir.provenance.code_digest(*PRETRAIN_CODE)
    _encoder(path, current)
    assert ablation._encoder_is_done(path, config, TINY, force=False)
    code_changed(monkeypatch)
    with pytest.raises(StaleResultError) as info:
        ablation._encoder_is_done(path, config, TINY, force=False)
    message = str(info.value)
    assert all(part in message for part in (str(path), current, "force=True", "delete"))
    assert isinstance(info.value, ValueError) and info.value.stored == current
    assert not ablation._encoder_is_done(path, config, TINY, force=True)  # pretrained again
    _encoder(path, None)  # written before encoders recorded their code: refused too
    with pytest.raises(StaleResultError, match="records no code digest"):
        ablation._encoder_is_done(path, config, TINY, force=False)


@pytest.mark.slow
@pytest.mark.needs_data
def test_an_ablation_dir_of_other_code_is_refused_then_forced(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    first = run_ablation(TINY, work, progress=False)
    code_changed(monkeypatch)
    with pytest.raises(StaleResultError, match="dropout-seed0.pt"):
        run_ablation(TINY, work, progress=False)
    # the encoder pretrained again by this code, the results file of the old code is refused
    pretrained: list[object] = []
    real = ablation.pretrain_encoder
    monkeypatch.setattr(
        ablation, "pretrain_encoder", lambda *a, **kw: pretrained.append(a) or real(*a, **kw)
    )
    forced = run_ablation(TINY, work, progress=False, force=True)
    assert len(pretrained) == 1
    assert forced["nb201"].code_digest != first["nb201"].code_digest
