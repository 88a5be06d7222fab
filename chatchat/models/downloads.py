"""Moving model files over HTTP: resumable fetch, checks on what arrived, and a download queue.

Knows nothing of the catalog: `chatchat.models.install` says which files to fetch from where.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import re
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from chatchat.errors import AlreadyExists, Cancelled, ChatchatError, ModelError, NotFound
from chatchat.fs import sha256_of

CHUNK = 1 << 20  # reads of a local file
BATCH = 1 << 20  # bytes of received chunks (httpx's, 64 KB) handed to the writer thread at a time
BATCHES_IN_FLIGHT = 8  # batches received and not yet written, at most
RETRIES = 5
SPACE_MARGIN = 64 << 20  # bytes kept free beyond the download itself
HTML_PREFIXES = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")


class DownloadError(ModelError):
    code = "download_failed"
    status = 502


class DiskFull(DownloadError):
    code = "disk_full"
    status = 507


class ChecksumMismatch(DownloadError):
    code = "checksum_mismatch"
    status = 502


@dataclass
class RemoteFile:
    name: str  # path inside the model folder, '/'-separated
    url: str
    size: int | None = None
    sha256: str | None = None
    etag: str | None = None  # the server's validator, to tell whether a partial file is still the same file
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Progress:
    model_id: str
    file: str
    done: int  # bytes of the whole model present so far
    total: int | None
    speed: float  # bytes/s over this session's transfer
    eta: float | None  # seconds
    stage: Literal["download", "verify", "done"] = "download"

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressFn = Callable[[Progress], None]


def human(n: float) -> str:
    """Bytes as a person reads them (binary units)."""
    for unit in ("B", "KB", "MB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class Meter:
    """Turns byte counts into Progress reports, at most every `interval` seconds."""

    def __init__(self, model_id: str, total: int | None, done: int, report: ProgressFn | None, interval: float = 0.2):
        self.model_id, self.total, self.done = model_id, total, done
        self.file = ""
        self._report, self._interval = report, interval
        self._start, self._moved, self._last = time.monotonic(), 0, 0.0

    def add(self, n: int) -> None:
        self.done += n
        self._moved += n
        if time.monotonic() - self._last >= self._interval:
            self.emit()

    def emit(self, stage: Literal["download", "verify", "done"] = "download") -> None:
        if self._report is None:
            return
        self._last = time.monotonic()
        speed = self._moved / max(self._last - self._start, 1e-6)
        eta = (self.total - self.done) / speed if self.total and speed > 0 else None
        self._report(Progress(self.model_id, self.file, self.done, self.total, speed, eta, stage))


def free_bytes(folder: Path) -> int:
    folder = Path(folder)
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def ensure_free_space(folder: Path, need: int, what: str) -> None:
    free = free_bytes(folder)
    if need and need + SPACE_MARGIN > free:  # need 0: sizes unknown, the write itself will tell
        raise DiskFull(
            f"Not enough disk space for {what}: it needs {human(need)} more and only {human(free)} is free "
            f"on {folder}. Free some space, or point CHATCHAT_HOME at a bigger disk, then pull again.",
            key="disk_full", what=what, need=human(need), free=human(free), folder=folder,
        )


def status_error(response: httpx.Response, remote: RemoteFile) -> ChatchatError:
    code = response.status_code
    if code == 404:
        return NotFound(f"{remote.url} answered 404 Not Found: check the repo, file name and revision.")
    if code in (401, 403):
        return DownloadError(
            f"{remote.url} answered {code}: the file needs a login or a licence acceptance. "
            "Accept the model's licence on its page and set HF_TOKEN, or choose another source."
        )
    if code == 416:
        return DownloadError(f"{remote.url} rejected the resume request (416); pull again to start over.")
    return DownloadError(f"{remote.url} answered HTTP {code}; try again later or choose another source.")


def _open_at(target: Path, offset: int):
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = open(target, "r+b" if offset else "wb")
    handle.seek(offset)
    handle.truncate()
    return handle


class _Sink:
    """The sha256 of a file as it is written, so a download is not read back to be checked: a thread of its
    own writes and hashes the chunks in batches (the socket, the disk and the hash each let go of the GIL,
    so they overlap). What the file already held (a resumed download) is hashed once, from the disk."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.hashed = 0  # the digest covers this many bytes from the start of the file

    def sync(self, target: Path, have: int, cancel: threading.Event | None) -> None:
        """Make the digest cover exactly the first `have` bytes of `target`."""
        if self.hashed == have:
            return
        self.digest, self.hashed = hashlib.sha256(), 0
        if not have:
            return
        with open(target, "rb") as handle:
            while self.hashed < have and (block := handle.read(min(CHUNK, have - self.hashed))):
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"Check of {target.name} cancelled.")
                self.digest.update(block)
                self.hashed += len(block)

    @contextmanager
    def writing(self, handle) -> Iterator[Callable[[bytes], None]]:
        """`put(chunk)` appends a chunk to the file (and the digest). On leaving, every chunk put is on
        disk, and a write error (a full disk) is raised."""
        batches: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=BATCHES_IN_FLIGHT)
        failed: list[OSError] = []

        def work() -> None:
            while (batch := batches.get()) is not None:
                if failed:
                    continue  # the writer stopped at the error: take what is still queued, write nothing
                try:
                    for chunk in batch:
                        handle.write(chunk)
                        self.digest.update(chunk)
                        self.hashed += len(chunk)
                except OSError as exc:
                    failed.append(exc)

        worker = threading.Thread(target=work, name="chatchat-download-writer", daemon=True)
        worker.start()
        batch: list[bytes] = []
        size = 0

        def put(chunk: bytes) -> None:
            nonlocal batch, size
            if failed:
                raise failed[0]
            batch.append(chunk)
            size += len(chunk)
            if size >= BATCH:
                batches.put(batch)
                batch, size = [], 0

        try:
            yield put
        finally:
            if batch:
                batches.put(batch)
            batches.put(None)
            worker.join()
        if failed:
            raise failed[0]


def fetch(
    client: httpx.Client,
    remote: RemoteFile,
    target: Path,
    meter: Meter,
    cancel: threading.Event | None = None,
) -> str:
    """Download `remote` into `target`, resuming from what `target` already holds; returns the sha256 of
    the whole file (computed as the bytes arrive).

    A dropped connection is retried (with Range from the current size) up to RETRIES times
    without progress; whatever arrived stays on disk for the next attempt or the next pull.
    """
    if remote.url.startswith("file://"):
        return _copy_local(Path(url2pathname(urlsplit(remote.url).path)), target, meter, cancel)
    sink = _Sink()
    failures = 0
    while True:
        have = target.stat().st_size if target.exists() else 0
        if remote.size is not None and have >= remote.size:
            if have > remote.size:
                target.unlink()
                continue
            sink.sync(target, have, cancel)
            return sink.digest.hexdigest()
        headers = dict(remote.headers)
        if have:
            headers["Range"] = f"bytes={have}-"
        moved = 0
        try:
            with client.stream("GET", remote.url, headers=headers) as response:
                if response.status_code >= 400:
                    raise status_error(response, remote)
                if have and response.status_code != 206:  # the server ignored the range: start over
                    meter.add(-have)
                    have = 0
                served_from = re.match(r"bytes (\d+)-", response.headers.get("content-range", ""))
                if have and (served_from is None or int(served_from.group(1)) != have):
                    target.unlink()  # a range other than the one asked for: start over cleanly
                    meter.add(-have)
                    continue
                if "text/html" in response.headers.get("content-type", "") and not remote.name.endswith(".html"):
                    raise DownloadError(
                        f"{remote.url} sent a web page, not the model file {remote.name}: the URL is wrong, "
                        "or the site wants a login. Use the file's direct download link."
                    )
                sink.sync(target, have, cancel)
                with _open_at(target, have) as handle, sink.writing(handle) as put:
                    for chunk in response.iter_raw():
                        if cancel is not None and cancel.is_set():
                            raise Cancelled(f"Download of {remote.name} cancelled; pull again to resume.")
                        put(chunk)
                        moved += len(chunk)
                        meter.add(len(chunk))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DiskFull(
                    f"The disk filled up while downloading {remote.name} into {target.parent}: "
                    "free some space and pull again; the part already downloaded is kept."
                ) from exc
            raise DownloadError(f"Could not write {target}: {exc}") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            failures = 0 if moved else failures + 1
            if failures > RETRIES:
                raise DownloadError(
                    f"Lost the connection to {httpx.URL(remote.url).host} {RETRIES} times while downloading "
                    f"{remote.name} ({exc.__class__.__name__}). Check the network and pull again: "
                    "the download resumes where it stopped."
                ) from exc
            time.sleep(min(0.2 * 2**failures, 5))
            continue
        if remote.size is None:  # no length announced: the server closing the stream is the end
            return sink.digest.hexdigest()


def _copy_local(source: Path, target: Path, meter: Meter, cancel: threading.Event | None) -> str:
    """Import a file the user already has: a hard link when on the same disk, else a copy. Returns its sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        pass  # another disk, or links refused: copy
    else:
        meter.add(source.stat().st_size)
        return sha256_of(target, cancel)
    try:
        with open(source, "rb") as src, open(target, "wb") as dst:
            while block := src.read(CHUNK):
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"Import of {source.name} cancelled.")
                dst.write(block)
                meter.add(len(block))
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"The disk filled up while copying {source} into {target.parent}: free some space.") from exc
        raise DownloadError(f"Could not copy {source} to {target}: {exc}") from exc
    return sha256_of(target, cancel)


def check_content(path: Path, name: str) -> None:
    """Reject what is plainly not the named model file (a web page, a text error, a wrong format)."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    size = path.stat().st_size
    what = f"The downloaded {name} ({human(size)})"
    if head.lstrip()[:16].lower().startswith(HTML_PREFIXES):
        raise DownloadError(f"{what} is a web page, not a model file: the URL is wrong or needs a login.")
    suffix = Path(name).suffix.lower()
    if suffix == ".gguf" and head[:4] != b"GGUF":
        raise DownloadError(f"{what} is not a GGUF model (it does not start with 'GGUF').")
    if suffix == ".onnx" and (size < 1024 or head[:1] != b"\x08"):
        raise DownloadError(f"{what} is not an ONNX model (no ONNX protobuf header).")
    if suffix == ".safetensors" and (size < 8 or head[8:9] != b"{"):
        raise DownloadError(f"{what} is not a safetensors file.")
    if suffix == ".json":
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DownloadError(f"{what} is not valid JSON: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# The queue: one worker thread runs downloads in order; each job has a status the UI can poll.

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]


@dataclass
class Job:
    model_id: str
    status: JobStatus = "queued"
    progress: Progress | None = None
    error: str | None = None
    failure: ChatchatError | None = None  # the error itself, for its message key (the UI's languages)
    path: Path | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")


Runner = Callable[[str, ProgressFn, threading.Event], Path]


class DownloadManager:
    """Queue of downloads run one at a time by a worker thread.

    `runner(model_id, progress, cancel)` does one download and returns where the model lives.
    `listener`, if given, is called with the job on every progress report and status change.
    """

    def __init__(self, runner: Runner, listener: Callable[[Job], None] | None = None):
        self._runner, self._listener = runner, listener
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="chatchat-downloads", daemon=True)
        self._worker.start()

    def submit(self, model_id: str) -> Job:
        with self._lock:
            current = self._jobs.get(model_id)
            if current is not None and current.active:
                raise AlreadyExists(f"'{model_id}' is already {current.status} for download.")
            job = self._jobs[model_id] = Job(model_id)
        self._queue.put(job)
        self._notify(job)
        return job

    def cancel(self, model_id: str) -> Job:
        job = self.job(model_id)
        if job is None or not job.active:
            raise NotFound(f"No download of '{model_id}' is queued or running.")
        job.cancel.set()
        return job

    def job(self, model_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(model_id)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def wait(self, model_id: str, timeout: float | None = None) -> Job:
        job = self.job(model_id)
        if job is None:
            raise NotFound(f"No download of '{model_id}' was started.")
        job.finished.wait(timeout)
        return job

    def close(self) -> None:
        for job in self.jobs():
            job.cancel.set()
        self._queue.put(None)
        self._worker.join(timeout=10)

    def _notify(self, job: Job) -> None:
        if self._listener is not None:
            self._listener(job)

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            if job.cancel.is_set():
                job.status = "cancelled"
            else:
                job.status = "running"
                self._notify(job)
                self._run(job)
            job.finished.set()
            self._notify(job)

    def _run(self, job: Job) -> None:
        def report(progress: Progress) -> None:
            job.progress = progress
            self._notify(job)

        try:
            job.path = self._runner(job.model_id, report, job.cancel)
            job.status = "done"
        except Cancelled as exc:
            job.status, job.error, job.failure = "cancelled", exc.message, exc
        except ChatchatError as exc:
            job.status, job.error, job.failure = "failed", exc.message, exc
        except Exception as exc:  # a bug must not kill the worker and strand the queue
            job.status, job.error = "failed", f"{exc.__class__.__name__}: {exc}"
