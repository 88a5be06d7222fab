"""Where a knowledge base keeps its files (kb.json and the kept originals): a local folder, or a prefix on
object storage (S3 and S3-compatible stores, Google Cloud Storage, Azure) through pyarrow.fs.

Keys are '/'-separated names below the root (`<kb>/kb.json`, `<kb>/files/<document>`), each already a safe
document name (chatchat.ingest.docnames). Every write is whole or not at all: a local file through a
temporary one renamed, an object by its single PUT.
"""

from __future__ import annotations

import os
import shutil
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from chatchat.errors import InvalidName
from chatchat.fs import INCOMING, atomic_copy, atomic_write
from chatchat.ingest.docnames import kept_files, original_path, safe_file_name

if TYPE_CHECKING:
    import pyarrow.fs as pafs

_BLOCK = 4 << 20


class Blobs(ABC):
    """The interface; `LocalBlobs` and `ObjectBlobs` implement it."""

    @abstractmethod
    def child(self, name: str) -> "Blobs":
        """The blobs below `name` (one knowledge base's)."""
        ...

    @abstractmethod
    def read_text(self, key: str) -> str:
        """FileNotFoundError when there is no such blob."""
        ...

    @abstractmethod
    def write_text(self, key: str, text: str) -> None:
        ...

    @abstractmethod
    def exists(self, key: str) -> bool:
        ...

    @abstractmethod
    def folders(self) -> list[str]:
        """The names of the folders right below the root."""
        ...

    @abstractmethod
    def files(self, prefix: str) -> list[str]:
        """The safe document names of the files below `prefix`, sorted."""
        ...

    @abstractmethod
    def local_files(self, prefix: str) -> list[tuple[Path, str]]:
        """Each file below `prefix` as (a local path to read it at, its name), for a re-ingest."""
        ...

    @abstractmethod
    def put(self, source: Path, key: str) -> None:
        """Keep the local file `source` as `key`."""
        ...

    @abstractmethod
    def local_path(self, key: str) -> Path | None:
        """A local file holding the blob (the file itself, or a copy staged in the local cache), None when
        there is none. Raises InvalidName for a key that is not a safe name or goes through a link."""
        ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete one blob (none there: nothing happens)."""
        ...

    @abstractmethod
    def delete_tree(self) -> None:
        """Delete everything below the root, the root included."""
        ...


class LocalBlobs(Blobs):
    """A local folder; no key is ever reached through a link placed in it."""

    def __init__(self, root: Path):
        self.root = root

    def child(self, name: str) -> "LocalBlobs":
        return LocalBlobs(self.root / name)

    def read_text(self, key: str) -> str:
        return original_path(self.root, key).read_text(encoding="utf-8")

    def write_text(self, key: str, text: str) -> None:
        atomic_write(original_path(self.root, key), text)

    def exists(self, key: str) -> bool:
        return original_path(self.root, key).is_file()

    def folders(self) -> list[str]:
        self.root.mkdir(parents=True, exist_ok=True)
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def files(self, prefix: str) -> list[str]:
        return kept_files(self.root / prefix)

    def local_files(self, prefix: str) -> list[tuple[Path, str]]:
        """The files themselves: a linked one too, for the ingest job to refuse and say why."""
        return [(self.root / prefix / name, name) for name in self.files(prefix)]

    def put(self, source: Path, key: str) -> None:
        atomic_copy(source, original_path(self.root, key))

    def local_path(self, key: str) -> Path | None:
        path = original_path(self.root, key)
        return path if path.is_file() else None

    def delete(self, key: str) -> None:
        path = original_path(self.root, key)
        if path.is_file():
            path.unlink()
        for folder in path.parents:  # the sub-folders a folder upload made, once empty
            if (folder == self.root or not folder.is_relative_to(self.root) or not folder.is_dir()
                    or any(folder.iterdir())):
                break
            folder.rmdir()

    def delete_tree(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class ObjectBlobs(Blobs):
    """A prefix on object storage, `base` as pyarrow.fs names it (`bucket/prefix`); `cache` is the local
    folder files are staged to for the parser and for downloads."""

    def __init__(self, fs: pafs.FileSystem, base: str, cache: Path):
        self.fs = fs
        self.base = base.rstrip("/")
        self.cache = cache

    def child(self, name: str) -> "ObjectBlobs":
        return ObjectBlobs(self.fs, f"{self.base}/{name}", self.cache / name)

    def _path(self, key: str) -> str:
        original_path(self.cache, key)  # the same names as locally, or InvalidName
        return f"{self.base}/{key}"

    def read_text(self, key: str) -> str:
        with self.fs.open_input_stream(self._path(key)) as stream:
            return stream.read().decode("utf-8")

    def write_text(self, key: str, text: str) -> None:
        with self.fs.open_output_stream(self._path(key)) as stream:
            stream.write(text.encode("utf-8"))

    def exists(self, key: str) -> bool:
        import pyarrow.fs as pafs

        return self.fs.get_file_info(self._path(key)).type == pafs.FileType.File

    def _listing(self, base: str, recursive: bool) -> list:
        import pyarrow.fs as pafs

        return self.fs.get_file_info(pafs.FileSelector(base, recursive=recursive, allow_not_found=True))

    def folders(self) -> list[str]:
        import pyarrow.fs as pafs

        return sorted(i.base_name for i in self._listing(self.base, False) if i.type == pafs.FileType.Directory)

    def files(self, prefix: str) -> list[str]:
        import pyarrow.fs as pafs

        base = f"{self.base}/{prefix}"
        names = [i.path[len(base) + 1 :] for i in self._listing(base, True) if i.type == pafs.FileType.File]
        return sorted(n for n in names if _is_safe(n))

    def local_files(self, prefix: str) -> list[tuple[Path, str]]:
        staged = ((self.local_path(f"{prefix}/{name}"), name) for name in self.files(prefix))
        return [(path, name) for path, name in staged if path is not None]  # None: deleted meanwhile

    def put(self, source: Path, key: str) -> None:
        with open(source, "rb") as handle, self.fs.open_output_stream(self._path(key)) as stream:
            while block := handle.read(_BLOCK):
                stream.write(block)

    def local_path(self, key: str) -> Path | None:
        """Staged afresh on every call: another instance may have replaced the object meanwhile."""
        target = original_path(self.cache, key)
        if not self.exists(key):
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}{INCOMING}")
        with self.fs.open_input_stream(self._path(key)) as stream, open(tmp, "wb") as handle:
            while block := stream.read(_BLOCK):
                handle.write(block)
        os.replace(tmp, target)
        return target

    def delete(self, key: str) -> None:
        try:
            self.fs.delete_file(self._path(key))
        except FileNotFoundError:
            pass

    def delete_tree(self) -> None:
        try:
            self.fs.delete_dir(self.base)
        except FileNotFoundError:
            pass


def _is_safe(name: str) -> bool:
    try:
        return safe_file_name(name) == name
    except InvalidName:
        return False
