from __future__ import annotations

import pytest
import torch

from cg_contrast.errors import InvalidArgumentError, PretrainCheckpointError
from cg_contrast.pools import unlabeled_pool
from cg_contrast.pretrain import PretrainConfig, pretrain

SMALL = {"gnn": "graphconv", "num_layers": 2, "dim": 16, "op_dim": 8}


def _cfg(method: str = "retrieval", epochs: int = 2, **kw) -> PretrainConfig:  # type: ignore[no-untyped-def]
    return PretrainConfig(
        method=method, epochs=epochs, batch_size=16, proj_dim=8, encoder=SMALL, **kw
    )


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class _Stop(Exception):
    pass


@pytest.mark.parametrize("method", ["retrieval", "augment", "dropout"])
def test_resume_after_interruption_gives_the_same_weights(tiny_pool, tmp_path, method) -> None:  # type: ignore[no-untyped-def]
    full = pretrain(tiny_pool, _cfg(method), progress=False)
    state = tmp_path / "run.state"

    def stop(epoch: int, record: dict[str, float]) -> None:
        if epoch == 1:
            raise _Stop

    with pytest.raises(_Stop):
        pretrain(tiny_pool, _cfg(method), state_path=state, progress=False, on_epoch_end=stop)
    assert state.exists()
    resumed = pretrain(tiny_pool, _cfg(method), state_path=state, resume=True, progress=False)
    assert _same(full.encoder, resumed.encoder)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history]
    again = pretrain(tiny_pool, _cfg(method), progress=False)
    assert _same(full.encoder, again.encoder)  # same seed, same numbers


def test_resume_refuses_another_configuration(tiny_pool, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "s.state"
    pretrain(tiny_pool, _cfg(epochs=1), state_path=state, progress=False)
    with pytest.raises(PretrainCheckpointError, match="another configuration"):
        pretrain(tiny_pool, _cfg(epochs=2, tau=0.5), state_path=state, resume=True, progress=False)
    state.write_bytes(b"junk")
    with pytest.raises(PretrainCheckpointError, match="cannot read"):
        pretrain(tiny_pool, _cfg(epochs=2), state_path=state, resume=True, progress=False)


def test_resume_refuses_a_state_of_another_pool(tiny_pool, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "s.state"
    pretrain(tiny_pool, _cfg(epochs=1), state_path=state, progress=False)
    # as large and of the same families, but drawn with another seed
    other = unlabeled_pool(
        ["nb201", "nb101"], 48, seed=1, directory=tmp_path, workers=1, progress=False
    )
    assert len(other) == len(tiny_pool)
    with pytest.raises(PretrainCheckpointError, match="another configuration or pool"):
        pretrain(other, _cfg(epochs=2), state_path=state, resume=True, progress=False)


def test_resume_extends_a_run_but_refuses_a_longer_one(tiny_pool, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "s.state"
    pretrain(tiny_pool, _cfg(epochs=2), state_path=state, progress=False)
    with pytest.raises(PretrainCheckpointError, match="2 finished epochs, more than epochs=1"):
        pretrain(tiny_pool, _cfg(epochs=1), state_path=state, resume=True, progress=False)
    longer = pretrain(tiny_pool, _cfg(epochs=3), state_path=state, resume=True, progress=False)
    full = pretrain(tiny_pool, _cfg(epochs=3), progress=False)
    assert _same(longer.encoder, full.encoder)  # more epochs continue the run
    assert [h["loss"] for h in longer.history] == [h["loss"] for h in full.history]


def test_loss_decreases_and_hooks_are_removed(tiny_pool) -> None:  # type: ignore[no-untyped-def]
    result = pretrain(tiny_pool, _cfg("dropout", epochs=4, lr=3e-3), progress=False)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert not result.encoder.op_embedding._forward_hooks


def test_config_validation() -> None:
    with pytest.raises(InvalidArgumentError, match="method"):
        PretrainConfig(method="magic")
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        PretrainConfig(batch_size=1)
