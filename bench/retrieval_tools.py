"""Helpers for eval_retrieval.py: a plain BM25 baseline over whole passages, and an on-disk cache of
embeddings so that repeated runs do not embed the eval passages again (bench/out/, git-ignored)."""

from __future__ import annotations

import hashlib
import math
import pickle
import re
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def terms(text: str) -> list[str]:
    """Character bigrams of Chinese runs (a lone character stands for itself), lower-cased words otherwise."""
    out: list[str] = []
    for run in _CJK.findall(text):
        out += [run[i : i + 2] for i in range(len(run) - 1)] or [run]
    out += [w.lower() for w in _WORD.findall(_CJK.sub(" ", text))]
    return out


class BM25:
    """Okapi BM25 (k1 1.2, b 0.75) over `terms`."""

    def __init__(self, docs: Sequence[str], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.tfs = [Counter(terms(d)) for d in docs]
        self.lengths = [sum(tf.values()) for tf in self.tfs]
        self.avg = sum(self.lengths) / max(1, len(self.lengths))
        df = Counter(t for tf in self.tfs for t in tf)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def rank(self, query: str, k: int = 10) -> list[int]:
        q = set(terms(query))
        scores = []
        for i, (tf, length) in enumerate(zip(self.tfs, self.lengths)):
            norm = self.k1 * (1 - self.b + self.b * length / self.avg)
            s = sum(self.idf[t] * tf[t] * (self.k1 + 1) / (tf[t] + norm) for t in q if t in tf)
            scores.append((s, i))
        return [i for s, i in sorted(scores, key=lambda x: -x[0])[:k] if s > 0]


class CachedEmbedder:
    """Wraps a real Embedder; vectors are keyed by model, kind and text, and kept in one pickle per model."""

    def __init__(self, inner, folder: Path):
        self.inner = inner
        self.model_id, self.dim = inner.model_id, inner.dim
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"embcache-{inner.model_id}.pkl"
        self.cache: dict[str, np.ndarray] = pickle.loads(self.path.read_bytes()) if self.path.exists() else {}
        self.misses = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._get(texts, "p", self.inner.embed)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._get(texts, "q", self.inner.embed_query)

    def _get(self, texts: Sequence[str], kind: str, compute) -> np.ndarray:
        keys = [hashlib.sha1(f"{kind}\0{t}".encode()).hexdigest() for t in texts]
        missing = [i for i, key in enumerate(keys) if key not in self.cache]
        if missing:
            self.misses += len(missing)
            for i, vector in zip(missing, compute([texts[i] for i in missing])):
                self.cache[keys[i]] = np.asarray(vector, dtype=np.float32)
            self.save()  # a stopped run keeps what it embedded
        return np.stack([self.cache[key] for key in keys]) if keys else np.zeros((0, self.dim), np.float32)

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(self.cache))
        tmp.replace(self.path)
