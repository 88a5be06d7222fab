"""One web retrieval: query → search results → pages fetched → main text → ranked passages, with the time
each stage took, the sources that could not be read and why, and whether the passages cover the question
(the knowledge bases' relevance gate, at the threshold of the embedding model used)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from chatchat.answer.prompts import detect_language
from chatchat.retrieval import gate
from chatchat.retrieval.context import Passage
from chatchat.web.base import Language, PageUnreadable, SearchProvider, SearchResult, WebSearchError
from chatchat.web.extract import main_text
from chatchat.web.fetch import MAX_PAGE_BYTES, Page, fetch_pages
from chatchat.web.rank import Document, rank

if TYPE_CHECKING:
    from chatchat.config import Settings
    from chatchat.models.catalog import Catalog
    from chatchat.retrieval.embeddings import EmbedderPool
    from chatchat.retrieval.store import Hit

STAGES = ("search", "fetch", "extract", "rank")


@dataclass(frozen=True)
class Unread:
    """A search result whose page could not be read; its snippet (if any) stood in for it."""

    result: SearchResult
    error: PageUnreadable


@dataclass
class WebRetrieval:
    query: str
    provider: str  # its name, for messages
    results: list[SearchResult]
    passages: list[Passage]  # best first; each hit's `url` is its page, `file` its title
    covered: bool  # the relevance gate: some passage is close enough to the question to answer from
    unread: list[Unread] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds, by STAGES


class WebRetriever:
    """Search-engine retrieval for the answerer: `retriever(query, language)`. Pages are ranked with the
    embedding model new knowledge bases get (Settings `default_embedding`)."""

    def __init__(self, settings: Settings, catalog: Catalog, embedders: EmbedderPool, provider: SearchProvider,
                 *, allow_private: bool = True, max_page_bytes: int = MAX_PAGE_BYTES):
        self.settings = settings
        self.catalog = catalog
        self.embedders = embedders
        self.provider = provider
        self.allow_private = allow_private  # False on a shared server: no page of its own network is read
        self.max_page_bytes = max_page_bytes

    def __call__(self, query: str, language: Language | None = None, top_k: int | None = None) -> WebRetrieval:
        settings = self.settings
        timings: dict[str, float] = {}
        started = time.perf_counter()
        results = self.provider.search(query, settings.web_results, language or detect_language(query))
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
        passages = rank(documents, query, self.embedders.get(model_id), top_k or settings.top_k,
                        settings.chunk_size, settings.chunk_overlap)
        covered = gate.covers([p.hit for p in passages], self._minimum(model_id))
        timings["rank"] = time.perf_counter() - started
        if not passages:
            names = "; ".join(u.error.message for u in unread)
            raise WebSearchError(f"None of the {len(results)} pages {self.provider.name} found could be read: {names}",
                                 key="web_nothing_readable", provider=self.provider.name, count=len(results),
                                 reasons=names)
        return WebRetrieval(query, self.provider.name, results, passages, covered, unread, timings)

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
