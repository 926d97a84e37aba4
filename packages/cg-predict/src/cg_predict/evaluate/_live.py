"""Zero-cost proxies computed live on a seeded sample of a large test set (setting ``b-live``).

Proxies cost seconds per network on a CPU (NB-201 ~5 s for the first seven at batch 32 and
~3.5 s more for zico, meco, swap, swap_reg and AZ-NAS's components; NB-301 ~9 s, OFA-MobileNetV3
~26 s, NB-101 ~30 s for the first seven), so setting (b) scores them on a sample of its cells
(``ProtocolConfig.live_sample_size``), drawn with its own seed (``live_sample_seed``),
independent of the run seeds; each network is the cg-ir family's module with weights from
``init_seed(0, key)`` and one shared synthetic batch (seed 0, ``proxies.DEFAULT_INPUT``), as in
``proxy_agreement``. NB-201
modules have CIFAR-10's 10 classes whatever the target dataset. Scores are cached on disk
(``ProxyCache``, one file per family) so reruns, resumed runs and other datasets of the same
family do not recompute them. An executor (``cg_ir.executor``) spreads the networks over worker
processes or a Ray cluster. AZ-NAS's aggregate (``az_nas``) ranks the sample by its components
and FLOPs (``az_nas_aggregate``): a score of the sample as a set, label-free like the others.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cg_ir.executor import Executor
from cg_predict.evaluate._targets import CellSet, target_cells
from cg_predict.graphs import cache_dir
from cg_predict.proxies import (
    AZ_NAS_COMPONENTS,
    DEFAULT_BATCH_SIZE,
    NETWORK_PROXIES,
    ProxyCache,
    az_nas_aggregate,
)
from cg_predict.proxies.agreement import map_cell_proxies

if TYPE_CHECKING:
    from cg_predict.evaluate._config import ProtocolConfig

__all__ = ["live_cells", "live_proxies", "live_proxy_cache", "live_sample", "sampled_live_proxies"]

FloatArray = npt.NDArray[np.float64]


def live_proxy_cache(family: str) -> ProxyCache:
    """The disk cache of ``family``'s live proxy scores (its directory created).

    One file per family, shared by ``live_proxies`` and every other live scoring of the same
    networks (seed-0 weights, the default batch): cg-evo's proxy orderings and their warm-up.
    """
    path = cache_dir() / "evaluate" / f"live-proxies-{family}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return ProxyCache(path)


def live_sample(n_cells: int, size: int, seed: int) -> npt.NDArray[np.int64]:
    """Sorted indices of a sample of ``size`` of ``n_cells`` cells (all if fewer), by ``seed``.

    Examples:
        >>> live_sample(10, 3, seed=0).tolist() == live_sample(10, 3, seed=0).tolist()
        True
        >>> live_sample(2, 5, seed=0).tolist()
        [0, 1]
    """
    if size >= n_cells:
        return np.arange(n_cells, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_cells, size=size, replace=False)).astype(np.int64)


def live_proxies(
    cells: CellSet,
    indices: npt.NDArray[np.int64],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str = "cpu",
    progress: bool = True,
    executor: Executor | None = None,
) -> dict[str, FloatArray]:
    """``{proxy: scores}`` of every network proxy on the cells at ``indices``, in that order.

    ``az_nas`` is AZ-NAS's aggregate over those cells when all its components are there (NaN
    everywhere if a component failed on one of them).

    ``executor`` (``cg_ir.executor``: worker processes or Ray) computes the cells elsewhere;
    the cache is read and written in this process and the scores are the same as without one
    (see ``map_cell_proxies``).
    """
    cache = live_proxy_cache(cells.family)
    names = list(NETWORK_PROXIES)
    keys = [cells.keys[int(i)] for i in indices]
    results = map_cell_proxies(
        cells.family,
        keys,
        names,
        seed=0,
        batch_size=batch_size,
        device=device,
        cache=cache,
        executor=executor,
        progress=progress,
        desc=f"{cells.family} live proxies",
    )
    scores = {
        name: np.asarray([result[name].value for result in results], dtype=np.float64)
        for name in names
    }
    # flops is a graph proxy: the cell set has it
    available = {**{n: v[indices] for n, v in cells.proxies.items()}, **scores}
    if all(name in available for name in AZ_NAS_COMPONENTS):
        components = {name: available[name] for name in AZ_NAS_COMPONENTS}
        failed = np.any([np.isnan(column) for column in components.values()])
        # the aggregate ranks the whole sample: a failed component leaves no ranking to report
        scores["az_nas"] = (
            np.full(len(indices), np.nan)
            if failed
            else np.asarray(az_nas_aggregate(components), dtype=np.float64)
        )
    return scores


def sampled_live_proxies(
    cells: CellSet, config: ProtocolConfig, *, device: str = "cpu", progress: bool = True
) -> tuple[npt.NDArray[np.int64], dict[str, FloatArray]]:
    """``config``'s seeded live sample of ``cells`` (indices) and every network proxy on it."""
    sample = live_sample(len(cells), config.live_sample_size, config.live_sample_seed)
    scores = live_proxies(
        cells, sample, batch_size=config.live_batch_size, device=device, progress=progress
    )
    return sample, scores


def live_cells(
    family: str,
    dataset: str,
    config: ProtocolConfig,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    device: str = "cpu",
    progress: bool = True,
) -> CellSet:
    """Setting ``b-live``'s cells of ``family`` on ``dataset``: every member of a zero-shot blend.

    Setting b's test cells as ``config`` samples them, narrowed to its live sample; ``proxies``
    holds FLOPs and params beside every network proxy computed live (the same cache, hence the
    same scores, as the protocol's ``b-live`` rows).
    """
    cells = target_cells(
        family,
        dataset,
        "b",
        data_dir,
        limit=config.test_cells,
        sample_seed=config.test_sample_seed,
        progress=progress,
    )
    sample, scores = sampled_live_proxies(cells, config, device=device, progress=progress)
    view = cells.subset(sample)
    return dataclasses.replace(
        view, name=f"{view.name}, live sample", proxies={**view.proxies, **scores}
    )
