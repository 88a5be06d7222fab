"""Fusing the vector and the full-text ranking of one search into one ranking: a pure function.

Reciprocal-rank fusion looks at ranks only, so a passage that one retriever is sure of (far ahead of its
second) can fall behind passages both retrievers only half like. Score fusion keeps that margin: each
retriever's scores are rescaled over its candidates (min-max: best 1, worst 0; z-score: standard units),
a candidate a retriever did not return gets that retriever's floor, and the two are mixed by weight.
Which wins is measured on the dev sets (bench/eval_retrieval.py, bench/RESULTS.md).
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

Method = Literal["rrf", "minmax", "zscore"]
METHODS: tuple[str, ...] = ("rrf", "minmax", "zscore")
Scored = Sequence[tuple[str, float]]  # (candidate id, the retriever's score), best first


def fuse(
    vector: Scored,
    fulltext: Scored,
    method: Method = "minmax",
    vector_weight: float = 0.5,
    rrf_k: int = 60,
) -> list[tuple[str, float]]:
    """One ranking, best first, as (id, fused score). `vector_weight` (0–1) is the share of the vector
    ranking; the full text gets the rest. Fused scores are 0–1 for minmax (1: best on both), and not
    bounded for rrf and zscore. Ties keep the order of the ranking with the larger weight, then the other's."""
    if not 0.0 <= vector_weight <= 1.0:
        raise ValueError(f"vector_weight must be 0–1, got {vector_weight}")
    return fuse_weighted([(vector, vector_weight), (fulltext, 1.0 - vector_weight)], method, rrf_k)


def fuse_weighted(rankings: Sequence[tuple[Scored, float]], method: Method = "minmax", rrf_k: int = 60
                  ) -> list[tuple[str, float]]:
    """`fuse` over any number of rankings, each `(ranking, its weight)` (weights >= 0; for minmax they should
    add up to 1 for 0–1 fused scores). Ties keep the order of the ranking with the largest weight, then the
    next (the first given among equal weights)."""
    if method not in METHODS:
        raise ValueError(f"unknown fusion method {method!r}; use one of {', '.join(METHODS)}")
    if any(weight < 0 for _, weight in rankings):
        raise ValueError("fusion weights must be >= 0")
    leading = sorted(rankings, key=lambda part: -part[1])  # stable: equal weights keep their given order
    order = {cid: i for i, cid in enumerate(dict.fromkeys(c for ranking, _ in leading for c, _ in ranking))}
    fused = dict.fromkeys(order, 0.0)
    for ranking, weight in rankings:
        if not ranking:
            continue
        if method == "rrf":
            for rank, (cid, _) in enumerate(ranking, 1):
                fused[cid] += weight / (rrf_k + rank)
            continue
        scaled, floor = _rescale([s for _, s in ranking], method)
        seen = {cid: value for (cid, _), value in zip(ranking, scaled)}
        for cid in fused:
            fused[cid] += weight * seen.get(cid, floor)
    return sorted(fused.items(), key=lambda item: (-item[1], order[item[0]]))


def _rescale(values: list[float], method: Method) -> tuple[list[float], float]:
    """The values rescaled, and the value a candidate missing from this ranking gets."""
    low, high = min(values), max(values)
    if method == "minmax":
        if high - low < 1e-12:
            return [1.0] * len(values), 0.0
        return [(v - low) / (high - low) for v in values], 0.0
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if spread < 1e-12:
        return [0.0] * len(values), -1.0
    scaled = [(v - mean) / spread for v in values]
    return scaled, min(scaled)
