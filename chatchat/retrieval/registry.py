"""A knowledge base's document registry: one row a document version, `<table_id>_docs`, with its status.

A document is 'ingesting' while its chunks are written, 'ready' once they all are, 'failed' when its
ingest was interrupted, 'deleting' while its chunks go. The write protocol over the registry and the chunk
table is KnowledgeBase's (chatchat.retrieval.knowledge_base); this module holds the rows.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Collection, Iterable

import pyarrow as pa

from chatchat.errors import NotFound
from chatchat.retrieval.kb_info import now_iso

if TYPE_CHECKING:
    import lancedb

# the one error a row is given here (settle()); the UI shows it in its language ("error.ingest_interrupted")
INTERRUPTED = "interrupted: the app stopped during ingest; add the file again"

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

    @classmethod
    def new(cls, file: str, sha256: str, size: int, pages: int | None, doc_id: str = "") -> "DocumentRecord":
        """A version of `file` about to be written (KnowledgeBase.document_writer); a fresh id unless given."""
        return cls(doc_id or uuid.uuid4().hex, file, sha256, size, pages, 0, "ingesting", None, now_iso())


def quote(value: str) -> str:
    """A string literal for a LanceDB filter."""
    return "'" + value.replace("'", "''") + "'"


def any_of(column: str, values: Iterable[str]) -> str:
    """A LanceDB filter: `column` is one of `values` (at least one)."""
    return f"{column} IN ({', '.join(quote(v) for v in values)})"


def _record(row: dict) -> DocumentRecord:
    return DocumentRecord(**{k: row[k] for k in DocumentRecord.__dataclass_fields__})


class Registry:
    """The rows of one knowledge base's `_docs` table."""

    def __init__(self, table: lancedb.table.Table, kb_name: str):
        self.table = table
        self.kb_name = kb_name

    def _rows(self, where: str) -> list[dict]:
        return self.table.search().where(where).limit(None).to_list()

    def all(self) -> list[DocumentRecord]:
        records = [_record(row) for row in self.table.search().limit(None).to_list()]
        return sorted(records, key=lambda r: (r.added, r.file))

    def current(self, file: str) -> DocumentRecord | None:
        """The ready version of `file`, else the one row there is of it (not one being deleted)."""
        return self.current_of([file]).get(file)

    def current_of(self, files: Collection[str]) -> dict[str, DocumentRecord]:
        """`current` for many files in one read: {file: its record} for those that have one."""
        if not files:
            return {}
        found: dict[str, DocumentRecord] = {}
        for row in self._rows(f"{any_of('file', files)} AND status != 'deleting'"):
            if row["file"] not in found or row["status"] == "ready":
                found[row["file"]] = _record(row)
        return found

    def get(self, doc_id: str) -> DocumentRecord:
        rows = self.table.search().where(f"doc_id = {quote(doc_id)}").limit(1).to_list()
        if not rows:
            raise NotFound(f"Document {doc_id} is not registered in '{self.kb_name}'.")
        return _record(rows[0])

    def versions(self, files: Collection[str], besides: Collection[str] = ()) -> list[str]:
        """The doc ids of every version of `files`, but those in `besides`."""
        if not files:
            return []
        where = any_of("file", files) + (f" AND NOT {any_of('doc_id', besides)}" if besides else "")
        return [row["doc_id"] for row in self.table.search().where(where).select(["doc_id"]).limit(None).to_list()]

    def doc_ids(self) -> set[str]:
        return {row["doc_id"] for row in self.table.search().select(["doc_id"]).limit(None).to_list()}

    def add(self, *records: DocumentRecord) -> None:
        """Register rows, in one commit."""
        self.table.add([asdict(r) for r in records])

    def put(self, records: Collection[DocumentRecord]) -> None:
        """Replace registered rows by doc id with these, in one commit."""
        if records:
            rows = pa.Table.from_pylist([asdict(r) for r in records], schema=DOC_SCHEMA)
            self.table.merge_insert("doc_id").when_matched_update_all().execute(rows)

    def set_status(self, doc_ids: Collection[str], status: str, **values) -> None:
        if doc_ids:
            self.table.update(where=any_of("doc_id", doc_ids), values={"status": status, **values})

    def delete(self, doc_ids: Collection[str]) -> None:
        if doc_ids:
            self.table.delete(any_of("doc_id", doc_ids))

    def unfinished(self) -> list[DocumentRecord]:
        """Rows a crash left 'ingesting' or 'deleting'."""
        return [_record(row) for row in self._rows("status IN ('ingesting', 'deleting')")]

    def settle(self, record: DocumentRecord) -> bool:
        """The registry's part of finishing an unfinished row, once its chunks are gone: a 'deleting' row
        goes; an 'ingesting' one goes when a ready version of its file stays, else it becomes the file's
        one 'failed' row (one row per document name). True when an ingest was rolled back."""
        if record.status == "deleting":
            self.delete([record.doc_id])
            return False
        same = f"file = {quote(record.file)} AND doc_id != {quote(record.doc_id)}"
        if self.table.count_rows(f"{same} AND status = 'ready'"):
            self.delete([record.doc_id])
            return True
        self.table.delete(f"{same} AND status = 'failed'")
        self.set_status([record.doc_id], "failed", chunks=0, error=INTERRUPTED)
        return True
