"""The one object the UI, the API and the CLI call. It holds the settings, the catalog, the store and the
loaded models, and no presentation logic."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from chatchat.retrieval import gate

from chatchat.policy import CONVERSATION, Policy, current as current_policy, owned_conversation, visible
from chatchat.models.catalog import Catalog, EmbeddingEntry
from chatchat.models.user_catalog import open_catalog
from chatchat.config import Settings, load_settings
from chatchat.retrieval.context import fuse_by_rank
from chatchat.retrieval.rerank import POOL as RERANK_POOL
from chatchat.retrieval.rerank import Reranker, active as active_reranker, load as load_reranker, rerank as rerank_hits
from chatchat.ingest.docnames import kept_files, original_path
from chatchat.retrieval.embeddings import EmbedderPool
from chatchat.errors import InvalidName, NotFound
from chatchat.ingest.job import FileResult, Ingestor, Progress
from chatchat.answer.prompts import detect_language
from chatchat.retrieval.store import DocumentRecord, Hit, KBInfo, KnowledgeBase, Store

if TYPE_CHECKING:
    from chatchat.answer.conversations import ConversationStore
    from chatchat.models.manager import ModelManager
    from chatchat.llm.manager import LLMManager
    from chatchat.answer.answerer import Answerer

SEARCH_MODES = ("hybrid", "vector", "fulltext")
# the vector share in hybrid search where it differs from the store's 0.5 (xquad-en-a with multilingual-e5:
# MRR@10 0.921 at 0.7 against 0.905 at 0.5; the Chinese sets are best at 0.5: bench/RESULTS.md)
VECTOR_WEIGHT_BY_LANGUAGE = {"en": 0.7}


class Services:
    def __init__(self, settings: Settings, catalog: Catalog, store: Store, policy: Policy | None = None):
        """policy: who may see and change what (default: chatchat.policy.current(), by where this runs)."""
        self.settings = settings
        self.catalog = catalog
        self.store = store
        self.policy = policy or current_policy()
        self.embedders = EmbedderPool(settings, catalog)
        self.interrupted: dict[str, list[str]] = {}
        self._rerankers: dict[str, Reranker] = {}

    @classmethod
    def open(cls, settings: Settings | None = None, recover: bool = True, policy: Policy | None = None) -> "Services":
        """Load everything cheap, and finish whatever a crash left half done (`recover=False`: not now, for a
        caller that only lists knowledge bases). Models load on first use."""
        settings = settings or load_settings()
        settings.home.mkdir(parents=True, exist_ok=True)
        catalog = open_catalog(settings)  # the one catalog of the process: every part holds this object
        store = Store(settings.kb_dir, settings.db_dir, settings.vector_index_threshold)
        services = cls(settings, catalog, store, policy)
        if recover:
            services.recover()
        return services

    def recover(self) -> None:
        for name in self.store.names():
            rolled_back = self.store.get(name).cleanup()
            if rolled_back:
                self.interrupted[name] = rolled_back
        self.drop_orphan_file_kbs()
        self.store.drop_orphan_tables()

    def drop_orphan_file_kbs(self) -> list[str]:
        """Remove the knowledge bases of file chats whose conversation is gone (a crash between deleting
        the two). Returns their names."""
        dropped = []
        for info in self.internal_kbs(CONVERSATION):
            conversation = owned_conversation(info.owner)
            if conversation is not None and not self.conversations.exists(conversation):
                self.store.delete(info.name)
                dropped.append(info.name)
        return dropped

    # --- knowledge bases ------------------------------------------------------------------
    def list_kbs(self, viewer: str = "") -> list[KBInfo]:
        """The knowledge bases `viewer` may be shown: never the app's internal ones but the viewer's own
        (see chatchat.policy). Every list in the UI, the API and the CLI comes from here."""
        return [info for info in self.store.list() if visible(info.owner, viewer)]

    def internal_kbs(self, kind: str) -> list[KBInfo]:
        """The app's internal knowledge bases of one kind (an owner prefix: policy.CONVERSATION, …)."""
        return [info for info in self.store.list() if info.owner and info.owner.startswith(kind)]

    def kb_info(self, name: str) -> KBInfo:
        return self.store.get(name).info

    def create_kb(
        self,
        name: str,
        description: str = "",
        embedding: str | None = None,
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
        owner: str = "",
    ) -> KBInfo:
        """owner: '' for a person's knowledge base; else the internal use it serves (chatchat.policy),
        which keeps it out of every list."""
        entry = self.catalog.embedding(embedding or self.embedders.default_for_new_kb()[0])
        size = chunk_size or self.settings.chunk_size
        overlap = self.settings.chunk_overlap if chunk_overlap is None else chunk_overlap
        if not 50 <= size <= 8000 or not 0 <= overlap < size:
            raise InvalidName(f"Chunk size must be 50–8000 and overlap 0–{size - 1} (got {size}/{overlap}).")
        return self.store.create(
            name,
            embedding=entry.id,
            dim=entry.dim,
            description=description,
            chunk_size=size,
            chunk_overlap=overlap,
            title_enhance=self.settings.title_enhance,
            owner=owner,
        )

    def set_kb_description(self, name: str, description: str) -> KBInfo:
        return self.store.get(name).set_description(description)

    def delete_kb(self, name: str) -> None:
        self.store.delete(name)

    def documents(self, kb: str) -> list[DocumentRecord]:
        return self.store.get(kb).documents()

    def add_files(
        self,
        kb: str,
        paths: list[Path],
        names: list[str] | None = None,
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[FileResult]:
        base = self.store.get(kb)
        if names is not None and len(names) != len(paths):
            raise InvalidName("Each uploaded file needs exactly one name.")
        return self._ingestor(base, progress, cancel).run([Path(p) for p in paths], names)

    def remove_document(self, kb: str, file: str) -> None:
        base = self.store.get(kb)
        with base.writing():
            base.remove_file(file)
            base.optimize()

    def reingest(self, kb: str, file: str, progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None) -> FileResult:
        """Parse the kept original again (after a parser upgrade, or to retry)."""
        original = self.original(kb, file)
        [result] = self._ingestor(self.store.get(kb), progress, cancel, force=True).run([original], [file])
        return result

    def rebuild_kb(self, kb: str, progress: Callable[[Progress], None] | None = None,
                   cancel: threading.Event | None = None, embedding: str | None = None) -> list[FileResult]:
        """Re-parse, re-split and re-embed every kept original (e.g. after changing chunk settings); with
        `embedding`, with that model from now on (loaded first: a model that cannot load changes nothing)."""
        if embedding and embedding != self.kb_info(kb).embedding:
            entry = self.catalog.embedding(embedding)
            self.embedders.get(entry.id)
            self.store.switch_embedding(kb, entry.id, entry.dim)
        base = self.store.get(kb)
        names = kept_files(base.files_dir)
        return self._ingestor(base, progress, cancel, force=True).run([base.files_dir / n for n in names], names)

    def original(self, kb: str, file: str) -> Path:
        """The kept original of a registered document: inside the knowledge base's files folder, and never
        reached through a link (one placed in the folder must not serve a file from elsewhere)."""
        base = self.store.get(kb)
        try:
            path = original_path(base.files_dir, file) if base.document(file) else None
        except InvalidName:
            path = None
        if path is None or not path.is_file():
            raise NotFound(f"No original of '{file}' is kept in knowledge base '{base.name}'; upload it again.")
        return path

    def _ingestor(self, base: KnowledgeBase, progress: Callable[[Progress], None] | None,
                  cancel: threading.Event | None, force: bool = False) -> Ingestor:
        """force: ingest even unchanged files again (a full re-parse, re-split and re-embed)."""
        return Ingestor(
            base,
            self.embedders.get(base.info.embedding),
            max_bytes=self.settings.max_upload_mb * 2**20,
            progress=progress,
            cancel=cancel,
            force=force,
        )

    def update_chunks(self, kb: str, texts: dict[str, str]) -> list[str]:
        """Replace the text of chunks by id (`<doc_id>:<index>`), re-embedded; returns the ids of no chunk of `kb`."""
        base = self.store.get(kb)
        found = base.existing_chunks(list(texts))
        ids = [i for i in texts if i in found]
        if ids:
            vectors = self.embedders.get(base.info.embedding).embed([texts[i] for i in ids])
            with base.writing():
                for chunk_id, vector in zip(ids, vectors):
                    base.update_chunk(chunk_id, texts[chunk_id], vector)
                base.optimize()
        return [i for i in texts if i not in found]

    def chunks(self, kb: str, file: str) -> list[Hit]:
        return self.store.get(kb).chunks_of(file)

    def search(
        self,
        kb: str,
        query: str,
        top_k: int | None = None,
        score_threshold: float | None = None,
        mode: str | None = None,
        files: list[str] | None = None,
    ) -> list[Hit]:
        mode = mode or self.settings.search_mode
        if mode not in SEARCH_MODES:
            raise InvalidName(f"Unknown search mode '{mode}'; use one of {', '.join(SEARCH_MODES)}.")
        if not query or not query.strip():
            raise InvalidName("The search query is empty.")
        base = self.store.get(kb)
        vector = None
        if mode != "fulltext":
            vector = self.embedders.get(base.info.embedding).embed_query([query])[0]
        return base.search(
            vector,
            query,
            top_k=top_k or self.settings.top_k,
            score_threshold=self.settings.score_threshold if score_threshold is None else score_threshold,
            mode=mode,
            files=files,
            vector_weight=self._vector_weight(base.info.embedding, query),
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
    ) -> list[Hit]:
        """Several knowledge bases searched as one: each ranks with its own embedding model, and the rankings
        are fused by rank (their cosines are not comparable). With a reranker installed (and `rerank`), it
        orders a larger pool of candidates."""
        top_k = top_k or self.settings.top_k
        reranker = self.reranker() if rerank else None
        wanted = top_k * RERANK_POOL if reranker else top_k
        lists = [self.search(kb, query, wanted, score_threshold, mode, files) for kb in dict.fromkeys(kbs)]
        fused = fuse_by_rank(lists, wanted * len(lists))
        return rerank_hits(reranker, query, fused, top_k) if reranker else fused[:top_k]

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

    def kb_covers(self, hits: list[Hit], level: gate.Level | None = None) -> bool:
        """The relevance gate over search hits (vector or hybrid search): False when no hit is relevant
        enough for its knowledge base's model, i.e. the answer is not in the knowledge base."""
        return gate.covers(hits, lambda hit: self.gate_minimum(hit.kb, detect_language(hit.text), level))

    def _vector_weight(self, embedding: str, query: str) -> float | None:
        """An embedding model that does not know the question's language gives vectors that only add noise
        to the fusion (English MiniLM on Chinese: hybrid recall@1 0.21 against 0.82 for full text alone,
        bench/eval_retrieval.py), so full text ranks alone there and vectors only fill up what it misses.
        English full text (ICU words) is weaker than Chinese, so English questions lean on the vectors more."""
        entry = self.catalog.embeddings.get(embedding)
        language = detect_language(query)
        if entry and entry.languages and language not in entry.languages:
            return 0.0
        return VECTOR_WEIGHT_BY_LANGUAGE.get(language)  # else the store's default

    def embedding_for(self, language: str) -> EmbeddingEntry | None:
        """The first installed local embedding model of the catalog that understands `language`."""
        from chatchat.models.layout import installed_path

        return next((entry for entry in self.catalog.embeddings.values()
                     if language in entry.languages and entry.is_local and installed_path(self.settings, entry)), None)

    def embed(self, texts: list[str], model: str | None = None) -> np.ndarray:
        return self.embedders.get(model or self.settings.default_embedding).embed(texts)

    # --- chat and models: made on first use, one of each per process (the UI and the API share the loaded model)
    @cached_property
    def llms(self) -> LLMManager:
        from chatchat.llm.manager import LLMManager

        return LLMManager(self.settings, self.catalog)

    @cached_property
    def answerer(self) -> Answerer:
        from chatchat.answer.answerer import Answerer

        return Answerer(self.settings, self.llms, self)

    @cached_property
    def conversations(self) -> ConversationStore:
        from chatchat.answer.conversations import ConversationStore

        return ConversationStore(self.settings.conversations_dir, self)

    def delete_conversation(self, conversation_id: str) -> None:
        """Remove a conversation and its file chat's knowledge base."""
        self.conversations.delete(conversation_id)

    @cached_property
    def models(self) -> ModelManager:
        from chatchat.models.manager import ModelManager

        return ModelManager(self.settings, self.catalog)
