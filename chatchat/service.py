"""The one object the UI, the API and the CLI call. It holds the settings, the catalog, the store and the
loaded models, and no presentation logic."""

from __future__ import annotations

import threading
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from chatchat.answer.answerer import AnswerEvent, Answerer, Retrieval, Retrieve, Scope, recorded
from chatchat.answer.conversations import ChatMessage, Conversation, ConversationStore
from chatchat.answer import prompts
from chatchat.answer.prompts import Language
from chatchat.config import KeyStore, Settings, load_settings
from chatchat.errors import ChatchatError, InvalidName, NotFound
from chatchat.ingest.job import FileResult, Ingestor, Progress
from chatchat.llm.base import Message
from chatchat.llm.manager import LLMManager, ModelRef
from chatchat.models.catalog import Catalog, EmbeddingEntry
from chatchat.models.layout import installed_path
from chatchat.models.user_catalog import open_catalog
from chatchat.policy import (CONVERSATION, CONVERSATION_KB_PREFIX, Policy, conversation_owner, current as current_policy,
                             owned_conversation, visible)
from chatchat.retrieval.context import Passage, expand, kb_names
from chatchat.retrieval.embeddings import EmbedderPool
from chatchat.retrieval.search import SEARCH_MODES, Search  # noqa: F401 (SEARCH_MODES: the faces import it from here)
from chatchat.retrieval.chunks import Hit
from chatchat.retrieval.kb_info import KBInfo
from chatchat.retrieval.knowledge_base import KnowledgeBase
from chatchat.retrieval.registry import DocumentRecord
from chatchat.retrieval.store import Store

if TYPE_CHECKING:
    from chatchat.agent.loop import Approve
    from chatchat.models.manager import ModelManager
    from chatchat.web.base import SearchProvider
    from chatchat.web.retriever import WebRetriever


class Services:
    def __init__(self, settings: Settings, catalog: Catalog, store: Store, policy: Policy | None = None):
        """policy: who may see and change what (default: chatchat.policy.current(), by where this runs)."""
        self.settings = settings
        self.catalog = catalog
        self.store = store
        self.policy = policy or current_policy()
        self.embedders = EmbedderPool(settings, catalog)
        self.interrupted: dict[str, list[str]] = {}
        searching = Search(settings, catalog, store, self.embedders)  # its methods are the service's own
        self.search, self.search_many, self.kb_covers = searching.search, searching.search_many, searching.kb_covers
        self.gate_minimum, self.reranker, self.chunk_spans = searching.gate_minimum, searching.reranker, searching.chunk_spans
        self._attach_lock = threading.Lock()
        self._attaching: dict[str, list[str]] = {}  # conversation id -> names of the files being added now

    @classmethod
    def open(cls, settings: Settings | None = None, recover: bool = True, policy: Policy | None = None) -> "Services":
        """Load everything cheap, and finish whatever a crash left half done (`recover=False`: not now, for a
        caller that only lists knowledge bases). Models load on first use."""
        settings = settings or load_settings()
        settings.home.mkdir(parents=True, exist_ok=True)
        catalog = open_catalog(settings)  # the one catalog of the process: every part holds this object
        store = Store.from_settings(settings)  # the data dir, or object storage (setting db_uri)
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
            raise InvalidName(f"Chunk size must be 50–8000 and overlap 0–{size - 1} (got {size}/{overlap}).",
                              key="chunking_invalid", size=size, overlap=overlap, max_overlap=size - 1)
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
        kept = base.originals()  # on object storage: staged to the local cache
        return self._ingestor(base, progress, cancel, force=True).run([p for p, _ in kept], [n for _, n in kept])

    def original(self, kb: str, file: str) -> Path:
        """The kept original of a registered document: inside the knowledge base's files folder, and never
        reached through a link (one placed in the folder must not serve a file from elsewhere)."""
        base = self.store.get(kb)
        try:
            path = base.original(file) if base.document(file) else None
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

    def embedding_for(self, language: str) -> EmbeddingEntry | None:
        """The first installed local embedding model of the catalog that understands `language`."""
        return next((entry for entry in self.catalog.embeddings.values()
                     if language in entry.languages and entry.is_local and installed_path(self.settings, entry)), None)

    def embed(self, texts: list[str], model: str | None = None) -> np.ndarray:
        return self.embedders.get(model or self.settings.default_embedding).embed(texts)

    # --- chat and models: made on first use, one of each per process (the UI and the API share the loaded model)
    @cached_property
    def llms(self) -> LLMManager:
        return LLMManager(self.settings, self.catalog)

    @cached_property
    def answerer(self) -> Answerer:
        return Answerer(self.settings, self.llms)

    @cached_property
    def conversations(self) -> ConversationStore:
        return ConversationStore(self.settings.conversations_dir)

    def unusable_reason(self, model_id: str) -> str | None:
        """Why a chat model cannot answer on this server, or None. Unknown ids raise NotFound."""
        from chatchat.llm.openai_engine import needs_key  # an engine module: loaded when a cloud model is asked about

        ref = self.llms.resolve(model_id)
        if ref.local:
            assert ref.entry is not None
            if self.settings.lite:
                return f"'{ref.id}' is a local model and lite mode is on (cloud models only)."
            if not ref.entry.chat:
                return f"'{ref.id}' is a base model without a chat template: it cannot chat."
            if installed_path(self.settings, ref.entry) is None:
                return f"'{ref.id}' is not installed: install it in the Models tab (or `chatchat models pull {ref.id}`)."
            return None
        assert ref.provider is not None
        if needs_key(ref.provider) and not KeyStore(self.settings.home).get(ref.provider.id, ref.provider.key_env):
            return f"No API key for {ref.provider.name}: add one in Settings → Providers."
        return None

    def answering_models(self) -> list[ModelRef]:
        """The chat models that can answer now (no unusable_reason): the catalog's, then each provider's."""
        ids = [*self.catalog.llms, *(f"{p.id}/{m}" for p in self.catalog.providers.values() for m in p.chat_models)]
        return [self.llms.resolve(i) for i in ids if self.unusable_reason(i) is None]

    # --- answers and conversations -------------------------------------------------------------
    def retriever(self, kbs: list[str], files: list[str] | None = None, top_k: int | None = None,
                  score_threshold: float | None = None, neighbours: bool = True, gate: bool = True) -> Retrieve:
        """The retrieve function (chatchat.answer.answerer.Retrieve) over knowledge bases `kbs` (only `files` of
        them): their fused hits, each widened to its neighbouring chunks (`neighbours`). With `gate`, hits the
        relevance gate finds too far from the question are returned as they are, as not covering it."""
        def retrieve(query: str, language: Language) -> Retrieval:
            hits = self.search_many(kbs, query, top_k=top_k or self.settings.top_k, score_threshold=score_threshold,
                                    files=files, language=language)
            if gate and hits and self.settings.search_mode != "fulltext" and not self.kb_covers(query, hits):
                return Retrieval(tuple(Passage.of(h) for h in hits), covered=False)
            return Retrieval(tuple(expand(hits, self.chunk_spans) if neighbours else map(Passage.of, hits)))

        return retrieve

    def answer(self, question: str, *, kb: str | Sequence[str] | None = None, files: list[str] | None = None,
               top_k: int | None = None, score_threshold: float | None = None, neighbours: bool = True,
               refuse_when_empty: bool = True, attached: str | None = None, **options: Any) -> Iterator[AnswerEvent]:
        """Answerer.answer (`options`: model, history, temperature, max_tokens, cancel, stages, rewrite, language),
        with `kb` (a name, several joined by commas, or a list) grounded in those knowledge bases (only in
        `files`); `neighbours`: the model reads each hit with its neighbouring chunks. `attached`: `kb` is a
        file chat's own, holding these files (named so in messages, never by `kb`)."""
        kbs = kb_names(kb)
        if not kbs:
            return self.answerer.answer(question, refuse_when_empty=refuse_when_empty, **options)
        retrieve = self.retriever(kbs, files, top_k, score_threshold, neighbours, gate=refuse_when_empty)
        scope = Scope(attached, files=True) if attached else Scope(", ".join(kbs))
        return self.answerer.answer(question, retrieve, scope, refuse_when_empty=refuse_when_empty, **options)

    def web_retriever(self, provider: str | None = None, top_k: int | None = None) -> WebRetriever:
        """The retrieve function over the web (chatchat.web): `provider` (else Settings' web_provider), if the
        policy lets this app search the web; a public one reads no page of this machine's network."""
        from chatchat.web.retriever import WebRetriever

        engine = self.web_engine(provider)
        return WebRetriever(self.settings, self.catalog, self.embedders, engine, top_k=top_k,
                            allow_private=not self.policy.public)

    def web_engine(self, provider: str | None = None) -> SearchProvider:
        """The search engine `provider` (else Settings' web_provider), if the policy lets this app search the web."""
        from chatchat.web.registry import open_provider

        return open_provider(self.settings, provider, allowed=self.policy.may_search_web(self.settings))

    def web_answer(self, question: str, *, provider: str | None = None, top_k: int | None = None,
                   **options: Any) -> Iterator[AnswerEvent]:
        """An answer grounded in web pages (`options` as for answer), ending with which sources could not be
        read. A provider that cannot be used (none picked, no key, off on a Space) is the one "error" event."""
        from chatchat.web.notes import web_answer

        try:
            retriever = self.web_retriever(provider, top_k)
        except ChatchatError as exc:
            return iter([AnswerEvent("error", text=exc.message, error=exc)])
        return web_answer(self.answerer, retriever, question, **options)

    def agent_answer(self, question: str, *, model: str | None = None, history: Sequence[Message] = (),
                     kbs: Sequence[str] = (), web: bool = False, web_provider: str | None = None,
                     approve: Approve | None = None, cancel: threading.Event | None = None,
                     temperature: float | None = None, max_tokens: int | None = None) -> Iterator[AnswerEvent]:
        """An answer by the model with tools (chatchat.agent): "step" events for its tool calls, "done" with
        them all. Knowledge-base search over `kbs`; the web (`web_provider`, else Settings') only with `web`,
        if the policy allows it, and on a public app no page of this machine's network. `approve(tool,
        arguments)` is asked before a tool that may change something runs (None: such tools are refused)."""
        from chatchat.agent.chat import agent_answer, toolset

        try:
            language = prompts.detect_language(question)
            names = [self.kb_info(name).name for name in kbs]  # unknown ones: NotFound, now
            engine = self.web_engine(web_provider) if web else None
            tools = toolset(self.settings, language, search=self.search_many, kbs=names, provider=engine,
                            allow_private=not self.policy.public)
            model_id = model or self.settings.default_llm
            chat_model = self.llms.get(model_id)
        except ChatchatError as exc:
            yield AnswerEvent("error", text=exc.message, error=exc)
            return
        yield from agent_answer(self.settings, chat_model, list(history), question, language, tools, approve=approve,
                                cancel=cancel, temperature=temperature,
                                max_tokens=max_tokens or self.catalog.default_max_tokens(model_id, self.settings.max_tokens))

    def reply(self, conversation_id: str, question: str, *, model: str | None = None,
              cancel: threading.Event | None = None, **options: Any) -> Iterator[AnswerEvent]:
        """Answer inside a conversation: its mode, knowledge base, model and history, with "stage" events.
        The question is saved as soon as it is known to be askable (not empty, a model that exists, files
        that are ready), before any slow stage, so a stop, a failure or a closed tab never loses it; the
        answer is saved before "done" is yielded. A question that cannot be asked saves nothing."""
        try:
            conversation = self.conversations.get(conversation_id)
            model_id = model or conversation.model or self.settings.default_llm
            self.llms.resolve(model_id)
            if not question.strip():
                raise ChatchatError("The question is empty: type a question first.")
            kb, attached = self._kb_of(conversation)
            history = conversation.history(self.settings.history_turns)
            self.conversations.add_message(conversation_id, ChatMessage(role="user", content=question.strip()))
        except ChatchatError as exc:
            yield AnswerEvent("error", text=exc.message, error=exc)
            return
        if conversation.mode == "agent":  # the conversation's knowledge base, if any, is the search tool's
            events = self.agent_answer(question, model=model_id, history=history, cancel=cancel,
                                       kbs=kb_names(conversation.kb), **options)
        else:
            answer = self.web_answer if conversation.mode == "web" else partial(self.answer, kb=kb, attached=attached)
            events = answer(question, model=model_id, history=history, cancel=cancel, stages=True, **options)
        yield from recorded(events, self.conversations, conversation_id, model_id)

    def _kb_of(self, conversation: Conversation) -> tuple[str | None, str | None]:
        """The knowledge base a conversation answers from, and for a file chat (whose knowledge base is
        internal) the names of its files. A file chat asks only once its files are in."""
        if conversation.mode != "file":
            return (conversation.kb, None) if conversation.mode == "kb" else (None, None)
        docs = self.documents(conversation.temp_kb) if conversation.temp_kb else []
        ingesting = [d.file for d in docs if d.status == "ingesting"]
        reading = list(dict.fromkeys([*self.attaching(conversation.id), *ingesting]))
        if reading:
            raise ChatchatError(f"Still reading {', '.join(reading)}: ask again when the files are ready.",
                                key="files_reading", files=", ".join(reading))
        if not conversation.temp_kb:
            raise ChatchatError("This file chat has no files yet: drop a file into it first.", key="files_first")
        ready = [d.file for d in docs if d.status == "ready"]
        if not ready:
            raise ChatchatError("None of this chat's files could be read: drop a readable file into it.",
                                key="files_unreadable")
        return conversation.temp_kb, ", ".join(ready)

    def attach_files(self, conversation_id: str, paths: Sequence[Path], names: list[str] | None = None,
                     progress: Callable[[Progress], None] | None = None) -> list[FileResult]:
        """Add files to the conversation's own knowledge base (made on first use); the chat becomes a file chat."""
        with self._attach_lock:
            conversation = self.conversations.get(conversation_id)
            if not conversation.temp_kb:
                kb = self.create_kb(CONVERSATION_KB_PREFIX + conversation.id, owner=conversation_owner(conversation.id),
                                    description=f"files of conversation {conversation.id}").name
                conversation = self.conversations.make_file_chat(conversation_id, kb)
            reading = names or [Path(p).name for p in paths]
            self._attaching.setdefault(conversation_id, []).extend(reading)
        try:
            return self.add_files(conversation.temp_kb, list(paths), names=names, progress=progress)
        finally:
            with self._attach_lock:
                left = self._attaching.get(conversation_id, [])
                for name in reading:
                    left.remove(name)
                if not left:
                    self._attaching.pop(conversation_id, None)

    def attaching(self, conversation_id: str) -> list[str]:
        """Names of the files being added to this conversation right now (a file chat waits for them)."""
        with self._attach_lock:
            return list(self._attaching.get(conversation_id, ()))

    def delete_conversation(self, conversation_id: str) -> None:
        """Remove a conversation and its file chat's knowledge base."""
        conversation = self.conversations.get(conversation_id)
        if conversation.temp_kb:
            try:
                self.delete_kb(conversation.temp_kb)
            except NotFound:
                pass
        self.conversations.delete(conversation_id)

    @cached_property
    def models(self) -> ModelManager:
        from chatchat.models.manager import ModelManager

        return ModelManager(self.settings, self.catalog)
