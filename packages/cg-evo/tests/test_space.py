"""Oracles, the budgeted search space (ranks, thresholds, mutation) and paid queries."""

from __future__ import annotations

import importlib.util
import re
from types import SimpleNamespace

import numpy as np
import pytest

from cg_evo.budget import Budget
from cg_evo.errors import InvalidSearchError, NoCandidatesError, UnknownArchitectureError
from cg_evo.oracle import ORACLES, load_oracle
from cg_evo.space import Queries, QueryBudgetExhausted, SearchSpace
from cg_predict.errors import BenchmarkDataError

NB201_CELLS = 15_625


def _ints(key: str) -> list[int]:
    return [int(v) for v in re.findall(r"-?\d+", key)]


# -- paid queries (no data) ------------------------------------------------------------------
def _toy_space() -> SimpleNamespace:
    # candidates 0, 1 and 3 are isomorphic twins (class 0): one network, one (class-mean) label
    return SimpleNamespace(
        labels=np.array([2.0, 2.0, 3.0, 2.0, 5.0]), classes=np.array([0, 0, 1, 0, 2])
    )


def test_twins_are_paid_once_then_free() -> None:
    q = Queries(_toy_space(), budget=3)
    assert (q.paid, q.remaining, q.free_hits) == (0, 3, 0)
    assert not q.known(1)
    assert q.ask(1) == 2.0  # the first twin asked for is paid
    assert q.known(0) and q.known(3) and not q.known(2)
    assert q.ask(0) == 2.0 and q.ask(3) == 2.0  # later twins: free
    assert q.ask(1) == 2.0  # asking again is free too
    assert (q.paid, q.remaining, q.free_hits) == (1, 2, 3)
    assert q.label(3) == 2.0
    assert q.order == [1] and q.labels == [2.0] and q.known_indices() == [1]


def test_query_budget_exhaustion() -> None:
    q = Queries(_toy_space(), budget=2)
    assert q.ask(2) == 3.0 and q.ask(4) == 5.0
    assert (q.paid, q.remaining) == (2, 0)
    with pytest.raises(QueryBudgetExhausted):
        q.ask(0)  # a new class with no query left
    assert q.paid == 2 and not q.known(0)  # nothing was recorded
    assert q.ask(4) == 5.0  # a known class stays free after the budget is spent
    with pytest.raises(KeyError):
        q.label(0)  # never paid for
    assert q.known_indices() == [2, 4]
    q.known_indices().append(0)  # a copy: the record cannot be changed through it
    assert q.order == [2, 4]


def test_a_search_of_every_network_ends_when_all_are_known() -> None:
    space = _toy_space()
    q = Queries(space, budget=len(set(space.classes.tolist())))
    for index in (1, 2, 4):  # one row of each class: every network paid for
        q.ask(index)
    with pytest.raises(QueryBudgetExhausted):
        q.ask(0)  # a twin, free before; now nothing is left to find: the search ends
    assert q.free_hits == 0 and q.paid == 3


# -- oracles ---------------------------------------------------------------------------------
def test_unknown_family_or_dataset_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidSearchError, match="no labelled pool for family 'resnet'") as info:
        load_oracle("resnet")
    assert "nb201, nb101, nb301, ofa-mbv3" in str(info.value)
    with pytest.raises(InvalidSearchError, match="no dataset 'svhn'") as info:
        load_oracle("nb201", "svhn")
    assert "valid: cifar10, cifar100, ImageNet16-120" in str(info.value)
    with pytest.raises(InvalidSearchError, match="valid: cifar10"):
        load_oracle("nb101", "cifar100")
    assert set(ORACLES) == {"nb201", "nb101", "nb301", "ofa-mbv3"}


def test_missing_data_is_a_benchmark_data_error(tmp_path) -> None:
    with pytest.raises(BenchmarkDataError) as info:
        load_oracle("nb101", data_dir=tmp_path)
    assert "nb101_nasbenchvis_30k.csv" in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_nb201_cifar10_without_data_falls_back_to_analognas(tmp_path) -> None:
    if importlib.util.find_spec("analognasbench") is None:
        with pytest.raises(BenchmarkDataError):
            load_oracle("nb201", "cifar10", tmp_path)
        return
    oracle = load_oracle("nb201", "cifar10", tmp_path)
    assert oracle.benchmark == "analognas-nb201"
    assert oracle.family == "nb201" and oracle.dataset == "cifar10"
    assert len(oracle) == NB201_CELLS and oracle.whole_space
    assert np.isfinite(oracle.labels).all()
    # the other NB-201 datasets have no fallback
    with pytest.raises(BenchmarkDataError):
        load_oracle("nb201", "cifar100", tmp_path)


@pytest.mark.needs_data
def test_unknown_architecture_is_a_lookup_error(nb201_oracle) -> None:
    assert len(nb201_oracle) == NB201_CELLS and nb201_oracle.benchmark == "nb201-200ep"
    key = nb201_oracle.keys[7]
    assert nb201_oracle.label(key) == float(nb201_oracle.labels[7])
    with pytest.raises(UnknownArchitectureError) as info:
        nb201_oracle.label("(9, 9, 9, 9, 9, 9)")
    assert isinstance(info.value, LookupError)
    assert "nb201-200ep" in str(info.value) and "(9, 9, 9, 9, 9, 9)" in str(info.value)
    assert nb201_oracle.source_path is not None and nb201_oracle.source_path.is_file()


# -- the search space (benchmark data) -------------------------------------------------------
@pytest.mark.needs_data
def test_nb201_space_is_the_whole_family(nb201_space) -> None:
    space = nb201_space
    assert len(space) == space.pool_size == NB201_CELLS
    assert space.whole_space and space.family.name == "nb201"
    assert set(space.costs) == {"flops", "params"}
    assert all(len(v) == NB201_CELLS for v in space.costs.values())
    # isomorphic twins share a class: far fewer networks than cells
    assert 1000 < space.num_classes < NB201_CELLS
    assert space.classes.min() == 0 and space.classes.max() == space.num_classes - 1
    with pytest.raises(InvalidSearchError, match="unknown cost 'macs'.*flops, params"):
        space.cost("macs")


@pytest.mark.needs_data
def test_median_flops_budget_halves_the_space(nb201_oracle, nb201_space) -> None:
    space = SearchSpace.from_oracle(nb201_oracle, Budget.parse(max_flops="median"))
    limit = float(np.median(nb201_space.costs["flops"]))
    assert space.budget.limits == {"flops": limit}
    assert 0.4 * NB201_CELLS < len(space) < 0.6 * NB201_CELLS
    assert space.pool_size == NB201_CELLS
    assert (space.costs["flops"] <= limit).all()
    # exactly the cells that fit, in pool order
    fit = [
        k for k, f in zip(nb201_space.keys, nb201_space.costs["flops"], strict=True) if f <= limit
    ]
    assert list(space.keys) == fit
    # twins have the same costs, so a budget keeps or drops a class whole
    in_budget = set(space.keys)
    kept_classes = {int(c) for k, c in zip(nb201_space.keys, nb201_space.classes, strict=True)
                    if k in in_budget}  # fmt: skip
    assert len(kept_classes) == space.num_classes


@pytest.mark.needs_data
def test_every_twin_has_its_class_mean_label(nb201_oracle, nb201_space) -> None:
    space = nb201_space
    rows = np.asarray(nb201_oracle.labels)
    for cls in np.unique(space.classes)[::50]:
        members = np.flatnonzero(space.classes == cls)
        assert np.allclose(space.labels[members], rows[members].mean())
    twins = np.bincount(space.classes)
    assert (twins > 1).any()  # the check above met classes of several rows


@pytest.mark.needs_data
def test_the_best_network_under_median_flops_is_a_class_of_many_twins(nb201_oracle) -> None:
    """Why ranks count classes: the best rows under this budget are twins of one network."""
    space = SearchSpace.from_oracle(nb201_oracle, Budget.parse(max_flops="median"))
    best = np.flatnonzero(space.labels == space.labels.max())
    assert len(best) > 10 and len(set(space.classes[best].tolist())) == 1
    assert space.ranks(space.labels[best]).tolist() == [1] * len(best)


@pytest.mark.needs_data
def test_ranks_and_top_threshold_count_classes(nb201_space) -> None:
    space = nb201_space
    networks = space.class_labels()  # one label per isomorphism class, ascending
    assert len(networks) == space.num_classes and (np.diff(networks) >= 0).all()
    best = networks[-1]
    assert space.ranks(np.array([best, best + 1.0])).tolist() == [1, 1]
    assert space.ranks(np.array([networks[0]])).tolist() == [
        1 + int((networks > networks[0]).sum())
    ]
    sample = space.labels[::97]
    expected = [1 + int((networks > v).sum()) for v in sample]  # ties share the better rank
    assert space.ranks(sample).tolist() == expected
    values, counts = np.unique(networks, return_counts=True)
    tied = values[counts > 1][0]
    assert len(set(space.ranks(np.array([tied, tied])).tolist())) == 1
    top = space.top_threshold(0.001)  # the best ceil(0.001 * classes) networks
    count = int(np.ceil(0.001 * space.num_classes))
    assert (networks >= top).sum() >= count > (networks > top).sum()
    assert space.top_threshold(0.0) == best  # at least one
    assert space.top_threshold(1.0) == networks[0]


@pytest.mark.needs_data
def test_nb201_mutation_changes_exactly_one_edge(nb201_space) -> None:
    space = nb201_space
    rng = np.random.default_rng(0)
    for parent in rng.choice(len(space), size=300, replace=False):
        child = space.mutate(int(parent), rng)
        assert 0 <= child < len(space)
        assert space.classes[child] != space.classes[parent]  # another network
        a, b = _ints(space.keys[parent]), _ints(space.keys[child])
        assert len(a) == len(b) == 6
        assert sum(x != y for x, y in zip(a, b, strict=True)) == 1, (
            space.keys[parent],
            space.keys[child],
        )


@pytest.mark.needs_data
def test_nearest_candidates_widen_once_the_nearer_networks_are_known(nb201_space) -> None:
    space = nb201_space
    parent = space.keys.index("(2, 2, 2, 2, 2, 2)")  # every edge a 3x3 convolution: no twin

    def distances(rows: np.ndarray) -> set[int]:
        a = _ints(space.keys[parent])
        return {sum(x != y for x, y in zip(a, _ints(space.keys[r]), strict=True)) for r in rows}

    single = space.nearest_candidates(parent)
    assert distances(single) == {1} and len(single) == 24  # 6 edges x 4 other ops
    assert space.classes[parent] not in set(space.classes[single].tolist())
    known = np.zeros(space.num_classes, dtype=bool)
    known[space.classes[parent]] = True
    known[space.classes[single]] = True
    double = space.nearest_candidates(parent, known)
    assert distances(double) == {2} and not known[space.classes[double]].any()
    assert space.nearest_candidates(parent, known, widen=False).size == 0  # a local optimum
    rng = np.random.default_rng(0)
    assert space.mutate(parent, rng, known) in set(double.tolist())
    known[space.classes[single[:10]]] = False
    rest = space.nearest_candidates(parent, known, widen=False)
    assert distances(rest) == {1} and not known[space.classes[rest]].any() and len(rest) >= 10


@pytest.mark.needs_data
def test_mutation_is_seeded(nb201_space) -> None:
    def children(seed: int) -> list[int]:
        rng = np.random.default_rng(seed)
        return [nb201_space.mutate(i, rng) for i in range(0, 2000, 50)]

    assert children(3) == children(3)
    assert children(3) != children(4)


@pytest.mark.needs_data
def test_nb301_pool_mutation_stays_in_the_pool(data_dir) -> None:
    oracle = load_oracle("nb301", data_dir=data_dir)
    space = SearchSpace.from_oracle(oracle)
    assert len(space) == len(oracle) == 725 and not space.whole_space
    pool = set(oracle.keys)
    rng = np.random.default_rng(1)
    for parent in rng.choice(len(space), size=60, replace=False):
        child = space.mutate(int(parent), rng)
        assert space.keys[child] in pool
        assert space.classes[child] != space.classes[parent]


@pytest.mark.needs_data
def test_impossible_budget_has_no_candidates(nb201_oracle) -> None:
    with pytest.raises(NoCandidatesError, match="nb201-200ep pool fits the budget") as info:
        SearchSpace.from_oracle(nb201_oracle, Budget.parse(max_params="1"))
    assert "params <= 1" in str(info.value) and "smallest" in str(info.value)
    assert isinstance(info.value, InvalidSearchError)
    with pytest.raises(InvalidSearchError, match="no latency cost"):
        SearchSpace.from_oracle(nb201_oracle, Budget.parse(max_latency="1M"))
