"""Zero-shot rank blends of the network, FLOPs and one live proxy, chosen on held-out families.

For every labelled family ``V``, setting ``b``'s seeded sample of live-proxy cells (the
protocol's ``b-live`` view: ``ProtocolConfig.full(V)``'s ``live_sample_size`` cells, every
network proxy computed on the untrained module, ``live_proxies``) is ranked by every candidate
blend (``cg_predict.ranking.rank_blend``): weights on a simplex grid (``--step``) over the
network (the protocol's source model trained without ``V``, one per run seed, the same disk
cache as ``evaluate``), FLOPs and one proxy (every network proxy, and params). A candidate's
score on ``V`` is its SRCC per isomorphism class, the mean over the run seeds (and over
NB-201's datasets).

A target ``T``'s blend is the candidate with the best mean score over the family groups other
than ``T`` (the fold never scores on ``T``'s cells; the network of another fold has seen
``T``'s labels, as in ``select_zero_shot.py``); the ``unseen family`` choice (what a family
outside the training data meets) is made on every group. The report also gives, on each
family, FLOPs, params, the network alone and the best single proxy (an oracle choice made on
that family's labels, for comparison only).

Usage: python tools/select_zero_shot_blend.py [--step 0.125] [--families nb101,...]
       --out results/selection/selection-zero-shot-blend.json
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cg_ir import write_json
from cg_ir.provenance import code_digest
from cg_predict.evaluate import (
    DATASETS,
    FAMILIES,
    RESULTS_CODE,
    ProtocolConfig,
    live_proxies,
    live_sample,
    target_cells,
    train_source_model,
)
from cg_predict.metrics import class_means, spearman
from cg_predict.proxies import NETWORK_PROXIES
from cg_predict.ranking import rank_blend
from cg_predict.training import predict

UNSEEN = "unseen family"
FloatArray = npt.NDArray[np.float64]


def candidates(step: float, proxies: Sequence[str]) -> Iterator[dict[str, float]]:
    """Every weighting of network, FLOPs and one of ``proxies`` on a simplex grid of ``step``.

    Weights of 0 are left out, so a blend without a proxy comes once.

    Examples:
        >>> [name_of(w) for w in candidates(0.5, ["meco"])][:3]
        ['meco=1', 'flops=0.5 meco=0.5', 'flops=1']
        >>> len(list(candidates(0.5, ["meco", "zico"])))
        9
    """
    n = round(1 / step)
    seen: set[str] = set()
    for proxy in proxies:
        for a, b in itertools.product(range(n + 1), repeat=2):
            if a + b > n:
                continue
            weights = {"network": a / n, "flops": b / n, proxy: (n - a - b) / n}
            kept = {k: w for k, w in weights.items() if w > 0}
            if name_of(kept) not in seen:
                seen.add(name_of(kept))
                yield kept


def name_of(weights: Mapping[str, float]) -> str:
    """``"network=0.25 flops=0.75"``: a candidate's name, in a fixed order."""
    return " ".join(f"{k}={w:g}" for k, w in sorted(weights.items()))


def _columns(family: str, dataset: str, args: argparse.Namespace) -> dict[str, Any]:
    """The sample's labels, classes, FLOPs, params, live proxies and each seed's network scores."""
    config = ProtocolConfig.full(family, dataset=dataset)
    cells = target_cells(
        family,
        dataset,
        "b",
        args.data_dir,
        limit=config.test_cells,
        sample_seed=config.test_sample_seed,
        progress=False,
    )
    sample = live_sample(len(cells), config.live_sample_size, config.live_sample_seed)
    columns = {name: values[sample] for name, values in cells.proxies.items()}
    columns.update(live_proxies(cells, sample, batch_size=config.live_batch_size, progress=True))
    graphs = cells.graphs.subset(sample)
    networks = []
    for seed in config.runs:
        model, _ = train_source_model(
            family, config.source_for(seed), sources=config.sources, data_dir=args.data_dir
        )
        networks.append(predict(model, graphs, device=args.device))
    assert cells.graphs.hashes is not None  # target cells record their classes
    return {
        "labels": cells.labels[sample],
        "classes": cells.graphs.hashes[sample],
        "columns": columns,
        "networks": networks,
    }


def _score(data: Mapping[str, Any], weights: Mapping[str, float]) -> float:
    """Mean over the seeds' networks of the blend's SRCC per class (NaN if a proxy failed)."""
    columns = data["columns"]
    if any(not np.isfinite(columns[k]).all() for k in weights if k != "network"):
        return float("nan")
    networks = data["networks"] if "network" in weights else data["networks"][:1]
    return statistics.fmean(
        spearman(*class_means(data["classes"], data["labels"], blend))
        for blend in (rank_blend({**columns, "network": n}, weights) for n in networks)
    )


def _group_scores(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """``{family: {candidate: score}}``, NB-201's datasets averaged."""
    proxies = [*NETWORK_PROXIES, "params"]
    grid = list(candidates(args.step, proxies))
    scores: dict[str, dict[str, float]] = {}
    for family in args.families:
        per_dataset = [_columns(family, d, args) for d in DATASETS[family]]
        scores[family] = {
            name_of(w): statistics.fmean(_score(data, w) for data in per_dataset) for w in grid
        }
        best = max(scores[family].items(), key=lambda kv: np.nan_to_num(kv[1], nan=-2))
        print(f"{family}: best candidate on its own labels {best[0]} {best[1]:.3f}", flush=True)
    return scores


def _choice(scores: Mapping[str, Mapping[str, float]], on: Sequence[str]) -> tuple[str, float]:
    """The candidate with the best mean score over the families ``on`` (NaN counts as -1)."""
    names = list(next(iter(scores.values())))
    means = {n: statistics.fmean(np.nan_to_num(scores[f][n], nan=-1.0) for f in on) for n in names}
    best = max(names, key=lambda n: means[n])
    return best, means[best]


def report(scores: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """Per target (and the unseen family): the choice, its score there and the baselines."""
    families = list(scores)
    choices: dict[str, Any] = {}
    for target in [*families, UNSEEN]:
        sources = [f for f in families if f != target]
        chosen, source_mean = _choice(scores, sources)
        entry: dict[str, Any] = {"chosen": chosen, "chosen_on": sources, "source_mean": source_mean}
        if target in scores:
            mine = scores[target]
            singles = {n: v for n, v in mine.items() if "=" in n and n.endswith("=1")}
            entry.update(
                srcc=mine[chosen],
                flops=mine["flops=1"],
                params=mine["params=1"],
                network=mine["network=1"],
                best_single=max(singles.items(), key=lambda kv: np.nan_to_num(kv[1], nan=-2)),
            )
        choices[target] = entry
    return choices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=lambda s: s.split(","), default=list(FAMILIES))
    parser.add_argument("--step", type=float, default=0.125)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    scores = _group_scores(args)
    choices = report(scores)
    for target, entry in choices.items():
        line = f"{target}: {entry['chosen']}"
        if "srcc" in entry:
            line += (
                f" -> {entry['srcc']:.3f} (FLOPs {entry['flops']:.3f}, params "
                f"{entry['params']:.3f}, network {entry['network']:.3f}, best single "
                f"{entry['best_single'][0]} {entry['best_single'][1]:.3f})"
            )
        print(line)
    write_json(
        args.out,
        {
            "step": args.step,
            "families": args.families,
            "srcc": scores,
            "choices": choices,
            "code_digest": code_digest(*RESULTS_CODE),
        },
    )


if __name__ == "__main__":
    main()
