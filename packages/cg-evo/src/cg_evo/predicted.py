"""Search outside a labelled pool: the best *predicted* architecture under a cost budget.

Where no oracle exists (the whole OFA-MobileNetV3 space, the ResNet space, a user's family),
``search_predicted`` runs regularized evolution on the predictor's scores instead of labels:
a population of random architectures that fit the budget, then generations of ``mutants``
mutants of tournament winners (the family's own ``sample`` and ``mutate``), scored in one batch,
joining the population while the oldest leave. ``evaluations`` counts predictor scores, not
oracle queries: nothing is trained or measured.

What it reports is a **predicted score** (cg-predict's within-family rank score: standardised,
higher is better), never an accuracy. The predictor is the leave-one-family-out source model:
it never saw a label of the searched family.
"""

from __future__ import annotations

import os
import time
from collections import deque
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from cg_evo.budget import Budget
from cg_evo.errors import InvalidSearchError, NoCandidatesError
from cg_evo.strategies import StrategySettings
from cg_evo.surrogate import source_predictor
from cg_ir import families
from cg_ir.executor import torch_threads
from cg_ir.provenance import code_digest
from cg_predict.evaluate import write_json
from cg_predict.graphs import GraphSet
from cg_predict.training import predict

__all__ = ["PREDICTED_FORMAT", "search_predicted"]

PREDICTED_FORMAT = "cg-evo/predicted-search"
_SAMPLE_TRIES = 2000
_TOP = 10


def _candidate(family: Any, spec: Any, budget: Budget) -> dict[str, Any] | None:
    graph = family.to_cg(spec)
    costs = {"flops": np.array([float(graph.flops)]), "params": np.array([float(graph.params)])}
    if not budget.mask(costs)[0]:
        return None
    return {
        "key": family.key(spec),
        "spec": spec,
        "graph": graph,
        "flops": float(graph.flops),
        "params": float(graph.params),
    }


def _seed_run(
    family: Any,
    model: Any,
    budget: Budget,
    evaluations: int,
    settings: StrategySettings,
    seed: int,
    device: str,
) -> dict[str, Any]:
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    scored: dict[str, dict[str, Any]] = {}

    def score(batch: list[dict[str, Any]]) -> None:
        fresh = [c for c in batch if c["key"] not in scored]
        if fresh:
            values = predict(model, GraphSet.from_graphs(c["graph"] for c in fresh), device=device)
            for c, v in zip(fresh, values.tolist(), strict=True):
                c["predicted_score"] = v
                scored[c["key"]] = c
        for c in batch:
            c["predicted_score"] = scored[c["key"]]["predicted_score"]

    population: deque[dict[str, Any]] = deque(maxlen=settings.population)
    initial: list[dict[str, Any]] = []
    for _ in range(_SAMPLE_TRIES):
        if len(initial) == settings.population:
            break
        found = _candidate(family, family.sample(rng), budget)
        if found is not None:
            initial.append(found)
    if not initial:
        raise NoCandidatesError(
            f"no random {family.name} architecture of {_SAMPLE_TRIES} fits the budget "
            f"({budget.describe()})"
        )
    score(initial)
    population.extend(initial)
    while len(scored) < evaluations:
        children = []
        for _ in range(settings.mutants):
            drawn = rng.choice(len(population), size=min(settings.tournament, len(population)))
            parent = max((population[int(i)] for i in drawn), key=lambda c: c["predicted_score"])
            child = _candidate(family, family.mutate(parent["spec"], rng), budget)
            if child is not None:
                children.append(child)
        if not children:
            break  # nothing under the budget is one mutation away: the search is stuck
        before = len(scored)
        score(children)
        population.extend(children)
        if len(scored) == before:
            break  # only architectures scored before: no progress possible
    best = sorted(scored.values(), key=lambda c: -c["predicted_score"])[:_TOP]
    return {
        "seed": seed,
        "evaluations": len(scored),
        "top": [{k: c[k] for k in ("key", "predicted_score", "flops", "params")} for c in best],
        "seconds": time.perf_counter() - start,
    }


def search_predicted(
    family: str,
    *,
    evaluations: int = 1000,
    seeds: int = 3,
    budget: Budget | None = None,
    settings: StrategySettings | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    quick: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    threads: int | None = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """The best predicted architectures of ``family`` under ``budget``, per seed.

    Args:
        family: any registered cg-ir family with ``sample`` and ``mutate``.
        evaluations: predictor scores per seed.
        seeds: seeds ``0 .. seeds - 1``.
        budget: ``flops``/``params`` limits (graph costs; table costs need a pool).
        settings: population, tournament and mutants per generation.
        checkpoint: a predictor checkpoint instead of the source model (refused if it saw
            the family's labels).
        quick: quick source model.
        data_dir: benchmark data for the source families.
        out: write the results JSON here (atomically).
        device: torch device.
        threads: torch CPU threads while searching (restored afterwards; None: unchanged).
        progress: a progress bar over seeds.

    Raises:
        InvalidSearchError: too few evaluations, or a budget on a cost other than flops/params.
        NoCandidatesError: no sampled architecture fits the budget.
        TargetLeakError: the checkpoint saw the family's labels.
    """
    start = time.perf_counter()
    fam = families.get(family)
    budget = budget or Budget()
    settings = settings or StrategySettings()
    if evaluations < settings.population:
        raise InvalidSearchError(
            f"evaluations={evaluations} must be at least the population ({settings.population})"
        )
    unsupported = sorted(set(budget.limits) - {"flops", "params"})
    if unsupported:
        raise InvalidSearchError(
            f"outside a pool only flops and params can be budgeted (graph costs); got "
            f"{', '.join(unsupported)}"
        )
    model, meta = source_predictor(
        family,
        checkpoint=checkpoint,
        quick=quick,
        data_dir=data_dir,
        device=device,
        progress=progress,
    )
    runs = []
    with torch.random.fork_rng(devices=[]), torch_threads(threads):
        for seed in tqdm(range(seeds), disable=not progress, desc=f"{family} predicted"):
            torch.manual_seed(seed)
            runs.append(_seed_run(fam, model, budget, evaluations, settings, seed, device))
    result = {
        "format": PREDICTED_FORMAT,
        "format_version": 1,
        "objective": "predicted",
        "score": "predicted score (within-family rank score, standardised; not an accuracy)",
        "config": {
            "family": family,
            "evaluations": evaluations,
            "seeds": seeds,
            "budget": budget.to_dict(),
            "settings": settings.to_dict(),
            "checkpoint": None if checkpoint is None else os.fspath(checkpoint),
            "quick": quick,
            "code": code_digest("cg_ir", "cg_predict", "cg_evo"),
        },
        "predictor": {k: meta.get(k) for k in ("trained_on", "method") if k in meta},
        "runs": runs,
        "best": max((r["top"][0] for r in runs), key=lambda c: c["predicted_score"]),
        "wall_seconds": time.perf_counter() - start,
    }
    if out is not None:
        write_json(out, result)
    return result
