"""Bulk conversion (serial, two workers, a given executor) and the many-graphs file."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from hypothesis import given, settings

from cg_ir import GraphSerializationError, InvalidArgumentError, InvalidSpecError, families
from cg_ir.bulk import convert_many, load_graphs, save_graphs
from cg_ir.executor import LocalExecutor
from cg_ir.testing import computation_graphs

KEYS = ["(0, 1, 2, 3, 4, 0)", "(1, 1, 1, 1, 1, 1)", "(2, 2, 2, 2, 2, 2)", "(4, 3, 2, 1, 0, 1)"]


def test_convert_many_serial_matches_to_cg():
    family = families.get("nb201")
    specs = [family.parse(k) for k in KEYS]
    graphs = convert_many(family, specs, progress=False)
    assert graphs == [family.to_cg(s) for s in specs]
    assert convert_many("nb201", KEYS, progress=False) == graphs  # keys and names work too


def test_convert_many_two_workers_same_order():
    graphs = convert_many("nb201", KEYS * 3, workers=2, chunksize=2, progress=False)
    assert graphs == convert_many("nb201", KEYS * 3, progress=False)


def test_convert_many_through_an_executor_left_open():
    serial = convert_many("nb201", KEYS * 3, progress=False)
    with LocalExecutor(workers=2, chunksize=2) as executor:
        assert convert_many("nb201", KEYS * 3, executor=executor, progress=False) == serial
        assert executor._pool is not None  # not closed by convert_many: reusable
        assert convert_many("nb201", KEYS[:1], executor=executor, progress=False) == serial[:1]
    assert convert_many("nb201", KEYS, executor=LocalExecutor(), progress=False) == serial[:4]
    with pytest.raises(InvalidArgumentError, match="pass workers and chunksize to the executor"):
        convert_many("nb201", KEYS, workers=2, executor=LocalExecutor(), progress=False)


def test_convert_many_errors():
    with pytest.raises(InvalidSpecError):
        convert_many("nb201", ["(9, 9)"], progress=False)
    with pytest.raises(InvalidArgumentError, match="workers must be at least 1, got 0"):
        convert_many("nb201", KEYS, workers=0, progress=False)
    with pytest.raises(InvalidArgumentError, match="chunksize must be at least 1"):
        convert_many("nb201", KEYS, chunksize=0, progress=False)


def test_convert_many_progress_bar(capsys):
    convert_many("nb201", KEYS[:2], progress=True)
    assert "nb201 CGs" in capsys.readouterr().err


@pytest.mark.property
@settings(max_examples=10, deadline=None)
@given(computation_graphs(max_nodes=20))
def test_save_load_round_trip_random(tmp_path_factory, graph):
    path = tmp_path_factory.mktemp("g") / "graphs.cgz"
    save_graphs([graph, graph], path)
    assert load_graphs(path) == [graph, graph]


def test_save_load_family_sample(tmp_path):
    family = families.get("nb201")
    graphs = convert_many(
        family, family.sample_distinct(np.random.default_rng(0), 30), progress=False
    )
    path = save_graphs(graphs, tmp_path / "nb201.cgz")
    assert load_graphs(path) == graphs
    assert [p.name for p in tmp_path.iterdir()] == ["nb201.cgz"]
    assert load_graphs(save_graphs([], tmp_path / "empty.cgz")) == []


def _write(path, document):
    with gzip.open(path, "wb") as handle:
        handle.write(json.dumps(document).encode())


def test_load_rejects_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_graphs(tmp_path / "missing.cgz")
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(GraphSerializationError, match="not a readable cg-ir graph file"):
        load_graphs(tmp_path / "plain.txt")
    good = tmp_path / "good.cgz"
    save_graphs(convert_many("nb201", KEYS[:1], progress=False), good)
    data = good.read_bytes()
    (tmp_path / "cut.cgz").write_bytes(data[: len(data) // 2])
    with pytest.raises(GraphSerializationError, match="corrupt or truncated"):
        load_graphs(tmp_path / "cut.cgz")
    with gzip.open(good) as handle:
        document = json.loads(handle.read())
    _write(tmp_path / "other.cgz", {"format": "zip"})
    with pytest.raises(GraphSerializationError, match="is not a cg-ir-graphs file"):
        load_graphs(tmp_path / "other.cgz")
    _write(tmp_path / "v0.cgz", {**document, "vocab_version": "v0"})
    with pytest.raises(GraphSerializationError, match="has vocab_version 'v0'; this cg-ir reads"):
        load_graphs(tmp_path / "v0.cgz")
    broken = {**document, "graphs": [[document["graphs"][0][0], [0, 1]]]}
    _write(tmp_path / "broken.cgz", broken)
    with pytest.raises(GraphSerializationError, match="graph 0 of .*has no successor"):
        load_graphs(tmp_path / "broken.cgz")


def test_workers_need_an_installed_family():
    class Local(type(families.get("nb201"))):
        name = "local-nb201"

    with pytest.raises(InvalidArgumentError, match="'local-nb201' is not installed through the"):
        convert_many(Local(), KEYS, workers=2, progress=False)
    with pytest.raises(InvalidArgumentError, match="'local-nb201' is not installed through the"):
        convert_many(Local(), KEYS, executor=LocalExecutor(workers=2), progress=False)
    assert len(convert_many(Local(), KEYS, progress=False)) == len(KEYS)
    assert len(convert_many(Local(), KEYS[:1], workers=2, progress=False)) == 1  # no pool
