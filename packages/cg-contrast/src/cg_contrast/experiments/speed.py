"""What contrastive pretraining at scale costs: the ``contrast-speed`` experiment.

Targets (issue "cg-contrast"): the spectral features of 50,000 graphs in at most
``SPECTRA_50K_TARGET_S`` on both cores, one contrastive epoch over 50,000 graphs in at most
``EPOCH_50K_TARGET_S``, and embedding all 15,625 NB-201 graphs in at most
``EMBED_NB201_TARGET_S``. The pool is a seeded sample of cg-contrast's default families
(``DEFAULT_FAMILIES``, split evenly); quick mode measures ``QUICK_POOL`` graphs and
extrapolates linearly to 50,000 (the report says which figures are extrapolated). Pretraining
and embedding run on one torch thread, the spectra on two worker processes.

Examples:
    >>> SPECTRA_50K_TARGET_S, EPOCH_50K_TARGET_S, EMBED_NB201_TARGET_S
    (300.0, 180.0, 10.0)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import numpy.typing as npt

from cg_ir import families
from cg_ir.executor import torch_threads
from cg_ir.experiments import Experiment, RunContext
from cg_ir.timing import timed

__all__ = [
    "CONTRAST_SPEED",
    "EMBED_NB201_TARGET_S",
    "EPOCH_50K_TARGET_S",
    "SPECTRA_50K_TARGET_S",
    "measure_contrast",
]

SPECTRA_50K_TARGET_S = 300.0  # spectral features of 50,000 graphs, both cores
EPOCH_50K_TARGET_S = 180.0  # one contrastive epoch over 50,000 graphs
EMBED_NB201_TARGET_S = 10.0  # embedding all 15,625 NB-201 graphs
FULL_POOL = 50_000
QUICK_POOL = 2_000
SEED = 0


def _pool(size: int) -> tuple[Any, npt.NDArray[np.str_]]:
    """A seeded pool of ``size`` graphs of the default families, and each graph's family."""
    from cg_contrast.pools import DEFAULT_FAMILIES, family_sizes
    from cg_predict.graphs import GraphSet

    sets, names = [], []
    for index, (name, count) in enumerate(family_sizes(list(DEFAULT_FAMILIES), size).items()):
        family = families.get(name)
        specs = family.sample_distinct(np.random.default_rng([SEED, index]), count)
        sets.append(GraphSet.from_graphs((family.to_cg(spec) for spec in specs), hashes=True))
        names += [name] * count
    return GraphSet.concat(sets), np.asarray(names)


def measure_contrast(
    size: int, device: str = "cpu", nb201_graphs: int | None = None
) -> dict[str, Any]:
    """Wall and CPU seconds of the spectra, one epoch and embedding NB-201 (JSON-able report).

    The spectra and one retrieval epoch (pool set-up included) are timed on a pool of ``size``
    graphs and scaled linearly to 50,000; embedding covers the first ``nb201_graphs`` NB-201
    cells in enumeration order (None: all 15,625, what the target is about).

    Examples:
        >>> report = measure_contrast(24, nb201_graphs=600)
        >>> report["pool"], report["extrapolated"], report["embed_nb201_graphs"]
        (24, True, 600)
    """
    from cg_contrast.pools import Pool
    from cg_contrast.pretrain import PretrainConfig, pretrain
    from cg_contrast.spectral import spectral_features
    from cg_predict.encoder import Encoder, EncoderConfig
    from cg_predict.graphs import family_graphs
    from cg_predict.training import embed

    scale = FULL_POOL / size
    converted = timed(lambda: _pool(size))
    graphs, names = converted.value
    spectra = timed(lambda: spectral_features(graphs, workers=2, progress=False))
    config = PretrainConfig(method="retrieval", epochs=1, batch_size=256)
    pool = Pool(graphs, names, spectra.value, names)
    with torch_threads(1):
        epoch = timed(lambda: pretrain(pool, config, device=device, progress=False))
        nb201 = families.get("nb201")
        keys = [nb201.key(spec) for spec in nb201.enumerate()][:nb201_graphs]
        all_nb201 = family_graphs("nb201", keys, progress=False)
        encoder = Encoder(EncoderConfig(**config.encoder)).to(device)
        embed(encoder, all_nb201.subset(range(min(512, len(all_nb201)))))  # warm-up: allocations
        embedding = timed(lambda: embed(encoder, all_nb201, batch_size=1024))
    return {
        "pool": size,
        "extrapolated": size < FULL_POOL,
        "cpus": os.cpu_count() or 0,
        "convert_s": converted.wall_s,
        "load_average_1min": os.getloadavg()[0],
        "spectra_s": spectra.wall_s,
        "spectra_50k_s": spectra.wall_s * scale,
        "spectra_50k_cpu_s": spectra.cpu_s * scale,
        "epoch_s": epoch.wall_s,
        "epoch_50k_s": epoch.wall_s * scale,
        "epoch_50k_cpu_s": epoch.cpu_s * scale,
        "embed_nb201_graphs": len(all_nb201),
        "embed_nb201_s": embedding.wall_s,
        "embed_nb201_cpu_s": embedding.cpu_s,
    }


# report key of each task's wall seconds: (its CPU seconds' key, the target in seconds)
_TASKS = {
    "spectra_50k_s": ("spectra_50k_cpu_s", SPECTRA_50K_TARGET_S),
    "epoch_50k_s": ("epoch_50k_cpu_s", EPOCH_50K_TARGET_S),
    "embed_nb201_s": ("embed_nb201_cpu_s", EMBED_NB201_TARGET_S),
}


def _speed(ctx: RunContext) -> dict[str, Any]:
    ctx.seeds.append(SEED)
    report = measure_contrast(QUICK_POOL if ctx.quick else FULL_POOL, ctx.device)
    report["targets_s"] = {task: target for task, (_, target) in _TASKS.items()}
    ctx.write_json("contrast-speed.json", report)
    ctx.write_csv(
        "contrast-speed.csv",
        ["task", "seconds", "cpu_seconds", "target_s"],
        [[task, report[task], report[cpu], target] for task, (cpu, target) in _TASKS.items()],
    )
    return {task: report[task] for task in _TASKS}


CONTRAST_SPEED = Experiment(
    "contrast-speed",
    "Contrastive pretraining at scale: spectra, one epoch, embedding NB-201",
    _speed,
    code=("cg_ir", "cg_predict", "cg_contrast"),
    order=15,
    quick_minutes=1.5,
    full_minutes=10,
)
