"""Zero-shot rank ensembles of the network, FLOPs, params and every live proxy, chosen on sources.

For every labelled family ``V``, setting ``b``'s seeded sample of live-proxy cells (the
protocol's ``b-live`` view: ``ProtocolConfig.full(V)``'s ``live_sample_size`` cells, every
network proxy computed on the untrained module, ``live_proxies``) is ranked by every member:
the network (the protocol's source model trained without ``V``, one per run seed, the same disk
cache as ``evaluate``), FLOPs, params and each network proxy. A member's score on ``V`` is its
SRCC per isomorphism class (the mean over the run seeds for the network, and over NB-201's
datasets).

A target ``T`` is ranked by ``cg_predict.ranking.rank_blend`` of the members, each weighted by
``max(s, 0) ** p`` where ``s`` is its mean score over the family groups other than ``T``
(normalised to sum 1): rankings that did well elsewhere count more, those that did not count
nothing. The power ``p`` (from ``--powers``) is chosen by the same rule one level down: left out
in turn, each source group is ranked with weights from the remaining ones; the ``p`` with the
best mean wins. ``T``'s labels choose nothing (the network of another fold has seen ``T``'s
labels, as in ``select_zero_shot.py``). The ``unseen family`` entry (what a family outside the
training data meets; the shipped checkpoint's blend) weighs every group. ``graphs_only`` is the
same rule over the members a graph alone gives (network, FLOPs, params): what ranks items
without a module. The report gives, on each family, the ensemble's SRCC beside FLOPs, params,
the network and the best single member (an oracle choice made on that family's labels).

Usage: python tools/select_zero_shot_blend.py [--powers 1,2,4] [--families nb101,...]
       --out results/selection/selection-zero-shot-blend.json
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cg_ir import write_json
from cg_ir.provenance import code_digest
from cg_predict.evaluate import (
    DATASETS,
    FAMILIES,
    RESULTS_CODE,
    ProtocolConfig,
    live_cells,
    train_source_model,
)
from cg_predict.metrics import class_means, spearman
from cg_predict.proxies import NETWORK_PROXIES
from cg_predict.ranking import rank_blend
from cg_predict.training import predict

UNSEEN = "unseen family"


GRAPH_MEMBERS = ("network", "flops", "params")


def _columns(family: str, dataset: str, args: argparse.Namespace) -> dict[str, Any]:
    """The sample's labels, classes and every member's scores (one network per run seed)."""
    config = ProtocolConfig.full(family, dataset=dataset)
    cells = live_cells(family, dataset, config, args.data_dir)
    networks = []
    for seed in config.runs:
        model, _ = train_source_model(
            family, config.source_for(seed), sources=config.sources, data_dir=args.data_dir
        )
        networks.append(predict(model, cells.graphs, device=args.device))
    assert cells.graphs.hashes is not None  # target cells record their classes
    return {
        "labels": cells.labels,
        "classes": cells.graphs.hashes,
        "columns": cells.proxies,
        "networks": networks,
    }


def _srcc(data: Mapping[str, Any], weights: Mapping[str, float]) -> float:
    """The blend's SRCC per class, the mean over the seeds' networks (NaN if a proxy failed)."""
    columns = data["columns"]
    if any(not np.isfinite(columns[k]).all() for k in weights if k != "network"):
        return float("nan")
    networks = data["networks"] if "network" in weights else data["networks"][:1]
    return statistics.fmean(
        spearman(*class_means(data["classes"], data["labels"], blend))
        for blend in (rank_blend({**columns, "network": n}, weights) for n in networks)
    )


def ensemble_weights(
    member_scores: Mapping[str, Mapping[str, float]], groups: Sequence[str], power: float
) -> dict[str, float]:
    """``max(mean score over groups, 0) ** power`` per member, normalised (empty: none positive).

    Examples:
        >>> scores = {"a": {"flops": 0.6, "meco": 0.2}, "b": {"flops": 0.2, "meco": -0.6}}
        >>> ensemble_weights(scores, ["a", "b"], 1.0)
        {'flops': 1.0}
        >>> ensemble_weights(scores, ["a"], 2.0)
        {'flops': 0.9, 'meco': 0.1}
    """
    members = list(next(iter(member_scores.values())))
    raw = {
        m: max(statistics.fmean(np.nan_to_num(member_scores[g][m], nan=0.0) for g in groups), 0.0)
        ** power
        for m in members
    }
    total = sum(raw.values())
    return {m: round(w / total, 6) for m, w in raw.items() if w > 0} if total > 0 else {}


def _chosen_power(
    member_scores: Mapping[str, Mapping[str, float]],
    blend_scores: Any,
    groups: Sequence[str],
    powers: Sequence[float],
) -> tuple[float, dict[str, float]]:
    """The power whose ensembles did best on each of ``groups`` left out in turn (its mean)."""
    inner = {
        p: statistics.fmean(
            blend_scores(g, ensemble_weights(member_scores, [h for h in groups if h != g], p))
            for g in groups
        )
        for p in powers
    }
    best = max(powers, key=lambda p: inner[p])
    return best, {f"{p:g}": v for p, v in inner.items()}


def report(families: Sequence[str], args: argparse.Namespace) -> dict[str, Any]:
    """Per target (and the unseen family): members' scores, the chosen ensemble, its SRCC."""
    data = {f: [_columns(f, d, args) for d in DATASETS[f]] for f in families}

    def blend_score(family: str, weights: Mapping[str, float]) -> float:
        if not weights:
            return float("nan")
        return statistics.fmean(_srcc(d, weights) for d in data[family])

    members = [*GRAPH_MEMBERS, *NETWORK_PROXIES]
    scores = {f: {m: blend_score(f, {m: 1.0}) for m in members} for f in families}
    choices: dict[str, Any] = {}
    for target in [*families, UNSEEN]:
        sources = [f for f in families if f != target]
        entry: dict[str, Any] = {"chosen_on": sources}
        for kind, kept in (("weights", members), ("graphs_only", list(GRAPH_MEMBERS))):
            restricted = {f: {m: scores[f][m] for m in kept} for f in families}
            power, inner = _chosen_power(restricted, blend_score, sources, args.powers)
            weights = ensemble_weights(restricted, sources, power)
            entry[kind] = {"power": power, "inner": inner, "weights": weights}
            if target in data:
                entry[kind]["srcc"] = blend_score(target, weights)
        if target in scores:
            mine = scores[target]
            best = max(mine, key=lambda m: np.nan_to_num(mine[m], nan=-2.0))
            entry["members"] = mine
            entry["best_single"] = [best, mine[best]]
        choices[target] = entry
        print(_line(target, entry), flush=True)
    return {"members": scores, "choices": choices}


def _line(target: str, entry: Mapping[str, Any]) -> str:
    """One printed line: the ensemble's SRCC on the target beside its baselines."""
    blend = entry["weights"]
    top = sorted(blend["weights"].items(), key=lambda kv: -kv[1])[:4]
    line = f"{target}: p={blend['power']:g} top {top}"
    if "srcc" in blend:
        m = entry["members"]
        line += (
            f" -> {blend['srcc']:.3f} (graphs only {entry['graphs_only']['srcc']:.3f}; FLOPs "
            f"{m['flops']:.3f}, params {m['params']:.3f}, network {m['network']:.3f}, best "
            f"single {entry['best_single'][0]} {entry['best_single'][1]:.3f})"
        )
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=lambda s: s.split(","), default=list(FAMILIES))
    parser.add_argument(
        "--powers", type=lambda s: [float(p) for p in s.split(",")], default=[1.0, 2.0, 4.0]
    )
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = report(args.families, args)
    write_json(
        args.out,
        {
            "families": args.families,
            "powers": args.powers,
            **result,
            "code_digest": code_digest(*RESULTS_CODE),
        },
    )


if __name__ == "__main__":
    main()
