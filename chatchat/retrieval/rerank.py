"""Rerankers: score (question, passage) pairs with a cross-encoder and order the hits by that score.

Optional and off until one is installed: a local cross-encoder run by fastembed's TextCrossEncoder from a
model folder the model manager downloaded (models.yaml `rerankers`), or a provider's `/rerank` API, in the
shape Jina, Cohere and Xinference share (`{model, query, documents, top_n}` → `{results: [{index,
relevance_score}]}`) or the one of Hugging Face TEI (`{query, texts}` → `[{index, score}]`). A reranker's
scores are comparable across knowledge bases, which rank fusion alone is not.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

import httpx

from chatchat.config import KeyStore, Settings
from chatchat.errors import ModelError, ProviderError

if TYPE_CHECKING:
    from chatchat.models.catalog import Catalog, RerankerEntry
    from chatchat.retrieval.chunks import Hit

POOL = 4  # candidates per wanted hit that the reranker orders


class Reranker(Protocol):
    model_id: str

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        """One relevance score per text, higher is more relevant."""
        ...


class CrossEncoderReranker:
    """A local ONNX cross-encoder folder (model file + tokenizer files), run by fastembed. Never downloads."""

    _register_lock = threading.Lock()

    def __init__(self, entry: RerankerEntry, model_path: Path, threads: int | None = None):
        from fastembed.common.model_description import ModelSource
        from fastembed.rerank.cross_encoder import TextCrossEncoder

        self.model_id = entry.id
        name = f"chatchat/{entry.id}"
        with self._register_lock:
            if name not in {m["model"] for m in TextCrossEncoder.list_supported_models()}:
                TextCrossEncoder.add_custom_model(name, sources=ModelSource(hf=name), model_file=entry.model_file)
        try:
            self._model = TextCrossEncoder(name, specific_model_path=str(model_path), threads=threads, lazy_load=False)
        except Exception as exc:  # onnxruntime and tokenizers raise many types
            raise ModelError(f"Reranker '{entry.id}' at {model_path} could not load: {exc}") from exc
        self._lock = threading.Lock()

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        with self._lock:
            return [float(s) for s in self._model.rerank(query, list(texts), batch_size=16)]


class RemoteReranker:
    """A provider's /rerank endpoint."""

    def __init__(self, model_id: str, base_url: str, api_key: str | None, model: str, api: str = "cohere",
                 timeout: float = 60):
        self.model_id = model_id
        self._url = base_url.rstrip("/") + "/rerank"
        self._model = model
        self._api = api
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, timeout=timeout)

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        if self._api == "tei":
            body: dict = {"query": query, "texts": list(texts)}
        else:
            body = {"model": self._model, "query": query, "documents": list(texts), "top_n": len(texts)}
        try:
            response = self._client.post(self._url, json=body)
            response.raise_for_status()
            data = response.json()
            results = data if self._api == "tei" else data["results"]
            found = {int(r["index"]): float(r["score"] if self._api == "tei" else r["relevance_score"]) for r in results}
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"Reranking at {self._url} failed: {exc}. Check the reranker's provider in "
                                "Settings, or remove the reranker to search without one.") from exc
        return [found.get(i, float("-inf")) for i in range(len(texts))]


def rerank(reranker: Reranker, query: str, hits: Sequence[Hit], top_k: int) -> list[Hit]:
    """The hits best first by the reranker's score; the rest of each hit is kept as it was."""
    if not hits:
        return []
    scores = reranker.scores(query, [hit.text for hit in hits])
    order = sorted(range(len(hits)), key=lambda i: -scores[i])
    return [hits[i] for i in order[:top_k]]


def active(settings: Settings, catalog: Catalog) -> RerankerEntry | None:
    """The reranker in use: one the user configured at a provider, else the first installed local one."""
    from chatchat.models.layout import installed_path

    remote = [entry for entry in catalog.rerankers.values() if entry.provider]
    local = [entry for entry in catalog.rerankers.values() if entry.is_local and installed_path(settings, entry)]
    return (remote + local)[0] if remote or local else None


def load(settings: Settings, catalog: Catalog, entry: RerankerEntry) -> Reranker:
    from chatchat.models.layout import model_dir

    if entry.provider:
        provider = catalog.provider(entry.provider)
        key = KeyStore(settings.home).get(provider.id, provider.key_env)
        return RemoteReranker(entry.id, provider.base_url, key, entry.model or entry.id, entry.api)
    return CrossEncoderReranker(entry, model_dir(settings, entry), threads=settings.llm_threads or None)
