"""One knowledge base: its blobs (kb.json, the kept originals), its registry and chunk table, and the write
protocol over them.

A document's chunks are written before its registry row says "ready" (`batch_writer`); rows left
"ingesting" or "deleting" by a crash are cleaned up at the next start (`cleanup`), so search never returns
part of a document. Writes are serialised by a lock that also holds across processes of this machine (the
CLI beside the app); on object storage, what holds between machines is chatchat.retrieval.location's.
"""

from __future__ import annotations

import shutil
import threading
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Iterable, Iterator

import numpy as np
from filelock import FileLock

from chatchat.errors import InvalidName, NotFound
from chatchat.ingest import ocr_boxes
from chatchat.retrieval.blobs import Blobs
from chatchat.retrieval.chunks import KEEP_VERSIONS, MAX_FRAGMENTS, Candidates, ChunkRow, ChunkTable, Hit
from chatchat.retrieval.kb_info import KBInfo, write_info
from chatchat.retrieval.registry import DocumentRecord, Registry

if TYPE_CHECKING:
    import lancedb


class BatchWriter:
    """What `KnowledgeBase.batch_writer` hands out: appends the chunks of the documents it writes."""

    def __init__(self, chunks: ChunkTable, records: list[DocumentRecord]):
        self._chunks = chunks
        self.records = {record.doc_id: record for record in records}
        self.stored = dict.fromkeys(self.records, 0)  # chunks written so far, by doc id

    def add_chunks(self, rows: dict[str, list[ChunkRow]]) -> int:
        """Append chunks by doc id, of any of the documents, in one atomic commit; returns how many."""
        added = self._chunks.add_documents([(doc_id, self.records[doc_id].file, part) for doc_id, part in rows.items()])
        for doc_id, part in rows.items():
            self.stored[doc_id] += len(part)
        return added


class DocumentWriter:
    """What `KnowledgeBase.document_writer` hands out: appends the chunks of the one document it writes."""

    def __init__(self, batch: BatchWriter, record: DocumentRecord):
        self._batch = batch
        self.record = record

    @property
    def stored(self) -> int:
        """Chunks written so far."""
        return self._batch.stored[self.record.doc_id]

    def add_chunks(self, rows: Iterable[ChunkRow]) -> int:
        """Append chunks (one call is one atomic commit to the table); returns how many."""
        return self._batch.add_chunks({self.record.doc_id: list(rows)})


class KnowledgeBase:
    def __init__(self, db: lancedb.DBConnection, blobs: Blobs, folder: Path, info: KBInfo, index_threshold: int):
        """blobs: where kb.json and the originals are kept; folder: the local folder of the lock and staging
        (the knowledge base's own folder in the data dir, else its folder in the local cache)."""
        self.blobs = blobs
        self.folder = folder
        self.info = info
        self.files_dir = folder / "files"  # where originals are, or are staged to from object storage
        self.index_threshold = index_threshold  # chunks from which optimize() builds the vector index
        self._lock = threading.RLock()
        self._file_lock = FileLock(str(folder / ".write.lock"))
        self._chunks = ChunkTable(db.open_table(f"{info.table_id}_chunks"), info.name)
        self._registry = Registry(db.open_table(f"{info.table_id}_docs"), info.name)
        self.chunks_table = self._chunks.table
        self.docs_table = self._registry.table

    @property
    def name(self) -> str:
        return self.info.name

    def writing(self) -> "_WriteLock":
        """Hold while changing this knowledge base; excludes other threads and processes."""
        return _WriteLock(self._lock, self._file_lock)

    # --- writing documents ----------------------------------------------------------------
    @contextmanager
    def document_writer(self, record: DocumentRecord) -> Iterator[DocumentWriter]:
        """`with kb.document_writer(record) as w: w.add_chunks(rows)`: write one version of a document
        (`batch_writer` of one)."""
        with self.batch_writer([record]) as batch:
            yield DocumentWriter(batch, batch.records[record.doc_id])

    @contextmanager
    def batch_writer(self, records: list[DocumentRecord]) -> Iterator[BatchWriter]:
        """`with kb.batch_writer(records) as w: w.add_chunks({doc_id: rows})`: write one version each of
        documents of different files, registered in one commit and made ready in one. The block holds
        writing(), and search leaves the documents out meanwhile. A clean exit makes them all 'ready' with
        the chunks written and retires any older versions of their files; any exception (a cancel,
        KeyboardInterrupt) forgets them all. A crash in the block leaves them 'ingesting', which cleanup()
        rolls back at the next start."""
        records = [replace(record, status="ingesting", chunks=0, error=None) for record in records]
        writer = BatchWriter(self._chunks, records)
        with self.writing(), ExitStack() as hidden:
            for record in records:
                hidden.enter_context(self._chunks.writing_document(record.doc_id))
            self._registry.add(*records)
            try:
                yield writer
                self._commit(records, writer.stored)
            except BaseException:
                self._remove(list(writer.records))
                raise

    def _commit(self, records: list[DocumentRecord], stored: dict[str, int]) -> None:
        self._remove(self._registry.versions([r.file for r in records], besides=[r.doc_id for r in records]))
        self._registry.put([replace(r, status="ready", chunks=stored[r.doc_id], error=None) for r in records])

    def _remove(self, doc_ids: Collection[str]) -> None:
        if not doc_ids:
            return
        # marked first: a crash between the two deletes leaves rows that cleanup() finishes
        self._registry.set_status(doc_ids, "deleting")
        self._chunks.delete_documents(doc_ids)
        self._registry.delete(doc_ids)

    def remove_file(self, file: str) -> None:
        """Forget every version of a document and delete its kept original; hold writing()."""
        versions = self._registry.versions([file])
        if not versions:
            raise NotFound(f"No document '{file}' in knowledge base '{self.name}'.")
        self._remove(versions)
        ocr_boxes.forget(self.blobs, file)
        try:
            self.blobs.delete(f"files/{file}")
        except InvalidName:
            return  # a link on the way: nothing outside the folder is ever deleted through it

    def keep_original(self, source: Path, file: str) -> None:
        """Keep the local file `source` as the original of document `file`, whole or not at all."""
        self.blobs.put(source, f"files/{file}")

    def kept_files(self) -> list[str]:
        """The document names of the kept originals, sorted."""
        return self.blobs.files("files")

    def originals(self) -> list[tuple[Path, str]]:
        """Every kept original as (a local path to read it at, its document name), for a rebuild; on object
        storage each is staged to the local cache first."""
        return self.blobs.local_files("files")

    def original(self, file: str) -> Path | None:
        """A local file holding the kept original of document `file` (staged from object storage), None when
        none is kept. Raises InvalidName for a name that is not safe or goes through a link."""
        return self.blobs.local_path(f"files/{file}")

    def update_chunk(self, chunk_id: str, text: str, vector: np.ndarray) -> None:
        """Replace one chunk's text (searched as it is) and vector; hold writing() and optimize() after."""
        self._chunks.update(chunk_id, text, vector)

    def set_description(self, description: str) -> KBInfo:
        with self.writing():
            self.info = replace(self.info, description=description)
            write_info(self.blobs, self.info)
        return self.info

    # --- reading --------------------------------------------------------------------------
    def documents(self) -> list[DocumentRecord]:
        return self._registry.all()

    def document(self, file: str) -> DocumentRecord | None:
        return self._registry.current(file)

    def documents_named(self, files: Collection[str]) -> dict[str, DocumentRecord]:
        """`document` for many files in one read: {file: its record} for those that have one."""
        return self._registry.current_of(files)

    def chunks_of(self, file: str) -> list[Hit]:
        record = self.document(file)
        if record is None or record.status != "ready":
            raise NotFound(f"No ready document '{file}' in knowledge base '{self.name}'.")
        return self._chunks.of_document(record.doc_id)

    def chunk_spans(self, spans: list[tuple[str, int, int]]) -> list[Hit]:
        """Chunks `first..last` (inclusive) of each `(doc_id, first, last)`: the neighbours of search hits."""
        return self._chunks.spans(spans)

    def existing_chunks(self, ids: list[str]) -> set[str]:
        return self._chunks.existing(ids)

    def count_chunks(self) -> int:
        return self._chunks.count()

    def search(self, vector: np.ndarray | None, text: str, **options: Any) -> list[Hit]:
        """ChunkTable.search, whose keyword options are top_k, score_threshold, mode, files and
        vector_weight: best first by `Hit.relevance`."""
        return self._chunks.search(vector, text, **options)

    def candidates(
        self, vector: np.ndarray | None, text: str, limit: int, mode: str = "hybrid", files: list[str] | None = None
    ) -> Candidates:
        """What each retriever proposes before fusion (ChunkTable.candidates)."""
        return self._chunks.candidates(vector, text, limit, mode, files)

    # --- maintenance ----------------------------------------------------------------------
    def optimize(self, when_due: bool = False, min_unindexed: int = 0) -> None:
        """Index new chunks (the ANN index once the table is big enough), compact, drop old versions. With
        `when_due`, each table only when that is due (ChunkTable.optimize_due, given `min_unindexed`; the
        registry at MAX_FRAGMENTS fragments), so that a batch costs as much in a big knowledge base as in a
        small one."""
        if not when_due or self._chunks.optimize_due(self.index_threshold, min_unindexed):
            self._chunks.optimize(self.index_threshold)
        if not when_due or self._registry.table.stats()["fragment_stats"]["num_fragments"] >= MAX_FRAGMENTS:
            self._registry.table.optimize(cleanup_older_than=KEEP_VERSIONS)

    def cleanup(self) -> list[str]:
        """Finish what a crash interrupted. Returns the files whose ingest was rolled back."""
        rolled_back = []
        with self.writing():
            for record in self._registry.unfinished():
                self._chunks.delete_documents([record.doc_id])  # first: a 'failed' row has no chunks
                if self._registry.settle(record):
                    rolled_back.append(record.file)
            self._chunks.delete_documents(self._chunks.doc_ids() - self._registry.doc_ids())
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
