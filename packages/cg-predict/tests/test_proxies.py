"""Zero-cost proxies: finiteness, determinism, sign sanity, no side effects, cache, errors."""

from __future__ import annotations

import copy
import json
import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from cg_ir import families
from cg_ir.executor import Executor, LocalExecutor
from cg_predict.errors import (
    InvalidArgumentError,
    ProxyCacheError,
    ProxyComputationError,
    UnknownProxyError,
)
from cg_predict.proxies import (
    ALL,
    NETWORK_PROXIES,
    ProxyCache,
    ProxyScore,
    _compute,
    az_nas_aggregate,
    compute_proxies,
    log_scale,
    proxy_agreement,
)
from cg_predict.proxies._layers import twice_differentiable
from cg_predict.proxies.agreement import cell_proxies, map_cell_proxies

SHAPE = (3, 12, 12)
NB201_KEY = "(0, 2, 3, 2, 3, 1)"


def tiny_net(width: int = 8, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 5),
    )


@pytest.fixture(scope="module")
def nb201() -> tuple[nn.Module, tuple[int, ...], object]:
    family = families.get("nb201")
    spec = family.parse(NB201_KEY)
    torch.manual_seed(0)
    return family.to_module(spec), family.input_shape(spec), family.to_cg(spec)


@pytest.mark.parametrize("name", list(NETWORK_PROXIES))
def test_each_proxy_on_tiny_net_is_finite_and_deterministic(name: str):
    net = tiny_net()
    first = compute_proxies(net, SHAPE, name, batch_size=8, seed=3)[name]
    second = compute_proxies(net, SHAPE, [name], batch_size=8, seed=3)[name]
    assert math.isfinite(first.value)
    assert first.value == second.value
    assert first.seconds >= 0 and not first.cached


def test_every_proxy_on_an_nb201_cell(nb201):
    module, shape, graph = nb201
    scores = compute_proxies(module, shape, batch_size=4, seed=1, graph=graph)
    assert list(scores) == list(ALL)
    assert all(math.isfinite(s.value) for s in scores.values()), scores
    again = compute_proxies(module, shape, ["jacov", "nwot", "grasp"], batch_size=4, seed=1)
    assert all(again[n].value == scores[n].value for n in again)
    assert scores["flops"].value == graph.flops and scores["params"].value == graph.params
    # synflow is computed raw; its natural log is NAS-Bench-Suite-Zero's scale (tens, not 1e18)
    assert 10 < log_scale(scores["synflow"].value) < 120


def test_seed_changes_the_synthetic_batch():
    net = tiny_net()
    a = compute_proxies(net, SHAPE, "snip", batch_size=8, seed=0)["snip"].value
    b = compute_proxies(net, SHAPE, "snip", batch_size=8, seed=1)["snip"].value
    assert a != b


def test_synflow_grows_with_width_and_equals_the_path_norm():
    narrow = compute_proxies(tiny_net(4), SHAPE, "synflow")["synflow"].value
    wide = compute_proxies(tiny_net(32), SHAPE, "synflow")["synflow"].value
    assert wide > narrow > 0
    # two bias-free linear layers: R = 1'|W2||W1|1 and each layer's sum |W dR/dW| equals R
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 6, bias=False), nn.Linear(6, 3, bias=False))
    w1, w2 = (m.weight.detach().double().abs() for m in (net[1], net[2]))
    path_norm = float(w2.sum(0) @ w1.sum(1))
    value = compute_proxies(net, (1, 3, 4), "synflow")["synflow"].value
    assert value == pytest.approx(2 * path_norm, rel=1e-12)


def test_snip_and_grad_norm_match_their_definitions():
    net = tiny_net()
    scores = compute_proxies(net, SHAPE, ["snip", "grad_norm"], batch=_batch(8, 5))
    copy = tiny_net()
    inputs, targets = _batch(8, 5)
    nn.functional.cross_entropy(copy(inputs), targets).backward()
    layers = [m for m in copy.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    snip = sum(float((m.weight.detach() * m.weight.grad).abs().sum()) for m in layers)
    norm = sum(float(m.weight.grad.norm()) for m in layers)
    assert scores["snip"].value == pytest.approx(snip, rel=1e-5)
    assert scores["grad_norm"].value == pytest.approx(norm, rel=1e-5)


def _batch(n: int, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    return torch.randn((n, *SHAPE), generator=g), torch.randint(classes, (n,), generator=g)


@pytest.mark.parametrize("training", [True, False])
def test_module_and_global_rng_are_untouched(training: bool):
    net = tiny_net()
    net.train(training)
    net[3].weight.requires_grad_(False)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    compute_proxies(net, SHAPE, list(NETWORK_PROXIES), batch_size=8)
    after = net.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # incl. BN running stats
    assert all(m.training == training for m in net.modules())
    assert all(p.grad is None for p in net.parameters())
    assert not net[3].weight.requires_grad and net[0].weight.dtype == torch.float32
    assert torch.equal(rng, torch.get_rng_state())


def test_given_batch_is_used_and_checked():
    net = tiny_net()
    given = compute_proxies(net, SHAPE, "fisher", batch=_batch(6, 5))["fisher"].value
    assert given == compute_proxies(net, SHAPE, "fisher", batch=_batch(6, 5))["fisher"].value
    inputs, targets = _batch(6, 5)
    with pytest.raises(InvalidArgumentError, match="5 classes"):
        compute_proxies(net, SHAPE, "snip", batch=(inputs, targets + 5))
    with pytest.raises(InvalidArgumentError, match="same number"):
        compute_proxies(net, SHAPE, "snip", batch=(inputs, targets[:3]))
    with pytest.raises(InvalidArgumentError, match="input_shape"):
        compute_proxies(net, (3, 12), "snip")


def test_unknown_proxy_lists_the_valid_names():
    with pytest.raises(UnknownProxyError) as info:
        compute_proxies(tiny_net(), SHAPE, ["snip", "zen"])
    assert isinstance(info.value, ValueError)
    assert "'zen'" in str(info.value) and all(name in str(info.value) for name in ALL)


def test_degenerate_networks():
    # an output that ignores the input: jacov is undefined and ranks last
    class Constant(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.relu = nn.ReLU()
            self.fc = nn.Linear(1, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.relu(torch.ones_like(x[:, :1, 0, 0])))

    assert compute_proxies(Constant(), SHAPE, "jacov")["jacov"].value == -math.inf
    assert compute_proxies(Constant(), SHAPE, "nwot")["nwot"].value == -math.inf
    no_relu = nn.Sequential(nn.Flatten(), nn.Linear(3 * 12 * 12, 5))
    with pytest.raises(ProxyComputationError, match="nwot"):
        compute_proxies(no_relu, SHAPE, "nwot")
    with pytest.raises(ProxyComputationError, match="logits"):
        compute_proxies(nn.Conv2d(3, 4, 3), SHAPE, "snip")


def test_cache_hit_returns_the_same_values(tmp_path, nb201):
    module, shape, graph = nb201
    path = tmp_path / "cache.json"
    names = ["synflow", "nwot", "params"]
    fresh = compute_proxies(module, shape, names, batch_size=4, graph=graph, cache=ProxyCache(path))
    assert not any(s.cached for s in fresh.values())
    cache = ProxyCache(path)
    assert len(cache) == 3
    hit = compute_proxies(module, shape, names, batch_size=4, graph=graph, cache=cache)
    assert all(hit[n].cached and hit[n].value == fresh[n].value for n in names)
    assert all(hit[n].seconds == fresh[n].seconds for n in names)
    # another batch is another key
    other = compute_proxies(module, shape, ["nwot"], batch_size=4, seed=9, graph=graph, cache=cache)
    assert not other["nwot"].cached
    assert len(ProxyCache(path)) == 4


def test_cache_keeps_infinities_and_rejects_foreign_files(tmp_path):
    path = tmp_path / "c.json"
    cache = ProxyCache(path)
    cache.put("k", ProxyScore(-math.inf, 0.5))
    cache.save()
    json.loads(path.read_text())  # strict JSON
    assert ProxyCache(path).get("k") == ProxyScore(-math.inf, 0.5, True)
    path.write_text('{"entries": []}')
    with pytest.raises(ProxyCacheError, match="c.json"):
        ProxyCache(path)


def test_log_scale_is_monotone_and_signed():
    values = [-1e3, -1.0, 0.0, 1.0, 1e18, math.inf]
    scaled = log_scale(values)
    assert list(scaled) == sorted(scaled) and scaled[2] == 0.0
    assert log_scale(1.5505e18) == pytest.approx(math.log(1.5505e18))


@pytest.mark.slow
@pytest.mark.needs_data
def test_proxy_agreement_runs_and_resumes(tmp_path, data_dir):
    root = data_dir
    out = tmp_path / "agreement.json"
    names = ["synflow", "nwot", "params"]
    first = proxy_agreement(4, 0, root, names=names, batch_size=4, out=out)
    assert list(first["proxies"]) == names and len(first["cells"]) == 4
    for row in first["proxies"].values():
        assert row["n"] == 4 and row["mean_seconds"] >= 0
    again = proxy_agreement(4, 0, root, names=names, batch_size=4, out=out)
    assert again["cells"] == first["cells"]  # read back, not recomputed (same seconds)
    with pytest.raises(InvalidArgumentError, match="other settings"):
        proxy_agreement(4, 1, root, names=names, batch_size=4, out=out)


def test_flops_and_params_come_from_the_traced_graph(tmp_path):
    from cg_ir.fx import from_module

    net = tiny_net()
    graph = from_module(net, SHAPE)
    scores = compute_proxies(net, SHAPE, ["flops", "params"])
    assert scores["params"].value == graph.params == sum(p.numel() for p in net.parameters())
    assert scores["flops"].value == graph.flops > 0
    # a cache without a graph traces one for the key; another initialisation is another entry
    cache = ProxyCache(tmp_path / "c.json")
    first = compute_proxies(net, SHAPE, ["snip", "params"], batch_size=4, cache=cache)
    assert compute_proxies(net, SHAPE, ["snip", "params"], batch_size=4, cache=cache) == {
        n: s._replace(cached=True) for n, s in first.items()
    }
    other = compute_proxies(tiny_net(seed=1), SHAPE, ["snip", "params"], batch_size=4, cache=cache)
    assert not other["snip"].cached and other["params"].cached


def hard_activation_net(seed: int = 0) -> nn.Module:
    """MobileNetV3's activations, whose backward PyTorch cannot differentiate again."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),  # nwot reads ReLU codes
        nn.Conv2d(8, 8, 3, padding=1),
        nn.Hardswish(),
        nn.Conv2d(8, 8, 1),
        nn.Hardsigmoid(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )


def test_every_proxy_runs_through_hard_swish_and_hard_sigmoid():
    net = hard_activation_net()
    scores = compute_proxies(net, SHAPE, list(NETWORK_PROXIES), batch_size=4)
    assert all(math.isfinite(s.value) for s in scores.values())
    # the twins live only in grasp's private copy
    assert type(net[4]) is nn.Hardswish and type(net[6]) is nn.Hardsigmoid


def test_grasp_twins_compute_the_same_function():
    net = hard_activation_net().eval()
    x = torch.randn(4, *SHAPE)
    twin = twice_differentiable(copy.deepcopy(net))
    assert not any(isinstance(m, nn.Hardswish | nn.Hardsigmoid) for m in twin.modules())
    torch.testing.assert_close(twin(x), net(x))


class _Spy(Executor):
    """The out-of-process code path, run here: what goes out and back is pickled, as between
    processes (spawning workers that import torch costs ~15 s on a busy 2-core runner); each
    map's number of items is recorded."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def map(self, fn, items, *, progress=False, desc=None):  # type: ignore[no-untyped-def]
        fn, items = pickle.loads(pickle.dumps((fn, list(items))))
        self.sizes.append(len(items))
        results = LocalExecutor().map(fn, items, progress=progress, desc=desc)
        return pickle.loads(pickle.dumps(results))

    def close(self) -> None:
        pass


def _values(results):  # type: ignore[no-untyped-def]
    return [{n: (s.value, s.cached) for n, s in r.items()} for r in results]


def test_map_cell_proxies_through_executors_matches_the_serial_loop(tmp_path, monkeypatch):
    keys = [NB201_KEY, "(1, 1, 1, 1, 1, 1)", NB201_KEY]  # a key met twice reads the cache
    names = ["nwot", "synflow", "params"]
    serial = [cell_proxies("nb201", k, names, batch_size=4) for k in keys]
    spy = _Spy()
    assert _values(map_cell_proxies("nb201", keys, names, batch_size=4)) == _values(serial)
    assert _values(map_cell_proxies("nb201", keys, names, batch_size=4, executor=spy)) == (
        _values(serial)
    )
    # with a cache: part of it known beforehand, the rest computed, then all hits
    caches, known = {}, {}
    for how in ("serial", "spy", "other"):
        cache = caches[how] = ProxyCache(tmp_path / f"{how}.json")
        known[how] = cell_proxies("nb201", keys[1], ["nwot"], batch_size=4, cache=cache)["nwot"]
    loop = [cell_proxies("nb201", k, names, batch_size=4, cache=caches["serial"]) for k in keys]
    runs = []
    run = _compute._run
    monkeypatch.setattr(_compute, "_run", lambda name, *a: runs.append(name) or run(name, *a))
    with _Spy() as other:  # a second, independent run on its own cache
        through = {
            how: map_cell_proxies("nb201", keys, names, batch_size=4, cache=caches[how], executor=e)
            for how, e in (("spy", spy), ("other", other))
        }
    assert spy.sizes == [3, 2]  # with a cache, the repeated key is not sent twice
    # only the missing scores are computed (looking the cache up computes nothing)
    assert sorted(runs) == sorted(["nwot", "synflow", "synflow"] * 2)
    entries = {k: ProxyCache(tmp_path / "serial.json").get(k) for k in caches["serial"]._entries}
    for how, result in through.items():
        assert _values(result) == _values(loop)
        assert result[1]["nwot"] == known[how]._replace(cached=True)  # read, not recomputed
        again = ProxyCache(tmp_path / f"{how}.json")  # saved to disk by the caller
        assert {k: again.get(k).value for k in entries} == {k: e.value for k, e in entries.items()}
        assert len(again) == len(entries)
    hits = map_cell_proxies("nb201", keys, names, batch_size=4, cache=again, executor=spy)
    assert spy.sizes == [3, 2, 0] and all(s.cached for r in hits for s in r.values())


def test_live_proxies_with_an_executor_match_without(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from cg_predict.evaluate._live import live_proxies

    some = {n: NETWORK_PROXIES[n] for n in ("nwot", "snip")}
    monkeypatch.setattr("cg_predict.evaluate._live.NETWORK_PROXIES", some)
    # the aggregate's components, cut down the same way: one network proxy and the graph's FLOPs
    monkeypatch.setattr("cg_predict.evaluate._live.AZ_NAS_COMPONENTS", ("nwot", "flops"))
    cells = SimpleNamespace(
        family="nb201",
        keys=(NB201_KEY, "(1, 1, 1, 1, 1, 1)", "(4, 0, 1, 2, 3, 4)"),
        proxies={"flops": np.array([3.0, 1.0, 2.0])},
    )
    indices = np.array([2, 0], dtype=np.int64)
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "plain"))
    plain = live_proxies(cells, indices, batch_size=4, progress=False)
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "spread"))
    spy = _Spy()
    spread = live_proxies(cells, indices, batch_size=4, progress=False, executor=spy)
    again = live_proxies(cells, indices, batch_size=4, progress=False, executor=spy)
    assert list(plain) == list(spread) == ["nwot", "snip", "az_nas"]
    expected = az_nas_aggregate({"nwot": plain["nwot"], "flops": [2.0, 3.0]})
    np.testing.assert_allclose(plain["az_nas"], expected)
    for name in plain:
        np.testing.assert_array_equal(plain[name], spread[name])
        np.testing.assert_array_equal(plain[name], again[name])
    assert spy.sizes == [2, 0]  # the second run came from the cache


@pytest.mark.slow
def test_live_proxies_in_two_worker_processes_match_this_process(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from cg_predict.evaluate._live import live_proxies

    cells = SimpleNamespace(
        family="nb201",
        keys=(NB201_KEY, "(1, 1, 1, 1, 1, 1)", "(4, 0, 1, 2, 3, 4)"),
        proxies={"flops": np.array([3.0, 1.0, 2.0])},  # the aggregate's complexity component
    )
    indices = np.arange(3, dtype=np.int64)
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "here"))
    here = live_proxies(cells, indices, batch_size=4, progress=False)
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "workers"))
    with LocalExecutor(workers=2) as two:
        there = live_proxies(cells, indices, batch_size=4, progress=False, executor=two)
    assert list(here) == list(there) == [*NETWORK_PROXIES, "az_nas"]
    for name in here:
        np.testing.assert_array_equal(here[name], there[name])


@pytest.mark.slow
@pytest.mark.needs_data
def test_proxy_agreement_through_an_executor(tmp_path, data_dir):
    root = data_dir
    names = ["synflow", "nwot", "params"]
    here = proxy_agreement(4, 0, root, names=names, batch_size=4)
    spy = _Spy()
    out = tmp_path / "agreement.json"
    spread = proxy_agreement(4, 0, root, names=names, batch_size=4, out=out, executor=spy)
    assert spy.sizes == [4]
    assert list(spread["cells"]) == list(here["cells"])
    for key, cell in here["cells"].items():
        ours = spread["cells"][key]["ours"]
        assert {n: s["value"] for n, s in ours.items()} == {
            n: s["value"] for n, s in cell["ours"].items()
        }
    assert spread["proxies"].keys() == here["proxies"].keys()
    again = proxy_agreement(4, 0, root, names=names, batch_size=4, out=out, executor=spy)
    assert spy.sizes == [4, 0] and again["cells"] == spread["cells"]  # resumed from out
