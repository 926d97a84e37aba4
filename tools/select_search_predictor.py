"""The search's predictor chosen on held-out families: source training and warm-start blend.

The protocol's source training and zero-shot FLOPs blend were chosen for transfer SRCC
(``tools/select_zero_shot.py``); a search needs the top of the ranking right instead. For every
family ``V`` with a search oracle (NB-101, NB-201, NB-301, OFA-MobileNetV3) in turn, each
candidate's source models are trained on every other labelled family (``train_source_model(V,
...)``: the protocol's source models for ``V`` and their disk cache), and ``predictor-ea``
searches ``V``'s pool, ``--queries`` paid queries, ``--seeds`` seeds, no cost budget. As in a
search (``SearchConfig.source_seed``), seed ``s`` starts from source model ``s % SOURCE_MODELS``,
whose training seed is shifted by that number, so a score covers source training's spread. A
candidate's score on a fold is the mean over queries of log10 of the median (over seeds) rank of
the best architecture found so far: the whole best-so-far curve, lower is better.

Candidates (``CANDIDATES``): the protocol's source training for ``V`` (``SourceTraining
.for_target``: its head reads FLOPs, params and depth) or the same without those head features,
each with the warm start ranked by the source model blended with FLOPs at the protocol's weight
or by the source model alone; and the protocol's with the blend whose generations make one
query of five at random among the mutants the predictor ranked lower
(``StrategySettings.random_per_generation``: epsilon-greedy), and the same only after four
generations in a row without a better label (``random_after_stall``). ``--candidates`` runs
and compares some of them, on ``--seeds`` seeds from ``--first-seed``. A searched family ``F``
is decided on the folds that do not search ``F`` (``V != F``), with the selection's
conservative rule (``--rule strict``, ``cg_predict.evaluate.conservative_choice``: the
incumbent, ``INCUMBENT``, stays unless a candidate beats it on every one of those folds) or
``--rule dominance`` (``dominance_choice``: no worse on every one of those folds and better
on one).

Folds are written to ``--work`` after each candidate (``<V>.json``, with the code digest), so
folds can run in several processes (``--families``) and a rerun resumes; a fold made by other
code is recomputed. When every fold is there, the report goes to ``--out``.

Declared before the run of 2026-12-03 (stop 25), which replaces the single-source-model run
of stop 23 that kept NB-201's search on the incumbent by one fold (OFA): 10 seeds (each source
model serves two), the same four candidates, 100 queries and the same conservative rule; the
folds in the order OFA, NB-301, NB-101, NB-201; nothing is changed after seeing a fold.

Declared before the run of 2026-12-04 (stop 28), after the full-size NB-201 search stalled
(14 of 20 seeds of ``predictor-ea`` stop at the pool's 45th best network by query 20 and query
only mutants the fine-tuned predictor prefers for the remaining 180): the incumbent against
``protocol blend + 1 random of 5`` alone (``--candidates``), 10 seeds, 100 queries, the same
conservative rule, folds in the order OFA, NB-301, NB-101, then NB-201, written to
``results/selection/selection-search-random.json``; nothing is changed after seeing a fold.

Declared on 2026-12-04 (stop 29), before any run of it, after the stop-28 selection kept the
incumbent: epsilon-greedy beat it on NB-201's own pool (which never decides NB-201) and lost on
NB-101 and NB-301, while both saturate on OFA, which the strict rule lets block any change. The
incumbent against ``protocol blend + 1 random of 5 after 4 stalled generations`` alone (four
generations: a population's worth of queries, population / per_generation), on new seeds
10-19 (``--first-seed 10 --seeds 10``), 100 queries, ``--rule dominance`` (proposed at stop 28
before its NB-201 fold was seen), folds in the order OFA, NB-301, NB-101, NB-201, written to
``results/selection/selection-search-stall.json``; nothing is changed after seeing a fold.

Declared on 2026-12-05 (stop 32), before any fold of it ran, after the full-size NB-201
CIFAR-10 search put ``proxy-order`` (synflow over the pool: the best in 11 queries, the top 0.1%
in 3) far ahead of ``predictor-ea`` (99.5 and 72), which is NB-201's own pool and never
decides NB-201: the incumbent, now the package default (``INCUMBENT``: ``protocol blend + 1
random of 5 after 4 stalled generations``), against the same search whose ten warm-start
queries are the best by the searched family's best proxy (``warm_design="proxy"``,
``cg_evo.experiments.BEST_PROXY``: MeCo, chosen on the other families' proxy agreement; over
the pool, or the full search's sample of it, ``FULL_PROXY_SAMPLE``: 3,000 NB-101 cells) alone
(``--candidates``), on new seeds 20-29 (``--first-seed 20 --seeds 10``), 100 queries,
``--rule dominance``, folds in the order NB-301, OFA, NB-101, NB-201 (the order in which their
MeCo tables fill), written to ``results/selection/selection-search-proxy-warm.json``; nothing
is changed after seeing a fold.

Declared on 2026-12-06 (stop 38), before any fold of it ran, after stop 37's full search (NB-201
CIFAR-10 best in 99.5 queries, NB-301 in 101) and an exploration that looked at NB-201's labels
(ordering the whole space by FLOPs, params, MeCo, synflow or their rank blend; it chose nothing,
but it is why this candidate was proposed, so a NB-201 figure under it is not clean of that
look): the incumbent, the best-proxy warm start (OFA's choice since stop 32) and the same search
whose ten warm-start queries are the best by the searched family's zero-shot ensemble
(``warm_design="ensemble"``: the ensemble chosen for that family on the other families,
restricted to the source model, FLOPs, params, synflow and MeCo, the scores the search reads on
every cell of its proxy sample; ``cg_evo.surrogate.warm_ensemble``), all three on the current
code, on new seeds 30-39 (``--first-seed 30 --seeds 10``), 100 queries, ``--rule dominance``
(the best mean of the candidates no worse than the incumbent on every other fold and better on
one), folds in the order NB-301, OFA, NB-101, NB-201, written to
``results/selection/selection-search-ensemble-warm.json``; nothing is changed after seeing a
fold.

Declared on 2026-12-06 (stop 39), before any fold of it ran, after stop 39's full search (seeds
0-19 of every space, whose labels this looked at): no warm start and no strategy leads on every
family (predictor-topk far ahead on NB-101 and NB-301, predictor-ea on NB-201; the largest
networks first reach OFA's 300M best in 6 queries, synflow first NB-201's in 11): the incumbent
against the same search whose ten warm-start queries take the first of each design of
``cg_evo.strategies.PORTFOLIO`` in turn (``warm_design="portfolio"``: the source model's
zero-shot ranking, the largest by params, the best by the family's ``BEST_PROXY`` and the best
by its zero-shot ensemble, the last two on the ``FULL_PROXY_SAMPLE``), a hedge that no fold can
have tuned; on new seeds 40-49 (``--first-seed 40 --seeds 10``), 100 queries, ``--rule
dominance``, folds in the order NB-301, OFA, NB-101, NB-201, written to
``results/selection/selection-search-portfolio-warm.json``; nothing is changed after seeing a
fold. The folds run on code whose cg-ir and cg-predict are HEAD's (so the source models of the
stop-38 selection are reused from their cache) and whose cg-evo adds the portfolio.

Declared on 2026-12-06 (stop 41), before any fold of it ran, after an instrumented NB-201
CIFAR-10 search (stop 40: NB-201's own labels, which never decide NB-201, but they are why this
candidate was proposed, so a NB-201 figure under it is not clean of that look) found the best
network among the screened mutants at queries 15 to 25 while the fine-tuned predictor ranked
five others above it: the incumbent against the same search whose predictor is an ensemble of
three fine-tuned copies of the source model, each with its own seed, scoring by their mean
(``FineTuneConfig.members``; BANANAS's predictor is an ensemble too) alone (``--candidates``),
both on the current code, on new seeds 50-59 (``--first-seed 50 --seeds 10``), 100 queries,
``--rule dominance``, folds in the order NB-301, OFA, NB-101, NB-201, written to
``results/selection/selection-search-members.json``; nothing is changed after seeing a fold.
The members act after the first refit, the warm start before it: a family that chooses them
keeps its chosen warm start (OFA's portfolio).

Declared on 2026-12-07 (stop 48), before any fold of it ran, after stop 47's runs of the local
searches on every goal space (seeds 0-19, whose labels this looked at: ``predictor-ls`` and
``cost-local-search`` stopped at NB-301's third-best network on every seed once its nearest
pool networks were all queried, and a scratch variant that then queried the best-predicted
unqueried network reached NB-301's best, so a NB-301 or OFA figure under it is not clean of
that look): for each local search ``S`` (``LOCAL_SEARCHES``: ``local-search``,
``cost-local-search``, ``predictor-ls``) its incumbent ``"S widen"`` (the package's behaviour
since stop 47) against ``"S restart"`` (``StrategySettings.at_local_optimum``: a new climb at
the first unqueried network of the strategy's order at every local optimum), one run per
``S`` with ``--candidates "S widen,S restart" --incumbent "S widen"``, on new seeds 60-69
(``--first-seed 60 --seeds 10``), 100 queries, ``--rule dominance``, folds in the order NB-301,
OFA, NB-101, NB-201, written to ``results/selection/selection-search-local-optimum-S.json``;
nothing is changed after seeing a fold.

Declared on 2026-12-07 (stop 48), before any fold of it ran, after the local-optimum
selection above and stop 47's NB-201 runs (20 test seeds, whose labels this looked at:
``cost-local-search``, which starts from the largest networks, reached the NB-201 CIFAR-10
best in 15 queries, ``predictor-ls`` in 31.5), so a NB-201 figure under it is not clean of that
look: ``predictor-ls`` as the search experiment now runs it (``"predictor-ls restart"``, the
incumbent) against the same search whose ten warm-start queries are ``predictor-ea``'s
portfolio (``warm_design="portfolio"``: the zero-shot ranking, the largest by params, the best
by the family's ``BEST_PROXY`` and by its zero-shot ensemble, in turn), on new seeds 70-79,
100 queries, ``--rule dominance``, folds in the order NB-301, OFA, NB-101, NB-201, written to
``results/selection/selection-search-local-warm.json``; nothing is changed after seeing a fold.

Declared on 2026-12-08 (stop 51), before any fold of it ran, after stop 51's look at the
full-size NB-201 CIFAR-10 ``predictor-ls`` runs (seeds 0-19, whose labels this looked at: after
its warm start, seed 0's climb queried 17 other single-edge changes of its centre before the one
that led to the best network, which ``cost-local-search`` queried second), so a NB-201 figure
under it is not clean of that look, and after the stop-41 selection of three fine-tuned members
for ``predictor-ea`` (no worse on any fold, better on NB-101 and NB-301): ``predictor-ls`` as
the search experiment runs it (``"predictor-ls restart"``, the incumbent) against the same
search whose predictor is the mean of three fine-tuned copies of the source model
(``FineTuneConfig.members``), on new seeds 80-89, 100 queries, ``--rule dominance``, folds in
the order NB-301, OFA, NB-101, NB-201, written to
``results/selection/selection-search-local-members.json``; nothing is changed after seeing a
fold.
Added after the run: on OFA the search experiment runs ``predictor-ls`` with the portfolio
warm start (``SEARCH_WARM_DESIGNS``), so there the incumbent is the search without that warm
start; the members act only after the first refit.

Usage: python tools/select_search_predictor.py [--families nb201,...] [--queries 100]
       [--seeds 10] [--first-seed 0] [--rule strict|dominance]
       [--candidates "protocol blend,..."] [--incumbent NAME] --work DIR
       --out results/selection/selection-search.json
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from fold_work import finished_folds, resume_folds

from cg_evo import SOURCE_MODELS, SearchConfig, SearchSpace, load_oracle, summarize
from cg_evo.experiments import BEST_PROXY, FULL_PROXY_SAMPLE
from cg_evo.names import LOCAL_OPTIMUM_MOVES
from cg_evo.oracle import ORACLES
from cg_evo.search import SEARCH_CODE, run_seed
from cg_evo.space import TWINS
from cg_evo.strategies import StrategySettings
from cg_evo.surrogate import FineTuneConfig, search_flops_weight, search_training
from cg_ir import write_json
from cg_ir.provenance import code_digest
from cg_predict.evaluate import conservative_choice, train_source_model

SEARCHED = tuple(ORACLES)
# the strategies whose move at a local optimum (StrategySettings.at_local_optimum) is compared
LOCAL_SEARCHES = ("local-search", "cost-local-search", "predictor-ls")


class Candidate(NamedTuple):
    """One search compared: its strategy, its predictor and its ``StrategySettings``.

    ``training`` and ``warm_start`` (the zero-shot ranking) are ``cg_evo.surrogate``'s
    ``SEARCH_TRAININGS`` and ``WARM_STARTS`` (unused by a strategy without predictor);
    ``members`` is ``FineTuneConfig.members`` (the fine-tuned copies whose mean prediction
    screens the mutants); ``strategy`` is the searched strategy (``predictor-ea`` unless said);
    the other fields are the ``StrategySettings`` of that name (``warm_design="proxy"``: by the
    family's ``BEST_PROXY``, ``"ensemble"``: by its zero-shot ensemble, each on its
    ``FULL_PROXY_SAMPLE``; ``"portfolio"``: those two, the zero-shot ranking and the largest by
    params in turn).
    """

    training: str
    warm_start: str
    random_per_generation: int = 0
    random_after_stall: int = 0
    warm_design: str = "zero-shot"
    members: int = 1
    strategy: str = "predictor-ea"
    at_local_optimum: str = "widen"


CANDIDATES = {
    "protocol blend": Candidate("protocol", "blend"),
    "protocol network": Candidate("protocol", "network"),
    "no-cost-head blend": Candidate("no-cost-head", "blend"),
    "no-cost-head network": Candidate("no-cost-head", "network"),
    "protocol blend + 1 random of 5": Candidate("protocol", "blend", 1),
    "protocol blend + 1 random of 5 after 4 stalled generations": Candidate(
        "protocol", "blend", 1, 4
    ),
    "protocol blend + 1 random of 5 after 4 stalled generations + best-proxy warm start": (
        Candidate("protocol", "blend", 1, 4, "proxy")
    ),
    "protocol blend + 1 random of 5 after 4 stalled generations + ensemble warm start": (
        Candidate("protocol", "blend", 1, 4, "ensemble")
    ),
    "protocol blend + 1 random of 5 after 4 stalled generations + portfolio warm start": (
        Candidate("protocol", "blend", 1, 4, "portfolio")
    ),
    "protocol blend + 1 random of 5 after 4 stalled generations + 3 fine-tuned members": (
        Candidate("protocol", "blend", 1, 4, members=3)
    ),
    **{
        f"{strategy} {move}": Candidate(
            "protocol", "blend", strategy=strategy, at_local_optimum=move
        )
        for strategy in LOCAL_SEARCHES
        for move in LOCAL_OPTIMUM_MOVES
    },
    "predictor-ls restart + portfolio warm start": Candidate(
        "protocol",
        "blend",
        warm_design="portfolio",
        strategy="predictor-ls",
        at_local_optimum="restart",
    ),
    "predictor-ls restart + 3 fine-tuned members": Candidate(
        "protocol", "blend", members=3, strategy="predictor-ls", at_local_optimum="restart"
    ),
}
# the package's default search (since stop 29), the incumbent unless --incumbent names another;
# the selections before stop 32 compared against the greedy "protocol blend" (each report's
# config names its incumbent)
INCUMBENT = "protocol blend + 1 random of 5 after 4 stalled generations"
RULES = ("strict", "dominance")


def _score(summary: dict[str, Any]) -> float:
    """Mean over queries of log10 of the median rank of the best so far (lower is better)."""
    return statistics.fmean(math.log10(r) for r in summary["rank_so_far_median"])


def _source_models(family: str, training: str, args: argparse.Namespace) -> list[Any]:
    """The candidate's source models for ``family``, one per ``SOURCE_MODELS`` seed shift."""
    base = search_training(family, training)
    return [
        train_source_model(
            family, replace(base, seed=base.seed + shift), data_dir=args.data_dir, progress=False
        )[0]
        for shift in range(min(SOURCE_MODELS, args.seeds))
    ]


def _fold(family: str, done: dict[str, Any] | None, args: argparse.Namespace) -> dict[str, Any]:
    """Search ``family``'s pool with every candidate not in ``done`` (same code).

    The fold file is rewritten after each candidate, so a killed run loses one at most.
    """
    seeds = list(_seeds(args))
    # fold files written before --first-seed existed ran seeds 0-9 (the declared runs)
    if done is not None and done.get("seeds", list(range(10))) != seeds:
        raise SystemExit(
            f"{args.work}/{family}.json was made with other seeds than {seeds}: give a new --work"
        )
    oracle = load_oracle(family, None, args.data_dir)
    space = SearchSpace.from_oracle(oracle, progress=False)
    entries: dict[str, Any] = dict(done["candidates"]) if done else {}
    models: dict[str | None, list[Any]] = {}  # training (None: no predictor) -> source models
    fold = {
        "validation": family,
        "dataset": oracle.dataset,
        "pool": space.num_classes,
        "seeds": seeds,
        "candidates": entries,
        "code_digest": code_digest(*SEARCH_CODE),
    }
    for name in args.candidates:
        candidate = CANDIDATES[name]
        if name in entries:
            continue
        start = time.perf_counter()
        weight = search_flops_weight(family, candidate.warm_start)
        settings = StrategySettings(
            random_per_generation=candidate.random_per_generation,
            random_after_stall=candidate.random_after_stall,
            warm_design=candidate.warm_design,
            at_local_optimum=candidate.at_local_optimum,
            proxy=BEST_PROXY[family],
            proxy_candidates=FULL_PROXY_SAMPLE.get(family),
        )
        config = SearchConfig(
            family,
            strategy=candidate.strategy,
            queries=args.queries,
            seeds=args.seeds,
            settings=settings,
            fine_tune=FineTuneConfig(members=candidate.members),
        )
        training = candidate.training if config.uses_predictor else None
        if training not in models:
            models[training] = (
                [None] if training is None else _source_models(family, training, args)
            )
        sources = models[training]
        runs = [
            run_seed(config, seed, space, sources[seed % len(sources)], flops_weight=weight)
            for seed in seeds
        ]
        summary = summarize(runs, args.queries)
        entries[name] = {
            "score": _score(summary),
            "queries_to_top01_median": summary["queries_to_top01_median"],
            "queries_to_best_median": summary["queries_to_best_median"],
            "final_rank_median": summary["final_rank_median"],
            "flops_weight": weight,
            "random_per_generation": candidate.random_per_generation,
            "random_after_stall": candidate.random_after_stall,
            "warm_design": candidate.warm_design,
            "members": candidate.members,
            "strategy": candidate.strategy,
            "at_local_optimum": candidate.at_local_optimum,
            "seconds": time.perf_counter() - start,
        }
        print(f"{family}: {name} {entries[name]}", flush=True)
        write_json(Path(args.work) / f"{family}.json", fold)
    return fold


def _seeds(args: argparse.Namespace) -> range:
    """The search seeds of every candidate: ``--seeds`` of them from ``--first-seed``."""
    return range(args.first_seed, args.first_seed + args.seeds)


def dominance_choice(ranking: list[tuple[str, float, tuple[float, ...]]], incumbent: str) -> str:
    """The best mean of the candidates no worse than the incumbent on every fold and better on
    one (higher scores win); the incumbent when there is none.

    Unlike the strict rule (``conservative_choice``), a fold where both reach the same curve
    (OFA's pool, whose top 0.1% both find in 9 queries) does not block a change.

    Examples:
        >>> ranking = [("b", 0.8, (0.9, 0.7)), ("a", 0.7, (0.7, 0.7)), ("c", 0.6, (0.5, 0.7))]
        >>> dominance_choice(ranking, "a"), dominance_choice(ranking[1:], "a")
        ('b', 'a')
    """
    own = next(per_fold for c, _, per_fold in ranking if c == incumbent)
    for candidate, _, per_fold in ranking:  # best mean first
        pairs = list(zip(per_fold, own, strict=True))
        if all(s >= o for s, o in pairs) and any(s > o for s, o in pairs):
            return candidate
    return incumbent


def _choices(
    folds: dict[str, dict[str, Any]], candidates: list[str], rule: str, incumbent: str
) -> dict[str, Any]:
    """Per searched family: the ranking on the folds not searching it, and the choice."""
    choose = dominance_choice if rule == "dominance" else conservative_choice
    out: dict[str, Any] = {}
    for target in SEARCHED:
        used = [v for v in folds if v != target]
        ranking = []
        for name in candidates:
            per_fold = tuple(-folds[v]["candidates"][name]["score"] for v in used)  # higher wins
            ranking.append((name, statistics.fmean(per_fold), per_fold))
        ranking.sort(key=lambda entry: -entry[1])
        chosen: str = choose(ranking, incumbent)
        out[target] = {
            "folds": used,
            "chosen": {"candidate": chosen, **CANDIDATES[chosen]._asdict()},
            "ranking": [
                {"candidate": n, "mean_log10_rank": -s, "folds": [-x for x in f]}
                for n, s, f in ranking
            ],
        }
    return out


def compared_candidates(folds: dict[str, dict[str, Any]], requested: list[str]) -> list[str] | None:
    """What the report compares: ``requested`` and every candidate a fold holds; None (saying
    which folds lack which) until every fold holds them all.

    A run with fewer ``--candidates`` (the incumbent alone, while a candidate's proxy tables are
    being filled) completes its folds but never writes a report without the other candidates.

    Examples:
        >>> both = {"candidates": {"a": {}, "b": {}}}
        >>> compared_candidates({"x": both, "y": both}, ["a"])
        ['a', 'b']
        >>> compared_candidates({"x": both, "y": {"candidates": {"a": {}}}}, ["a"])
        fold y lacks ['b']: the report waits
    """
    held = {c for fold in folds.values() for c in fold["candidates"]}
    compared = [*requested, *sorted(held - set(requested))]
    lacking = {v: [c for c in compared if c not in f["candidates"]] for v, f in folds.items()}
    for v, missing in lacking.items():
        if missing:
            print(f"fold {v} lacks {missing}: the report waits")
    return None if any(lacking.values()) else compared


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the folds of ``--families``; write the report once every fold is in."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(SEARCHED))
    parser.add_argument("--queries", type=int, default=100, help="paid queries per seed")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds from this one on")
    parser.add_argument(
        "--rule",
        choices=RULES,
        default="strict",
        help="strict: a candidate must beat the incumbent on every fold; dominance: no worse "
        "on every fold and better on one",
    )
    parser.add_argument(
        "--candidates",
        default=",".join(CANDIDATES),
        help="the candidates compared, comma-separated (the incumbent among them)",
    )
    parser.add_argument(
        "--incumbent",
        default=INCUMBENT,
        choices=list(CANDIDATES),
        metavar="NAME",
        help=f"the candidate that stays unless the rule says otherwise (default {INCUMBENT!r})",
    )
    parser.add_argument("--work", required=True, help="folder for the folds")
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    args.candidates = args.candidates.split(",")
    if args.incumbent not in args.candidates or not set(args.candidates) <= set(CANDIDATES):
        parser.error(f"--candidates: {args.incumbent!r} and others of {list(CANDIDATES)}")
    torch.set_num_threads(1)
    work = Path(args.work)
    digest = code_digest(*SEARCH_CODE)
    resume_folds(
        work,
        args.families.split(","),
        digest,
        lambda done: bool(set(args.candidates) - set(done["candidates"])),
        lambda family, done: _fold(family, done, args),
    )
    folds = finished_folds(work, SEARCHED)
    compared = None if folds is None else compared_candidates(folds, args.candidates)
    if folds is None or compared is None:
        return 0
    choices = _choices(folds, compared, args.rule, args.incumbent)
    report = {
        "config": {
            "candidates": {k: list(CANDIDATES[k]) for k in compared},
            "incumbent": args.incumbent,
            "queries": args.queries,
            "seeds": args.seeds,
            "strategy": sorted({CANDIDATES[k].strategy for k in compared}),
            "rule": args.rule,
        },
        "code_digest": digest,
        "twins": TWINS,  # how its ranks count isomorphic twins
        "folds": folds,
        "choices": choices,
        "seeds": list(_seeds(args)),
        "numpy": np.__version__,
    }
    write_json(args.out, report)
    for target, choice in choices.items():
        print(f"{target}: {choice['chosen']['candidate']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
