"""A knowledge base's document registry: one row a document version, `<table_id>_docs`, with its status.

A document is 'ingesting' while its chunks are written, 'ready' once they all are, 'failed' when its
ingest was interrupted, 'deleting' while its chunks go. The write protocol over the registry and the chunk
table is KnowledgeBase's (chatchat.retrieval.knowledge_base); this module holds the rows.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from chatchat.errors import NotFound
from chatchat.retrieval.kb_info import now_iso

if TYPE_CHECKING:
    import lancedb

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
        rows = self._rows(f"file = {quote(file)} AND status != 'deleting'")
        ready = [r for r in rows if r["status"] == "ready"] or rows
        return _record(ready[0]) if ready else None

    def get(self, doc_id: str) -> DocumentRecord:
        rows = self.table.search().where(f"doc_id = {quote(doc_id)}").limit(1).to_list()
        if not rows:
            raise NotFound(f"Document {doc_id} is not registered in '{self.kb_name}'.")
        return _record(rows[0])

    def versions(self, file: str, besides: str = "") -> list[str]:
        """The doc ids of every version of `file`, but `besides`."""
        return [row["doc_id"] for row in self._rows(f"file = {quote(file)} AND doc_id != {quote(besides)}")]

    def doc_ids(self) -> set[str]:
        return {row["doc_id"] for row in self.table.search().select(["doc_id"]).limit(None).to_list()}

    def add(self, record: DocumentRecord) -> None:
        self.table.add([asdict(record)])

    def set_status(self, doc_id: str, status: str, **values) -> None:
        self.table.update(where=f"doc_id = {quote(doc_id)}", values={"status": status, **values})

    def delete(self, doc_id: str) -> None:
        self.table.delete(f"doc_id = {quote(doc_id)}")

    def unfinished(self) -> list[DocumentRecord]:
        """Rows a crash left 'ingesting' or 'deleting'."""
        return [_record(row) for row in self._rows("status IN ('ingesting', 'deleting')")]

    def settle(self, record: DocumentRecord) -> bool:
        """The registry's part of finishing an unfinished row, once its chunks are gone: a 'deleting' row
        goes; an 'ingesting' one goes when a ready version of its file stays, else it becomes the file's
        one 'failed' row (one row per document name). True when an ingest was rolled back."""
        if record.status == "deleting":
            self.delete(record.doc_id)
            return False
        same = f"file = {quote(record.file)} AND doc_id != {quote(record.doc_id)}"
        if self.table.count_rows(f"{same} AND status = 'ready'"):
            self.delete(record.doc_id)
            return True
        self.table.delete(f"{same} AND status = 'failed'")
        self.set_status(record.doc_id, "failed", chunks=0, error="interrupted: the app stopped during ingest; add the file again")
        return True
