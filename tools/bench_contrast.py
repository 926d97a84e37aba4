"""Cost figures of cg-contrast: spectra, one contrastive epoch, embedding all of NB-201.

Targets (issue 4): spectral features of 50k CGs <= 5 min on both cores; one contrastive
epoch over 50k CGs <= 3 min; embedding the 15,625 NB-201 CGs <= 10 s.

Usage: python tools/bench_contrast.py [--n 50000] [--json out.json]
(``--n`` smaller than 50000 measures a subset and extrapolates linearly, saying so.)
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

import cg_ir
from cg_contrast.pools import DEFAULT_FAMILIES, Pool, family_sizes
from cg_contrast.pretrain import PretrainConfig, pretrain
from cg_contrast.spectral import spectral_features
from cg_ir import write_json
from cg_predict.encoder import Encoder, EncoderConfig
from cg_predict.graphs import GraphSet, family_graphs
from cg_predict.training import embed

# the targets, in seconds (the book's speed chapter reads them from here)
SPECTRA_50K_TARGET_S = 300.0  # spectral features of 50,000 graphs, both cores
EPOCH_50K_TARGET_S = 180.0  # one contrastive epoch over 50,000 graphs
EMBED_NB201_TARGET_S = 10.0  # embedding all 15,625 NB-201 graphs


def _graphs(n: int, seed: int) -> tuple[GraphSet, list[str], float]:
    t = time.perf_counter()
    sets, fams = [], []
    for i, (name, count) in enumerate(family_sizes(list(DEFAULT_FAMILIES), n).items()):
        fam = cg_ir.families.get(name)
        specs = fam.sample_distinct(np.random.default_rng([seed, i]), count)
        sets.append(GraphSet.from_graphs((fam.to_cg(s) for s in specs), hashes=True))
        fams += [name] * count
    return GraphSet.concat(sets), fams, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    scale = 50000 / args.n
    torch.set_num_threads(1)
    out: dict[str, float | int | str] = {"n": args.n, "cpus": os.cpu_count() or 0}

    graphs, fams, seconds = _graphs(args.n, 0)
    out["convert_s"] = seconds
    t = time.perf_counter()
    spectra = spectral_features(graphs, workers=2, progress=False)
    out["spectra_s"] = time.perf_counter() - t
    out["spectra_50k_s_est"] = out["spectra_s"] * scale

    pool = Pool(graphs, np.asarray(fams), spectra, np.asarray(fams))
    cfg = PretrainConfig(method="retrieval", epochs=1, batch_size=256)
    result = pretrain(pool, cfg, progress=False)
    out["epoch_s"] = result.history[0]["seconds"]
    out["epoch_50k_s_est"] = out["epoch_s"] * scale

    nb201 = cg_ir.families.get("nb201")
    keys = [nb201.key(s) for s in nb201.enumerate()]
    gs = family_graphs("nb201", keys, progress=False)
    enc = Encoder(EncoderConfig(**cfg.encoder))
    embed(enc, gs.subset(range(512)))  # warm-up
    t = time.perf_counter()
    embed(enc, gs, batch_size=1024)
    out["embed_nb201_s"] = time.perf_counter() - t
    out["embed_nb201_n"] = len(gs)
    print(json.dumps(out, indent=1))
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    main()
