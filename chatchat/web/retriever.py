"""Web retrieval for the answerer: a `WebRetriever` is a retrieve function (chatchat.answer.answerer.Retrieve):
query → search results → pages fetched → main text → ranked passages, with the time each stage took, the
sources that could not be read and why, and whether the passages cover the question (the knowledge bases'
relevance gate, at the threshold of the embedding model used)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from chatchat.answer.answerer import Retrieval
from chatchat.answer.prompts import detect_language
from chatchat.retrieval import gate
from chatchat.web.base import Language, PageUnreadable, SearchProvider, SearchResult, WebSearchError
from chatchat.web.extract import main_text
from chatchat.web.fetch import MAX_PAGE_BYTES, Page, fetch_pages
from chatchat.web.rank import Document, rank

if TYPE_CHECKING:
    from chatchat.config import Settings
    from chatchat.models.catalog import Catalog
    from chatchat.retrieval.embeddings import EmbedderPool
    from chatchat.retrieval.chunks import Hit

STAGES = ("search", "fetch", "extract", "rank")


@dataclass(frozen=True)
class Unread:
    """A search result whose page could not be read; its snippet (if any) stood in for it."""

    result: SearchResult
    error: PageUnreadable


@dataclass(frozen=True)
class WebRetrieval(Retrieval):
    """A Retrieval (passages best first, each hit's `url` its page and `file` its title; `covered`) and what
    the web added: the search results, the sources not read, and seconds by stage (STAGES)."""

    provider: str = ""  # its name, for messages
    language: Language = "en"  # the question's, as the answerer passed it
    results: tuple[SearchResult, ...] = ()
    unread: tuple[Unread, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


class WebRetriever:
    """Search-engine retrieval for the answerer: `retriever(query, language)`. Pages are ranked with the
    embedding model new knowledge bases get (Settings `default_embedding`). `last` is the latest retrieval,
    for a face that shows what could not be read (chatchat.web.notes)."""

    def __init__(self, settings: Settings, catalog: Catalog, embedders: EmbedderPool, provider: SearchProvider,
                 *, top_k: int | None = None, allow_private: bool = True, max_page_bytes: int = MAX_PAGE_BYTES):
        self.settings = settings
        self.catalog = catalog
        self.embedders = embedders
        self.provider = provider
        self.top_k = top_k or settings.top_k
        self.allow_private = allow_private  # False on a shared server: no page of its own network is read
        self.max_page_bytes = max_page_bytes
        self.last: WebRetrieval | None = None

    def __call__(self, query: str, language: Language) -> WebRetrieval:
        settings = self.settings
        timings: dict[str, float] = {}
        started = time.perf_counter()
        results = self.provider.search(query, settings.web_results, language)
        timings["search"] = time.perf_counter() - started
        if not results:
            raise WebSearchError(f"{self.provider.name} found nothing for “{query}”: ask in other words.",
                                 key="web_no_results", provider=self.provider.name, query=query)
        started = time.perf_counter()
        pages = fetch_pages([r.url for r in results], settings.web_timeout_s, self.max_page_bytes,
                            self.allow_private)
        timings["fetch"] = time.perf_counter() - started
        started = time.perf_counter()
        documents, unread = self._documents(results, pages)
        timings["extract"] = time.perf_counter() - started
        started = time.perf_counter()
        model_id = self.embedders.default_for_new_kb()[0]
        passages = rank(documents, query, self.embedders.get(model_id), self.top_k,
                        settings.chunk_size, settings.chunk_overlap)
        covered = gate.covers(query, [p.hit for p in passages], self._minimum(model_id))
        timings["rank"] = time.perf_counter() - started
        if not passages:
            names = "; ".join(u.error.message for u in unread)
            raise WebSearchError(f"None of the {len(results)} pages {self.provider.name} found could be read: {names}",
                                 key="web_nothing_readable", provider=self.provider.name, count=len(results),
                                 reasons=names)
        self.last = WebRetrieval(tuple(passages), covered, self.provider.name, language, tuple(results),
                                 tuple(unread), timings)
        return self.last

    def _documents(self, results: list[SearchResult], pages: list[Page | PageUnreadable]
                   ) -> tuple[list[Document], list[Unread]]:
        documents: list[Document] = []
        unread: list[Unread] = []
        for result, page in zip(results, pages):
            if isinstance(page, Page):
                try:
                    title, text = main_text(page)
                except PageUnreadable as exc:
                    page = exc
                else:
                    documents.append(Document(result.url, result.title or title or page.url, text))
                    continue
            unread.append(Unread(result, page))
            if result.snippet:  # the search engine's words about the page stand in for it
                documents.append(Document(result.url, result.title or result.url, result.snippet))
        return documents, unread

    def _minimum(self, model_id: str) -> Callable[[Hit], float | None]:
        entry = self.catalog.embeddings.get(model_id)
        gates = entry.gate if entry else {}
        level = self.settings.relevance_gate
        return lambda hit: gate.threshold(gates, level, detect_language(hit.text))
