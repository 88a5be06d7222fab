"""Files written whole or not at all, and the digest every file is checked by."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

from chatchat.errors import Cancelled

INCOMING = ".incoming"  # the suffix of a file being written, renamed to its name when complete
_BLOCK = 4 << 20


def atomic_write(path: Path, data: str | bytes, *, mode: int | None = None, sync: bool = False) -> None:
    """Write `data` to `path` through a temporary file beside it, so a reader or a crash sees the old
    file or the new one, never half of one. `mode` (e.g. 0o600) is set before the file has content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + INCOMING)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        if sync:
            handle.flush()
            os.fsync(handle.fileno())
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def atomic_copy(source: Path, target: Path) -> None:
    """Copy `source` to `target` whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + INCOMING)
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def is_incoming(path: Path) -> bool:
    """A file left half-written by `atomic_write`/`atomic_copy` (a crash between write and rename)."""
    return path.name.endswith(INCOMING)


def sha256_of(path: Path, cancel: threading.Event | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"Check of {path.name} cancelled.")
            digest.update(block)
    return digest.hexdigest()
