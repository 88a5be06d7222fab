"""Ranking the pages' text with the knowledge-base retrieval code: split like a knowledge base's documents
(chatchat.ingest.split, the title in front of each chunk), embedded with a knowledge base's embedder, put in
a chunk table (chatchat.retrieval.chunks) held in memory by LanceDB for this one question, and searched the
way a knowledge base is: cosine and ICU full text fused by chatchat.retrieval.fusion, each hit widened to
its neighbouring chunks (chatchat.retrieval.context). So web passages rank exactly like knowledge-base ones."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Sequence

from chatchat.ingest.split import Chunk, enhance, split_text
from chatchat.retrieval.context import Passage, expand
from chatchat.retrieval.embeddings import Embedder
from chatchat.retrieval.chunks import ChunkRow, ChunkTable, chunk_schema

WEB_KB = "web"  # the `kb` of every web passage
NO_VECTOR_INDEX = 2**31  # a few hundred chunks are searched exactly, never through an ANN index
MAX_CHUNKS_PER_PAGE = 24  # a page's first ~10,000 characters at the default chunk size: embedding is the cost


@dataclass(frozen=True)
class Document:
    """The text of one source: a page's main text, or the search engine's snippet of a page not read."""

    url: str
    title: str
    text: str


def rank(documents: Sequence[Document], query: str, embedder: Embedder, top_k: int, chunk_size: int,
         chunk_overlap: int, vector_weight: float | None = None) -> list[Passage]:
    """The best `top_k` passages for `query`, best first. A passage's hit has the page title as `file` and
    `section`, its address as `url`, and WEB_KB as `kb`."""
    pages = [(doc, _chunks(doc, chunk_size, chunk_overlap)) for doc in documents if doc.text.strip()]
    pages = [(doc, chunks) for doc, chunks in pages if chunks]
    if not pages:
        return []
    import lancedb

    vectors = iter(embedder.embed([enhance(chunk) for _, chunks in pages for chunk in chunks]))
    db = lancedb.connect("memory://")
    name = f"web_{uuid.uuid4().hex}"
    table = ChunkTable(db.create_table(name, schema=chunk_schema(embedder.dim)), WEB_KB)
    try:
        for number, (doc, chunks) in enumerate(pages):
            rows = [ChunkRow(c.text, enhance(c), None, c.section, c.index, next(vectors)) for c in chunks]
            table.add(f"page{number}", doc.url, rows)
        table.optimize(index_threshold=NO_VECTOR_INDEX)
        hits = table.search(embedder.embed_query([query])[0], query, top_k=top_k, mode="hybrid",
                            vector_weight=vector_weight)
        passages = expand(hits, lambda _kb, spans: table.spans(spans))
    finally:
        db.drop_table(name)
    titles = {doc.url: doc.title for doc, _ in pages}
    return [replace(p, hit=replace(p.hit, file=titles[p.hit.file] or p.hit.file, url=p.hit.file)) for p in passages]


def _chunks(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    texts = split_text(doc.text, chunk_size, chunk_overlap)[:MAX_CHUNKS_PER_PAGE]
    return [Chunk(text, None, doc.title or None, index) for index, text in enumerate(texts)]
