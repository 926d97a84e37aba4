"""``compute_proxies``: every requested proxy on private copies of one module."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence

import torch
from torch import nn

from cg_ir import ComputationGraph
from cg_ir.provenance import cache_key
from cg_predict.errors import ProxyComputationError
from cg_predict.proxies._batch import DEFAULT_INPUT, Batch, image_shape, make_batch
from cg_predict.proxies._cache import ProxyCache, ProxyScore
from cg_predict.proxies._registry import (
    ALL,
    GRAPH_PROXIES,
    NETWORK_PROXIES,
    PROXY_VERSION,
    resolve_names,
)

__all__ = ["compute_proxies"]

# NAS-Bench-Suite-Zero's batch size: jacov is at most about -N for N examples (all
# eigenvalues 1), and their NB-201 jacov tops out at -32.2; nwot and jacov scale with N.
DEFAULT_BATCH_SIZE = 32
# the code a cached score depends on: the proxies and cg-ir (graphs, hashes, FLOPs, modules)
PROXY_CODE = ("cg_ir", "cg_predict.proxies")


def compute_proxies(
    module: nn.Module,
    input_shape: Sequence[int],
    names: str | Iterable[str] = ALL,
    *,
    batch: tuple[torch.Tensor, torch.Tensor] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_classes: int | None = None,
    seed: int = 0,
    synthetic_input: str = DEFAULT_INPUT,
    device: str | torch.device = "cpu",
    graph: ComputationGraph | None = None,
    cache: ProxyCache | None = None,
) -> dict[str, ProxyScore]:
    """Zero-cost proxies of ``module`` at its current weights: ``{name: ProxyScore}``.

    Every network proxy runs on its own deep copy of ``module``, moved to ``device``, with every
    parameter trainable and in **train mode** (batch normalisation normalises with the batch's
    own statistics, as in NAS-Bench-Suite-Zero; ``synflow`` removes it). ``module`` itself is
    never changed: not its weights, buffers, gradients, training flag nor device. Randomness
    inside ``forward`` (dropout) is seeded with ``seed`` in a forked RNG, so the global RNG state
    is untouched and the same arguments give the same numbers on the same device.

    The batch is ``batch`` if given (e.g. real CIFAR images, as NAS-Bench-Suite-Zero used), else
    a synthetic one from ``seed``: ``batch_size`` images drawn by ``synthetic_input`` (a name of
    ``SYNTHETIC_INPUTS``; default ``DEFAULT_INPUT``) and labels uniform over the module's
    classes. Values are raw (``log_scale`` compresses synflow's orders of
    magnitude); each proxy's module docstring gives its definition and sign (higher = better).

    Args:
        module: a classifier returning ``(batch, classes)`` logits (weights as initialised:
            ``cg_ir.families.get(f).to_module(spec)`` or any user network).
        input_shape: ``(C, H, W)`` or ``(N, C, H, W)`` (N ignored), e.g.
            ``family.input_shape(spec)``.
        names: a proxy name or several, from ``ALL``: ``NETWORK_PROXIES`` (``synflow, jacov,
            snip, grasp, fisher, grad_norm, nwot, zico, meco, swap, swap_reg,
            az_expressivity, az_progressivity, az_trainability``, computed on the network) and
            ``flops, params`` (from the graph).
        batch: ``(inputs, targets)``, overrides the synthetic batch.
        batch_size: examples of the synthetic batch (at least 2).
        num_classes: classes for the synthetic labels; default: the module's output width.
        seed: seeds the synthetic batch and any randomness in ``forward``.
        synthetic_input: how the synthetic batch's images are drawn (``SYNTHETIC_INPUTS``);
            part of the cache key, so scores of another input are never read back.
        device: where the copies run (``"cpu"``, ``"cuda"``, ...).
        graph: ``module``'s computation graph; default ``cg_ir.from_module(module, ...)``,
            traced on a copy only when ``flops``/``params`` are asked for or ``cache`` is given.
        cache: look scores up here first and store new ones (saved before returning).

    Returns:
        The scores in the order of ``names``.

    Raises:
        UnknownProxyError: a name not in ``ALL``; the message lists the valid ones.
        InvalidArgumentError: a bad ``input_shape``, ``batch``, ``batch_size``, ``num_classes``
            or ``synthetic_input``.
        ProxyComputationError: the module cannot be copied, returns no logits tensor, or lacks
            what a proxy scores (the message names the proxy).

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
        ...                           torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10))
        >>> scores = compute_proxies(net, (3, 8, 8), ["synflow", "nwot"], batch_size=8)
        >>> sorted(scores), scores["synflow"].value > 0
        (['nwot', 'synflow'], True)
    """
    wanted = resolve_names(names)
    shape = image_shape(input_shape)
    needs_graph = cache is not None or any(n in GRAPH_PROXIES for n in wanted)
    if needs_graph and graph is None:
        from cg_ir.fx import from_module  # imports torch.fx: only when a graph is needed

        graph = from_module(_copy(module), (1, *shape))
    arch = graph.canonical_hash() if graph is not None else ""
    dev = torch.device(device)
    results: dict[str, ProxyScore] = {}

    network_names = [n for n in wanted if n in NETWORK_PROXIES]
    if network_names:
        classes = num_classes if num_classes is not None else _output_width(module, shape)
        data = make_batch(
            shape,
            batch=batch,
            batch_size=batch_size,
            num_classes=classes,
            seed=seed,
            synthetic=synthetic_input,
        )
        weights = _weights_digest(module) if cache is not None else ""
        for name in network_names:
            key = _key(
                arch, name, weights=weights, input=data.source, batch=data.digest, device=dev.type
            )
            results[name] = _cached(cache, key) or _run(name, module, data, seed, dev)
            if cache is not None and not results[name].cached:
                cache.put(key, results[name])

    for name in (n for n in wanted if n in GRAPH_PROXIES):
        assert graph is not None
        key = _key(arch, name)
        hit = _cached(cache, key)
        if hit is None:
            start = time.perf_counter()
            hit = ProxyScore(GRAPH_PROXIES[name](graph), time.perf_counter() - start)
            if cache is not None:
                cache.put(key, hit)
        results[name] = hit

    if cache is not None:
        cache.save()
    return {name: results[name] for name in wanted}


def _key(arch: str, name: str, **network: str) -> str:
    """The cache key of proxy ``name`` on graph hash ``arch`` (with weights, input, batch, device).

    It covers ``PROXY_VERSION`` and the digest of ``PROXY_CODE``: a score computed by other
    code is never read back.
    """
    return cache_key(
        {"arch": arch, "proxy": name, "version": PROXY_VERSION, **network}, *PROXY_CODE
    )


def _cached(cache: ProxyCache | None, key: str) -> ProxyScore | None:
    return None if cache is None else cache.get(key)


def _copy(module: nn.Module) -> nn.Module:
    try:
        return copy.deepcopy(module)
    except Exception as e:
        raise ProxyComputationError(
            f"cannot deep-copy the module ({type(e).__name__}: {e}); proxies run on copies so "
            "that the caller's module is never changed, so it must support copy.deepcopy"
        ) from e


def _output_width(module: nn.Module, shape: tuple[int, ...]) -> int:
    net = _copy(module).cpu().eval()
    with torch.no_grad():
        out = net(torch.zeros((2, *shape)))
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ProxyComputationError(
            f"the module must return (batch, classes) logits, got {got}; wrap it so that "
            "forward returns the classifier's logits (or pass num_classes and fix the output)"
        )
    return int(out.shape[1])


def _weights_digest(module: nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous().reshape(-1)  # 0-d tensors cannot be viewed
        h.update(f"{name}:{t.dtype}:{tuple(tensor.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:32]


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    # fork_rng restores the global generators on exit: seeding here changes nothing outside
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type if devices else None):
        torch.manual_seed(seed)
        yield


def _run(name: str, module: nn.Module, data: Batch, seed: int, device: torch.device) -> ProxyScore:
    start = time.perf_counter()
    net = _copy(module).to(device).train()
    for parameter in net.parameters():
        parameter.requires_grad_(True)  # proxies score the architecture, frozen or not
    inputs, targets = data.inputs.to(device), data.targets.to(device)
    with _seeded(seed, device), torch.enable_grad():
        value = NETWORK_PROXIES[name](net, inputs, targets)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return ProxyScore(float(value), time.perf_counter() - start)
