"""A knowledge base's chunk table, `<table_id>_chunks`: chunk rows with vectors, their full-text and vector
indexes, and search over them (vector, full text, or both fused by chatchat.retrieval.fusion)."""

from __future__ import annotations

import math
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Collection, Iterable, Iterator

import numpy as np
import pyarrow as pa

from chatchat import cjk
from chatchat.retrieval.fusion import Method, fuse, fuse_weighted
from chatchat.retrieval.registry import any_of, quote

if TYPE_CHECKING:
    import lancedb

FUSION_METHOD: Method = "minmax"  # chatchat.retrieval.fusion; chosen on the dev sets (bench/RESULTS.md)
VECTOR_WEIGHT = 0.5  # the vector ranking's share of the fused score; the full text has the rest
RRF_K = 60
# ICU finds words in Chinese and English alike (the default tokenizer finds no Chinese); chosen against n-grams
# on the dev sets (bench/RESULTS.md)
FTS_OPTIONS = dict(base_tokenizer="icu", stem=False, remove_stop_words=False, lower_case=True)
# A question in Chinese (Japanese, Korean) is also ranked by BM25 over character bigrams: BIGRAM_COLUMN holds
# each chunk's indexed text as `terms` joined by spaces, under a second FTS index that splits at spaces only.
# Fused with the vector and ICU rankings it gains on the Chinese dev sets (bench/RESULTS.md, "Retrieval
# decisions"). Tables made before it have no such column and rank as before, by ICU alone.
BIGRAM_COLUMN = "bigrams"
BIGRAM_FTS_OPTIONS = dict(base_tokenizer="whitespace", stem=False, remove_stop_words=False, lower_case=True)
BIGRAM_SHARE = 0.4  # the bigram ranking's part of the full text's share (ICU has the rest)
CJK_VECTOR_WEIGHT = 0.4  # the vector share (unless the caller gives one) when the bigram ranking joins
CANDIDATES_PER_HIT = 4  # each retriever proposes this many candidates per requested hit before fusion
KEEP_VERSIONS = timedelta(seconds=30)  # optimize() drops table versions older than this
# optimize() rewrites the table's small fragments whole (compaction): run after every batch, each batch cost
# more as the table grew. It is due once the rows added since the last one are 1/UNINDEXED_SHARE of those
# indexed (so a row is rewritten about UNINDEXED_SHARE times in all, whatever the size), or once the table has
# MAX_FRAGMENTS fragments (a search opens each). Rows not indexed yet are still searched, by a flat scan.
UNINDEXED_SHARE = 20
MAX_FRAGMENTS = 64
HIT_COLUMNS = ["id", "doc_id", "file", "chunk_index", "page", "section", "text"]
# With a vector index, the nearest candidates are re-ranked exactly (refine) from a pool of one per
# ROWS_PER_REFINED rows, at least MIN_REFINED and at least REFINE_FACTOR x the candidates asked for:
# recall@10 1.0 at 100k chunks with 100 refined, 0.97 at 1M with 400; the 40 candidates of a hybrid search
# at 100k from 120 keep 99.4% of the exact 40 (99.6% from 400) (bench_search.py). Without an index: no-ops.
SCALAR_INDEXES = {"FTS", "BTree"}  # the index types on columns other than the vector
NPROBES = 20
REFINE_FACTOR = 3
MIN_REFINED = 100
ROWS_PER_REFINED = 2_500
# the full-text searches (ICU, bigrams) run here while the calling thread runs the vector one
_FULLTEXT_HALF = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chatchat-fulltext")


@dataclass
class Hit:
    """One search result. `relevance` is the figure the results are ordered by (show this one): the fused
    score in hybrid search (0–1, 1 = best of this search's candidates on both rankings), the cosine in
    vector search, the BM25 score over the best one's in full-text search. `score` is the cosine similarity
    of the query and the chunk (the BM25 score in full-text search without a query vector)."""

    text: str
    file: str
    page: int | None
    section: str | None
    score: float
    doc_id: str
    chunk_index: int
    kb: str
    relevance: float = 0.0
    url: str = ""  # the link a citation opens; empty until a face fills it


@dataclass
class Candidates:
    """One search's candidates before fusion (KnowledgeBase.candidates)."""

    rows: dict[str, dict]  # chunk id -> its stored columns
    cosine: list[tuple[str, float]]  # every candidate's cosine with the query vector, best first
    bm25: list[tuple[str, float]]  # the full-text (ICU) candidates' BM25 scores, best first
    bigrams: list[tuple[str, float]] = field(default_factory=list)  # BM25 over bigrams (CJK questions), best first


@dataclass
class ChunkRow:
    """One chunk ready to store: its text, what was indexed, and its vector."""

    text: str
    content: str
    page: int | None
    section: str | None
    index: int
    vector: np.ndarray


def chunk_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("doc_id", pa.string()),
            ("file", pa.string()),
            ("chunk_index", pa.int32()),
            ("page", pa.int32()),
            ("section", pa.string()),
            ("text", pa.string()),
            ("content", pa.string()),
            (BIGRAM_COLUMN, pa.string()),
            ("vector", pa.list_(pa.float32(), dim)),
        ]
    )


class ChunkTable:
    """The chunks of one knowledge base. Search leaves out the documents being written (`writing_document`)."""

    def __init__(self, table: lancedb.table.Table, kb_name: str):
        self.table = table
        self.kb_name = kb_name
        self._pending: set[str] = set()
        self._pending_lock = threading.Lock()
        self._rows: int | None = None  # counted at the first search after a write here (sizes the refine)
        self._indexed: set[str] = set()  # columns seen with an FTS index (one stays): not looked up again per search
        self._has_bigrams = BIGRAM_COLUMN in table.schema.names  # False in tables made before the column

    @contextmanager
    def writing_document(self, doc_id: str) -> Iterator[None]:
        """While a document is being written in parts, search leaves it out."""
        with self._pending_lock:
            self._pending.add(doc_id)
        try:
            yield
        finally:
            with self._pending_lock:
                self._pending.discard(doc_id)

    def add(self, doc_id: str, file: str, rows: Iterable[ChunkRow]) -> int:
        """Append chunks of a document. One call is one atomic commit."""
        return self.add_documents([(doc_id, file, rows)])

    def add_documents(self, parts: Iterable[tuple[str, str, Iterable[ChunkRow]]]) -> int:
        """Append chunks of several documents, `(doc_id, file, rows)` each, in one atomic commit."""
        batch = [
            {
                "id": f"{doc_id}:{row.index}",
                "doc_id": doc_id,
                "file": file,
                "chunk_index": row.index,
                "page": row.page,
                "section": row.section,
                "text": row.text,
                "content": row.content,
                BIGRAM_COLUMN: " ".join(terms(row.content)),  # left out by a table without the column
                "vector": np.asarray(row.vector, dtype=np.float32),
            }
            for doc_id, file, rows in parts
            for row in rows
        ]
        if batch:
            self.table.add(pa.Table.from_pylist(batch, schema=self.table.schema))
            self._rows = None
        return len(batch)

    def delete_documents(self, doc_ids: Collection[str]) -> None:
        if doc_ids:
            self.table.delete(any_of("doc_id", doc_ids))
            self._rows = None

    def doc_ids(self) -> set[str]:
        return set(self.table.search().select(["doc_id"]).limit(None).to_arrow().column("doc_id").unique().to_pylist())

    def of_document(self, doc_id: str) -> list[Hit]:
        rows = self.table.search().where(f"doc_id = {quote(doc_id)}").select(HIT_COLUMNS).limit(None).to_list()
        return [self._hit(row, 0.0) for row in sorted(rows, key=lambda r: r["chunk_index"])]

    def spans(self, spans: list[tuple[str, int, int]]) -> list[Hit]:
        """Chunks `first..last` (inclusive) of each `(doc_id, first, last)`, in one read, in document order:
        the neighbours of search hits."""
        if not spans:
            return []
        where = " OR ".join(
            f"(doc_id = {quote(doc)} AND chunk_index >= {int(first)} AND chunk_index <= {int(last)})"
            for doc, first, last in spans
        )
        rows = self.table.search().where(where).select(HIT_COLUMNS).limit(None).to_list()
        return [self._hit(row, 0.0) for row in sorted(rows, key=lambda r: (r["doc_id"], r["chunk_index"]))]

    def existing(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        where = f"id IN ({', '.join(quote(i) for i in ids)})"
        return {row["id"] for row in self.table.search().where(where).select(["id"]).limit(None).to_list()}

    def update(self, chunk_id: str, text: str, vector: np.ndarray) -> None:
        """Replace one chunk's text (searched as it is) and vector."""
        values = {"text": text, "content": text, "vector": np.asarray(vector, dtype=np.float32).tolist()}
        if self._has_bigrams:
            values[BIGRAM_COLUMN] = " ".join(terms(text))
        self.table.update(where=f"id = {quote(chunk_id)}", values=values)

    def count(self) -> int:
        return self.table.count_rows()

    # --- search ---------------------------------------------------------------------------
    def search(
        self,
        vector: np.ndarray | None,
        text: str,
        top_k: int = 3,
        score_threshold: float = -1.0,
        mode: str = "hybrid",
        files: list[str] | None = None,
        vector_weight: float | None = None,
    ) -> list[Hit]:
        """Vector, full-text or both fused (chatchat.retrieval.fusion), best first by `Hit.relevance`. `vector_weight`
        (0–1, default VECTOR_WEIGHT) is the vector ranking's share against the full-text one; at 0 the full
        text ranks alone and vector candidates only fill up behind it. A question with CJK characters is
        ranked in full text by ICU and bigrams fused (BIGRAM_SHARE; vector share CJK_VECTOR_WEIGHT unless
        given) where the table has the bigram column. Hits whose `score` is below `score_threshold` are left
        out."""
        # vector search alone needs no more than top_k: its refine pool, not its candidates, sets its recall
        limit = top_k if mode == "vector" else max(top_k * CANDIDATES_PER_HIT, 20)
        found = self.candidates(vector, text, limit, mode, files)
        if mode == "vector":
            ranked = found.cosine
        elif found.bigrams:
            weight = 0.0 if mode == "fulltext" or not found.cosine else \
                CJK_VECTOR_WEIGHT if vector_weight is None else vector_weight
            text_weight = 1.0 - weight
            ranked = fuse_weighted([(found.cosine, weight), (found.bm25, text_weight * (1.0 - BIGRAM_SHARE)),
                                    (found.bigrams, text_weight * BIGRAM_SHARE)], FUSION_METHOD, RRF_K)
        elif mode == "fulltext" or vector is None:
            best = found.bm25[0][1] if found.bm25 and found.bm25[0][1] > 0 else 1.0
            ranked = [(cid, value / best) for cid, value in found.bm25]
        else:
            weight = VECTOR_WEIGHT if vector_weight is None else vector_weight
            ranked = fuse(found.cosine, found.bm25, FUSION_METHOD, weight, RRF_K)
        # without a query vector: the ICU BM25 score (0 for a chunk only the bigrams found)
        scores = dict(found.bm25) if vector is None else dict(found.cosine)
        hits = [self._hit(found.rows[cid], scores.get(cid, 0.0), relevance) for cid, relevance in ranked]
        return [hit for hit in hits if hit.score >= score_threshold][:top_k]

    def candidates(
        self, vector: np.ndarray | None, text: str, limit: int, mode: str = "hybrid", files: list[str] | None = None
    ) -> Candidates:
        """What each retriever proposes before fusion: `limit` nearest chunks by vector and `limit` by full text
        (ICU, and bigrams for a question with CJK characters where the table has them), with the cosine of
        every candidate (when there is a query vector) and the BM25 scores of the full-text ones. The full-text
        searches run in worker threads meanwhile the vector one runs here."""
        clauses = []
        if files:
            clauses.append(f"file IN ({', '.join(quote(f) for f in files)})")
        with self._pending_lock:
            pending = list(self._pending)
        if pending:
            clauses.append(f"doc_id NOT IN ({', '.join(quote(d) for d in pending)})")
        where = " AND ".join(clauses) or None
        nearest = mode in ("hybrid", "vector") and vector is not None
        by_text = mode in ("hybrid", "fulltext") and bool(text.strip()) and self._has_fulltext_index("content")
        bigram_query = " ".join(dict.fromkeys(terms(text))) if by_text and _CJK.search(text) else ""
        by_bigrams = bool(bigram_query) and self._has_bigrams and self._has_fulltext_index(BIGRAM_COLUMN)
        searches = [("content", text)] * by_text + [(BIGRAM_COLUMN, bigram_query)] * by_bigrams
        text_halves = [_FULLTEXT_HALF.submit(self._fulltext, query, column, where, limit) for column, query in searches]
        tables = [self._nearest(vector, where, limit)] if nearest else []
        rankings = []
        for half in text_halves:
            found = half.result()
            tables.append(found)
            rankings.append(list(zip(found.column("id").to_pylist(), found.column("_score").to_pylist())))
        bm25 = rankings[0] if by_text else []
        bigrams = rankings[1] if by_bigrams else []
        rows: dict[str, dict] = {}
        at: dict[str, tuple[int, int]] = {}  # chunk id -> (table, row) of its stored vector
        for t, table in enumerate(tables):
            columns = {name: table.column(name).to_pylist() for name in HIT_COLUMNS}
            for i, cid in enumerate(columns["id"]):
                if cid not in rows:
                    rows[cid] = {name: values[i] for name, values in columns.items()}
                    at[cid] = (t, i)
        cosine: list[tuple[str, float]] = []
        if vector is not None and rows:
            # one way for vector and full-text candidates alike (stored vectors are unit length)
            # (np.dot row by row: the very figures of one vector at a time, which a matrix product may round apart)
            stored = [_vectors(table) for table in tables]
            cosine = sorted(((cid, float(np.dot(stored[t][i], vector))) for cid, (t, i) in at.items()),
                            key=lambda item: -item[1])
        return Candidates(rows, cosine, bm25, bigrams)

    def _nearest(self, vector: np.ndarray, where: str | None, limit: int) -> pa.Table:
        query = self.table.search(vector, vector_column_name="vector").distance_type("cosine")
        query = query.nprobes(NPROBES).refine_factor(self._refine_factor(limit))
        if where:
            query = query.where(where, prefilter=True)
        # `_distance` named: lance warns on every search that leaves it to be added implicitly
        return query.select([*HIT_COLUMNS, "vector", "_distance"]).limit(limit).to_arrow()

    def _fulltext(self, text: str, column: str, where: str | None, limit: int) -> pa.Table:
        query = self.table.search(text, query_type="fts", fts_columns=column)
        if where:
            query = query.where(where, prefilter=True)
        return query.select([*HIT_COLUMNS, "vector", "_score"]).limit(limit).to_arrow()

    def _refine_factor(self, limit: int) -> int:
        if self._rows is None:
            self._rows = self.table.count_rows()
        return max(REFINE_FACTOR, math.ceil(max(MIN_REFINED, self._rows / ROWS_PER_REFINED) / limit))

    def _has_fulltext_index(self, column: str) -> bool:
        if column not in self._indexed:
            self._indexed |= self._fulltext_columns()
        return column in self._indexed

    def _fulltext_columns(self) -> set[str]:
        """The columns with an FTS index."""
        return {c for index in self.table.list_indices() if str(index.index_type) == "FTS" for c in index.columns}

    def _wanted_fulltext(self) -> list[tuple[str, dict]]:
        """The FTS indexes this table should have: (column, options)."""
        return [("content", FTS_OPTIONS)] + [(BIGRAM_COLUMN, BIGRAM_FTS_OPTIONS)] * self._has_bigrams

    def _hit(self, row: dict, score: float, relevance: float = 0.0) -> Hit:
        return Hit(
            text=row["text"],
            file=row["file"],
            page=row["page"],
            section=row["section"],
            score=round(float(score), 4),
            doc_id=row["doc_id"],
            chunk_index=row["chunk_index"],
            kb=self.kb_name,
            relevance=round(float(relevance), 4),
        )

    # --- indexes --------------------------------------------------------------------------
    def index_types(self) -> set[str]:
        return {str(index.index_type) for index in self.table.list_indices()}

    def has_vector_index(self) -> bool:
        return bool(self.index_types() - SCALAR_INDEXES)

    def optimize_due(self, index_threshold: int, min_unindexed: int = 0) -> bool:
        """Whether optimize() is due (UNINDEXED_SHARE with at least `min_unindexed` rows not indexed yet, or
        MAX_FRAGMENTS); also while the table has rows and no full-text index, or `index_threshold` rows and
        no vector index."""
        rows = self.table.count_rows()
        if not rows:
            return False
        indexes = {str(index.index_type): index.name for index in self.table.list_indices()}
        if {column for column, _ in self._wanted_fulltext()} - self._fulltext_columns():
            return True
        if rows >= index_threshold and not set(indexes) - SCALAR_INDEXES:
            return True
        stats = self.table.index_stats(indexes["FTS"])  # the FTS indexes cover the same rows
        if stats is None:
            return True
        unindexed = stats.num_unindexed_rows
        if unindexed >= min_unindexed and unindexed * UNINDEXED_SHARE >= max(stats.num_indexed_rows, 1):
            return True
        return self.table.stats()["fragment_stats"]["num_fragments"] >= MAX_FRAGMENTS

    def optimize(self, index_threshold: int) -> None:
        """Index new rows, build the ANN index once the table holds `index_threshold` rows, compact and
        drop old versions."""
        from lancedb.index import FTS, BTree, IvfPq

        rows = self.table.count_rows()
        types = self.index_types()
        indexed = self._fulltext_columns()
        for column, options in self._wanted_fulltext():
            if rows and column not in indexed:
                self.table.create_index(column, config=FTS(**options))
        if rows and "BTree" not in types:
            # a search's neighbours (spans), a document's chunks and its delete look up doc_id: at 100k chunks
            # the neighbours' read took 60 ms as a scan, 12 ms through this index (2 busy cores)
            self.table.create_index("doc_id", config=BTree())
        if rows >= index_threshold and not self.has_vector_index():
            # IVF_PQ: at 100k chunks it builds in half the time of IVF_HNSW_SQ and, refined, searches as fast
            # with the same recall (bench/RESULTS.md, bench_search.py)
            self.table.create_index("vector", config=IvfPq(distance_type="cosine"))
        self.table.optimize(cleanup_older_than=KEEP_VERSIONS)
        self._rows = None


_CJK = re.compile(f"[{cjk.LETTERS}]+")
_WORD = re.compile(r"[^\W_]+")


def terms(text: str) -> list[str]:
    """The terms of a text, in order: character bigrams of each CJK run (a lone character stands for
    itself), lower-cased words otherwise. The bigram index's and the relevance gate's terms."""
    found: list[str] = []
    for piece in _CJK_SPLIT.split(text):
        if _CJK.fullmatch(piece):
            found += [piece[i : i + 2] for i in range(max(1, len(piece) - 1))]
        else:
            found += [word.lower() for word in _WORD.findall(piece)]
    return found


_CJK_SPLIT = re.compile(f"({_CJK.pattern})")


def _vectors(table: pa.Table) -> np.ndarray:
    """The `vector` column as one float32 matrix, a row per chunk."""
    column = table.column("vector").combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), column.type.list_size)
