"""Knowledge bases in an embedded LanceDB: chunks with vectors and full-text index, and a document registry.

Each knowledge base has a folder `<data>/knowledge_bases/<name>/` (kb.json and the original files) and two
tables: `<table_id>_chunks` and `<table_id>_docs`. A document's chunks are written before its registry row
says "ready"; rows left "ingesting" or "deleting" by a crash are cleaned up at the next start, so search never
returns part of a document. Writes to one knowledge base are serialised by a lock that also holds across
processes (the CLI beside the app).
"""

from __future__ import annotations

import json
import shutil
import threading
import unicodedata
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np
import pyarrow as pa
from filelock import FileLock

from chatchat.config import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from chatchat.ingest.docnames import original_path
from chatchat.errors import AlreadyExists, InvalidName, NotFound
from chatchat.fs import atomic_write
from chatchat.retrieval.fusion import Method, fuse
from chatchat.policy import legacy_owner, visible

if TYPE_CHECKING:
    import lancedb

FUSION_METHOD: Method = "minmax"  # chatchat.retrieval.fusion; chosen on the dev sets (bench/RESULTS.md)
VECTOR_WEIGHT = 0.5  # the vector ranking's share of the fused score; the full text has the rest
RRF_K = 60
# ICU finds words in Chinese and English alike (the default tokenizer finds no Chinese); chosen against n-grams
# on the dev sets (bench/RESULTS.md)
FTS_OPTIONS = dict(base_tokenizer="icu", stem=False, remove_stop_words=False, lower_case=True)
CANDIDATES_PER_HIT = 4  # each retriever proposes this many candidates per requested hit before fusion
MAX_NAME = 64


@dataclass
class KBInfo:
    name: str
    description: str
    embedding: str
    dim: int
    chunk_size: int
    chunk_overlap: int
    title_enhance: bool
    created: str
    table_id: str
    owner: str = ""  # '' for a person's own; else what internal use it serves (chatchat.policy)


@dataclass
class DocumentRecord:
    doc_id: str
    file: str
    sha256: str
    size: int
    pages: int | None
    chunks: int
    status: str  # ingesting | ready | failed | deleting
    error: str | None
    added: str


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
    bm25: list[tuple[str, float]]  # the full-text candidates' BM25 scores, best first


@dataclass
class ChunkRow:
    """One chunk ready to store: its text, what was indexed, and its vector."""

    text: str
    content: str
    page: int | None
    section: str | None
    index: int
    vector: np.ndarray


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_kb_name(name: str) -> str:
    """Knowledge-base names are shown to users and used as folder names: letters of any script,
    digits, `_ - .` and spaces inside, 1–64 characters, not starting with a dot."""
    if not isinstance(name, str):
        raise InvalidName("A knowledge-base name must be text.")
    cleaned = unicodedata.normalize("NFC", name.strip())
    bad = [ch for ch in cleaned if not (ch.isalnum() or ch in "_-. ")]
    if not cleaned or len(cleaned) > MAX_NAME or cleaned.startswith(".") or bad:
        detail = f" (it contains {''.join(sorted(set(bad)))!r})" if bad else ""
        raise InvalidName(
            f"'{name}' is not a valid knowledge-base name{detail}: use 1–{MAX_NAME} letters (any language), "
            "digits, spaces, '_', '-' or '.', not starting with '.'."
        )
    return cleaned


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _chunk_schema(dim: int) -> pa.Schema:
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
            ("vector", pa.list_(pa.float32(), dim)),
        ]
    )


DOC_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("file", pa.string()),
        ("sha256", pa.string()),
        ("size", pa.int64()),
        ("pages", pa.int32()),
        ("chunks", pa.int32()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("added", pa.string()),
    ]
)
HIT_COLUMNS = ["id", "doc_id", "file", "chunk_index", "page", "section", "text"]


class KnowledgeBase:
    def __init__(self, db: lancedb.DBConnection, folder: Path, info: KBInfo, index_threshold: int):
        self.db = db
        self.folder = folder
        self.info = info
        self.index_threshold = index_threshold
        self.files_dir = folder / "files"
        self._lock = threading.RLock()
        self._pending: set[str] = set()
        self._file_lock = FileLock(str(folder / ".write.lock"))
        self.chunks_table = db.open_table(f"{info.table_id}_chunks")
        self.docs_table = db.open_table(f"{info.table_id}_docs")

    @property
    def name(self) -> str:
        return self.info.name

    def writing(self) -> "_WriteLock":
        """Hold while changing this knowledge base; excludes other threads and processes."""
        return _WriteLock(self._lock, self._file_lock)

    @contextmanager
    def pending(self, doc_id: str) -> Iterator[None]:
        """While a document is being written in parts, search leaves it out."""
        self._pending.add(doc_id)
        try:
            yield
        finally:
            self._pending.discard(doc_id)

    # --- registry -------------------------------------------------------------------------
    def documents(self) -> list[DocumentRecord]:
        rows = self.docs_table.search().limit(None).to_list()
        records = [DocumentRecord(**{k: row[k] for k in DocumentRecord.__dataclass_fields__}) for row in rows]
        return sorted(records, key=lambda r: (r.added, r.file))

    def document(self, file: str) -> DocumentRecord | None:
        rows = self.docs_table.search().where(f"file = {_quote(file)} AND status != 'deleting'").limit(None).to_list()
        ready = [r for r in rows if r["status"] == "ready"] or rows
        if not ready:
            return None
        row = ready[0]
        return DocumentRecord(**{k: row[k] for k in DocumentRecord.__dataclass_fields__})

    def register(self, record: DocumentRecord) -> None:
        self.docs_table.add([asdict(record)])

    def _set_status(self, doc_id: str, status: str, **values) -> None:
        updates = {"status": status, **values}
        self.docs_table.update(where=f"doc_id = {_quote(doc_id)}", values=updates)

    # --- chunks ---------------------------------------------------------------------------
    def add_chunks(self, doc_id: str, file: str, rows: Iterable[ChunkRow]) -> int:
        """Append chunks of a document that is registered as 'ingesting'. One call is one atomic commit."""
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
                "vector": np.asarray(row.vector, dtype=np.float32),
            }
            for row in rows
        ]
        if batch:
            self.chunks_table.add(pa.Table.from_pylist(batch, schema=self.chunks_table.schema))
        return len(batch)

    def commit(self, doc_id: str, pages: int | None, chunks: int) -> None:
        """Make a document visible, and retire any older version of the same file."""
        record = self._record(doc_id)
        for old in self.docs_table.search().where(
            f"file = {_quote(record.file)} AND doc_id != {_quote(doc_id)}"
        ).limit(None).to_list():
            self._remove(old["doc_id"])
        self._set_status(doc_id, "ready", pages=pages, chunks=chunks, error=None)

    def fail(self, doc_id: str, error: str) -> None:
        self.chunks_table.delete(f"doc_id = {_quote(doc_id)}")
        self._set_status(doc_id, "failed", error=error, chunks=0)

    def discard(self, doc_id: str) -> None:
        """Forget a document that never became ready (cancelled or replaced-on-failure)."""
        self._remove(doc_id)

    def _remove(self, doc_id: str) -> None:
        # marked first: a crash between the two deletes leaves a row that cleanup() finishes
        self._set_status(doc_id, "deleting")
        self.chunks_table.delete(f"doc_id = {_quote(doc_id)}")
        self.docs_table.delete(f"doc_id = {_quote(doc_id)}")

    def remove_file(self, file: str) -> None:
        rows = self.docs_table.search().where(f"file = {_quote(file)}").limit(None).to_list()
        if not rows:
            raise NotFound(f"No document '{file}' in knowledge base '{self.name}'.")
        for row in rows:
            self._remove(row["doc_id"])
        try:
            original = original_path(self.files_dir, file)
        except InvalidName:
            return  # a link on the way: nothing outside the folder is ever deleted through it
        if original.is_file():
            original.unlink()
        for folder in original.parents:  # the sub-folders a folder upload made, once empty
            if folder == self.files_dir or not folder.is_relative_to(self.files_dir) or any(folder.iterdir()):
                break
            folder.rmdir()

    def _record(self, doc_id: str) -> DocumentRecord:
        rows = self.docs_table.search().where(f"doc_id = {_quote(doc_id)}").limit(1).to_list()
        if not rows:
            raise NotFound(f"Document {doc_id} is not registered in '{self.name}'.")
        return DocumentRecord(**{k: rows[0][k] for k in DocumentRecord.__dataclass_fields__})

    def chunks_of(self, file: str) -> list[Hit]:
        record = self.document(file)
        if record is None or record.status != "ready":
            raise NotFound(f"No ready document '{file}' in knowledge base '{self.name}'.")
        rows = (
            self.chunks_table.search()
            .where(f"doc_id = {_quote(record.doc_id)}")
            .select(HIT_COLUMNS)
            .limit(None)
            .to_list()
        )
        return [self._hit(row, 0.0) for row in sorted(rows, key=lambda r: r["chunk_index"])]

    def chunk_spans(self, spans: list[tuple[str, int, int]]) -> list[Hit]:
        """Chunks `first..last` (inclusive) of each `(doc_id, first, last)`, in one read, in document order:
        the neighbours of search hits."""
        if not spans:
            return []
        where = " OR ".join(
            f"(doc_id = {_quote(doc)} AND chunk_index >= {int(first)} AND chunk_index <= {int(last)})"
            for doc, first, last in spans
        )
        rows = self.chunks_table.search().where(where).select(HIT_COLUMNS).limit(None).to_list()
        return [self._hit(row, 0.0) for row in sorted(rows, key=lambda r: (r["doc_id"], r["chunk_index"]))]

    def set_description(self, description: str) -> KBInfo:
        with self.writing():
            self.info = replace(self.info, description=description)
            _write_info(self.folder, self.info)
        return self.info

    def existing_chunks(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        where = f"id IN ({', '.join(_quote(i) for i in ids)})"
        return {row["id"] for row in self.chunks_table.search().where(where).select(["id"]).limit(None).to_list()}

    def update_chunk(self, chunk_id: str, text: str, vector: np.ndarray) -> None:
        """Replace one chunk's text (searched as it is) and vector; hold writing() and optimize() after."""
        values = {"text": text, "content": text, "vector": np.asarray(vector, dtype=np.float32).tolist()}
        self.chunks_table.update(where=f"id = {_quote(chunk_id)}", values=values)

    def count_chunks(self) -> int:
        return self.chunks_table.count_rows()

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
        text ranks alone and vector candidates only fill up behind it. Hits whose `score` is below
        `score_threshold` are left out."""
        found = self.candidates(vector, text, max(top_k * CANDIDATES_PER_HIT, 20), mode, files)
        if mode == "vector":
            ranked = found.cosine
        elif mode == "fulltext" or vector is None:
            best = found.bm25[0][1] if found.bm25 and found.bm25[0][1] > 0 else 1.0
            ranked = [(cid, value / best) for cid, value in found.bm25]
        else:
            weight = VECTOR_WEIGHT if vector_weight is None else vector_weight
            ranked = fuse(found.cosine, found.bm25, FUSION_METHOD, weight, RRF_K)
        scores = dict(found.bm25) if vector is None else dict(found.cosine)
        hits = [self._hit(found.rows[cid], scores[cid], relevance) for cid, relevance in ranked]
        return [hit for hit in hits if hit.score >= score_threshold][:top_k]

    def candidates(
        self, vector: np.ndarray | None, text: str, limit: int, mode: str = "hybrid", files: list[str] | None = None
    ) -> Candidates:
        """What each retriever proposes before fusion: `limit` nearest chunks by vector and `limit` by full text,
        with the cosine of every candidate (when there is a query vector) and the BM25 score of the full-text ones."""
        clauses = []
        if files:
            clauses.append(f"file IN ({', '.join(_quote(f) for f in files)})")
        if self._pending:
            clauses.append(f"doc_id NOT IN ({', '.join(_quote(d) for d in list(self._pending))})")
        where = " AND ".join(clauses) or None
        # more candidates than hits: fusion needs them, and with an index they are what refine re-ranks exactly
        # (at 1M chunks recall@10 is 0.98 with 40 candidates, 0.65 with 10: bench_search.py)
        indexes = self._index_types()  # one look per search: each look reads the table's manifest
        rows: dict[str, dict] = {}
        bm25: list[tuple[str, float]] = []
        if mode in ("hybrid", "vector") and vector is not None:
            query = self.chunks_table.search(vector, vector_column_name="vector").distance_type("cosine")
            if indexes - {"FTS"}:
                query = query.nprobes(20).refine_factor(10)
            if where:
                query = query.where(where, prefilter=True)
            # `_distance` named: lance warns on every search that leaves it to be added implicitly
            selected = query.select([*HIT_COLUMNS, "vector", "_distance"]).limit(limit).to_list()
            rows.update((row["id"], row) for row in selected)
        if mode in ("hybrid", "fulltext") and text.strip() and "FTS" in indexes:
            for row in self._fulltext(text, where, limit):
                rows.setdefault(row["id"], row)
                bm25.append((row["id"], float(row["_score"])))
        cosine: list[tuple[str, float]] = []
        if vector is not None:
            # one way for vector and full-text candidates alike (stored vectors are unit length)
            cosine = sorted(
                ((cid, float(np.dot(np.asarray(row["vector"], dtype=np.float32), vector))) for cid, row in rows.items()),
                key=lambda item: -item[1],
            )
        return Candidates(rows, cosine, bm25)

    def _fulltext(self, text: str, where: str | None, limit: int) -> list[dict]:
        query = self.chunks_table.search(text, query_type="fts", fts_columns="content")
        if where:
            query = query.where(where, prefilter=True)
        return query.select([*HIT_COLUMNS, "vector", "_score"]).limit(limit).to_list()

    def _hit(self, row: dict, score: float, relevance: float = 0.0) -> Hit:
        return Hit(
            text=row["text"],
            file=row["file"],
            page=row["page"],
            section=row["section"],
            score=round(float(score), 4),
            doc_id=row["doc_id"],
            chunk_index=row["chunk_index"],
            kb=self.name,
            relevance=round(float(relevance), 4),
        )

    # --- maintenance ----------------------------------------------------------------------
    def _index_types(self) -> set[str]:
        return {str(index.index_type) for index in self.chunks_table.list_indices()}

    def _fts_ready(self) -> bool:
        return "FTS" in self._index_types()

    def _has_vector_index(self) -> bool:
        return bool(self._index_types() - {"FTS"})

    def optimize(self) -> None:
        """Index new rows, build the ANN index once the table is big enough, compact and drop old versions."""
        from lancedb.index import FTS, IvfPq

        rows = self.chunks_table.count_rows()
        if rows and not self._fts_ready():
            self.chunks_table.create_index(
                "content",
                config=FTS(**FTS_OPTIONS),
            )
        if rows >= self.index_threshold and not self._has_vector_index():
            # IVF_PQ: at 100k chunks it builds in half the time of IVF_HNSW_SQ and, refined, searches as fast
            # with the same recall (bench/RESULTS.md, bench_search.py)
            self.chunks_table.create_index("vector", config=IvfPq(distance_type="cosine"))
        for table in (self.chunks_table, self.docs_table):
            table.optimize(cleanup_older_than=timedelta(seconds=30))

    def cleanup(self) -> list[str]:
        """Finish what a crash interrupted. Returns the files whose ingest was rolled back."""
        rolled_back = []
        with self.writing():
            for row in self.docs_table.search().where("status IN ('ingesting', 'deleting')").limit(None).to_list():
                self.chunks_table.delete(f"doc_id = {_quote(row['doc_id'])}")
                if row["status"] == "deleting":
                    self.docs_table.delete(f"doc_id = {_quote(row['doc_id'])}")
                else:
                    rolled_back.append(row["file"])
                    # One row per document name: the ready version before stays as it was, or this
                    # interruption replaces the record of earlier ones.
                    same = f"file = {_quote(row['file'])} AND doc_id != {_quote(row['doc_id'])}"
                    if self.docs_table.count_rows(f"{same} AND status = 'ready'"):
                        self.docs_table.delete(f"doc_id = {_quote(row['doc_id'])}")
                        continue
                    self.docs_table.delete(f"{same} AND status = 'failed'")
                    self._set_status(row["doc_id"], "failed", chunks=0, error="interrupted: the app stopped during ingest; add the file again")
            known = {row["doc_id"] for row in self.docs_table.search().select(["doc_id"]).limit(None).to_list()}
            chunk_docs = set(
                self.chunks_table.search().select(["doc_id"]).limit(None).to_arrow().column("doc_id").unique().to_pylist()
            )
            for orphan in chunk_docs - known:
                self.chunks_table.delete(f"doc_id = {_quote(orphan)}")
            staging = self.folder / "staging"
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return rolled_back


class _WriteLock:
    def __init__(self, lock: threading.RLock, file_lock: FileLock):
        self._lock = lock
        self._file_lock = file_lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._file_lock.acquire()
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *exc) -> None:
        self._file_lock.release()
        self._lock.release()


class Store:
    """All knowledge bases under one data dir."""

    def __init__(self, kb_dir: Path, db_dir: Path, index_threshold: int = 50_000):
        self.kb_dir = kb_dir
        self.kb_dir.mkdir(parents=True, exist_ok=True)
        self.db_dir = db_dir
        self.index_threshold = index_threshold
        self._open: dict[str, KnowledgeBase] = {}
        self._lock = threading.Lock()

    def _folder(self, name: str) -> Path:
        return self.kb_dir / check_kb_name(name)

    def names(self) -> list[str]:
        return sorted(p.name for p in self.kb_dir.iterdir() if (p / "kb.json").is_file())

    @cached_property
    def db(self) -> lancedb.DBConnection:
        import lancedb  # at first use: its import is most of the time of a command that only lists

        return lancedb.connect(str(self.db_dir), read_consistency_interval=timedelta(0))

    def list(self) -> list[KBInfo]:
        """From the kb.json files: listing opens no table."""
        infos = []
        for name in self.names():
            with self._lock:
                kb = self._open.get(name)
            try:
                infos.append(kb.info if kb else _read_info(self.kb_dir / name))
            except FileNotFoundError:  # deleted meanwhile
                continue
        return infos

    def _listed_names(self) -> list[str]:
        """Names of the knowledge bases a person may be told about (read without the lock, for messages)."""
        listed = []
        for name in self.names():
            try:
                data = json.loads((self.kb_dir / name / "kb.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if visible(data.get("owner", legacy_owner(name))):
                listed.append(name)
        return listed

    def exists(self, name: str) -> bool:
        return (self._folder(name) / "kb.json").is_file()

    def get(self, name: str) -> KnowledgeBase:
        folder = self._folder(name)
        key = folder.name
        with self._lock:
            if key in self._open:
                return self._open[key]
            meta = folder / "kb.json"
            if not meta.is_file():
                known = ", ".join(self._listed_names()) or "none yet"
                raise NotFound(f"No knowledge base named '{name}'. Existing: {known}.")
            kb = KnowledgeBase(self.db, folder, _read_info(folder), self.index_threshold)
            self._open[key] = kb
            return kb

    def create(
        self,
        name: str,
        embedding: str,
        dim: int,
        description: str = "",
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
        title_enhance: bool = True,
        owner: str = "",
    ) -> KBInfo:
        folder = self._folder(name)
        if chunk_overlap >= chunk_size:
            raise InvalidName(f"Chunk overlap ({chunk_overlap}) must be smaller than chunk size ({chunk_size}).")
        with self._lock:
            if (folder / "kb.json").exists():
                raise AlreadyExists(f"A knowledge base named '{folder.name}' already exists.")
            info = KBInfo(
                name=folder.name,
                description=description,
                embedding=embedding,
                dim=dim,
                chunk_size=chunk_size,
                chunk_overlap=chunk_overlap,
                title_enhance=title_enhance,
                created=now_iso(),
                table_id="kb_" + uuid.uuid4().hex,
                owner=owner,
            )
            (folder / "files").mkdir(parents=True, exist_ok=True)
            self.db.create_table(f"{info.table_id}_chunks", schema=_chunk_schema(dim))
            self.db.create_table(f"{info.table_id}_docs", schema=DOC_SCHEMA)
            _write_info(folder, info)  # the knowledge base exists from this moment
            return info

    def delete(self, name: str) -> None:
        kb = self.get(name)
        with kb.writing():
            (kb.folder / "kb.json").unlink()
            with self._lock:
                self._open.pop(kb.folder.name, None)
            for suffix in ("_chunks", "_docs"):
                self.db.drop_table(f"{kb.info.table_id}{suffix}", ignore_missing=True)
        shutil.rmtree(kb.folder, ignore_errors=True)

    def switch_embedding(self, name: str, embedding: str, dim: int) -> KBInfo:
        """Give a knowledge base another embedding model: new, empty tables for its chunks and documents
        (vectors of another model cannot share a table). The kept originals stay, for the rebuild that must
        follow; the old tables go once kb.json names the new ones (a crash in between leaves only orphans,
        which drop_orphan_tables removes)."""
        kb = self.get(name)
        with kb.writing():
            old = kb.info.table_id
            table_id = "kb_" + uuid.uuid4().hex
            info = KBInfo(**{**asdict(kb.info), "embedding": embedding, "dim": dim, "table_id": table_id})
            self.db.create_table(f"{info.table_id}_chunks", schema=_chunk_schema(dim))
            self.db.create_table(f"{info.table_id}_docs", schema=DOC_SCHEMA)
            _write_info(kb.folder, info)
            with self._lock:
                self._open.pop(kb.folder.name, None)
            for suffix in ("_chunks", "_docs"):
                self.db.drop_table(f"{old}{suffix}", ignore_missing=True)
        return info

    def drop_orphan_tables(self) -> None:
        """Tables whose knowledge base is gone (a crash during create or delete)."""
        live = {self.get(n).info.table_id for n in self.names()}
        for table in self.db.list_tables().tables:
            if table.startswith("kb_") and table.rsplit("_", 1)[0] not in live:
                self.db.drop_table(table, ignore_missing=True)


def _read_info(folder: Path) -> KBInfo:
    data = json.loads((folder / "kb.json").read_text(encoding="utf-8"))
    info = KBInfo(**{"owner": legacy_owner(folder.name), **data})
    if "owner" not in data:  # made before owners were recorded: recognised once, then stored
        _write_info(folder, info)
    return info


def _write_info(folder: Path, info: KBInfo) -> None:
    atomic_write(folder / "kb.json", json.dumps(asdict(info), ensure_ascii=False, indent=2))
