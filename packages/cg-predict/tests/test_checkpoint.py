"""Checkpoints: round trips, atomic writes, and precise refusals of bad files."""

from __future__ import annotations

import collections
import json
import os

import pytest
import torch

from cg_predict.checkpoint import (
    load_checkpoint,
    load_encoder,
    save_checkpoint,
    save_encoder,
)
from cg_predict.encoder import Encoder, EncoderConfig
from cg_predict.errors import CheckpointError, InvalidArgumentError
from cg_predict.graphs import GraphSet
from cg_predict.model import PredictorNet

SMALL = EncoderConfig(num_layers=2, dim=16, op_dim=8, readout="attention")


@pytest.fixture
def net() -> PredictorNet:
    torch.manual_seed(0)
    return PredictorNet(SMALL)


def test_roundtrip_gives_identical_predictions(net, toy_data, tmp_path):
    graphs, _ = toy_data(4)
    batch = GraphSet.from_graphs(graphs).batch()
    meta = {
        "method": "gnn",
        "trained_on": [{"family": "nb201", "count": 4}],
        "pretraining_method": None,
    }
    path = tmp_path / "sub" / "ck.pt"
    save_checkpoint(path, net, meta)
    assert [p.name for p in path.parent.iterdir()] == ["ck.pt"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0o600
    loaded = load_checkpoint(path)
    assert loaded.metadata == meta
    assert loaded.versions["feature_schema_version"] >= 1 and "cg_ir_version" in loaded.versions
    assert not loaded.model.training
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(batch), net(batch), rtol=0, atol=0)
    assert loaded.model.config() == net.config()


def test_encoder_only_checkpoint(net, toy_data, tmp_path):
    graphs, _ = toy_data(3)
    batch = GraphSet.from_graphs(graphs).batch()
    path = tmp_path / "enc.pt"
    save_encoder(path, net.encoder, {"pretraining_method": "spectral-supcon", "epochs": 3})
    loaded = load_encoder(path)
    assert loaded.metadata["pretraining_method"] == "spectral-supcon"
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.encoder.embed(batch), net.encoder.embed(batch))
    with pytest.raises(CheckpointError, match="encoder-only.*spectral-supcon.*load_encoder"):
        load_checkpoint(path)
    # a full predictor checkpoint also yields its encoder
    save_checkpoint(tmp_path / "full.pt", net, {})
    from_full = load_encoder(tmp_path / "full.pt").encoder
    assert isinstance(from_full, Encoder) and from_full.config == SMALL
    with pytest.raises(InvalidArgumentError, match="pretraining_method"):
        save_encoder(tmp_path / "x.pt", net.encoder, {})


def test_missing_truncated_and_random_files_are_refused(net, tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "absent.pt")
    save_checkpoint(tmp_path / "ck.pt", net, {})
    data = (tmp_path / "ck.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.pt.*not a zip archive") as info:
        load_checkpoint(tmp_path / "trunc.pt")
    assert isinstance(info.value, ValueError) and info.value.path.endswith("trunc.pt")
    (tmp_path / "rand.pt").write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="not a zip archive"):
        load_checkpoint(tmp_path / "rand.pt")
    # a zip whose members are damaged
    damaged = bytearray(data)
    for i in range(200, min(len(damaged), 40_000), 7):
        damaged[i] ^= 0xFF
    (tmp_path / "damaged.pt").write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match="damaged.pt"):
        load_checkpoint(tmp_path / "damaged.pt")


class _Payload:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo should-never-run",))


def test_arbitrary_pickled_objects_are_refused(tmp_path, capfd):
    path = tmp_path / "evil.pt"
    torch.save({"format": "cg-predict/predictor", "payload": _Payload()}, path)
    with pytest.raises(CheckpointError, match="refused by the safe loader.*weights_only=True"):
        load_checkpoint(path)
    assert "should-never-run" not in capfd.readouterr().out


def test_other_torch_files_are_not_checkpoints(tmp_path):
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="not a cg-predict checkpoint"):
        load_checkpoint(tmp_path / "list.pt")
    torch.save(collections.OrderedDict(w=torch.zeros(2)), tmp_path / "sd.pt")
    with pytest.raises(CheckpointError, match="not a cg-predict checkpoint"):
        load_checkpoint(tmp_path / "sd.pt")


def _rewrite(path, **changes):  # type: ignore[no-untyped-def]
    payload = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if key == "versions":
            versions = json.loads(payload["versions"])
            versions.update(value)
            value = json.dumps(versions)
        payload[key] = value
    torch.save(payload, path)


def test_schema_vocab_layout_and_weight_mismatches(net, tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, net, {})
    _rewrite(path, versions={"feature_schema_version": 999})
    with pytest.raises(CheckpointError, match="feature schema 999.*Retrain"):
        load_checkpoint(path)
    save_checkpoint(path, net, {})
    _rewrite(path, versions={"vocab_version": "v0"})
    with pytest.raises(CheckpointError, match="op vocabulary 'v0'"):
        load_checkpoint(path)
    save_checkpoint(path, net, {})
    _rewrite(path, format_version=7)
    with pytest.raises(CheckpointError, match="format_version 7"):
        load_checkpoint(path)
    save_checkpoint(path, net, {})
    other = PredictorNet(EncoderConfig(num_layers=3, dim=16, op_dim=8))
    _rewrite(path, config=json.dumps(other.config()))
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_checkpoint(path)
    save_checkpoint(path, net, {})
    _rewrite(path, config="{not json")
    with pytest.raises(CheckpointError, match="'config' entry is not valid JSON"):
        load_checkpoint(path)


def test_metadata_must_be_json(net, tmp_path):
    with pytest.raises(InvalidArgumentError, match="JSON"):
        save_checkpoint(tmp_path / "ck.pt", net, {"bad": object()})
    assert not list(tmp_path.iterdir())
