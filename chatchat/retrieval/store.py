"""All knowledge bases of one store: the data dir's embedded LanceDB, or object storage (chatchat.retrieval.location).

Each knowledge base has a folder of blobs `knowledge_bases/<name>/` (kb.json, chatchat.retrieval.kb_info, and
the originals under files/; chatchat.retrieval.blobs) and two tables: `<table_id>_chunks` (chatchat.retrieval.chunks: chunks with
vectors and full-text index, and search) and `<table_id>_docs` (chatchat.retrieval.registry: the document
registry). One knowledge base and its write protocol: chatchat.retrieval.knowledge_base.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from chatchat.config import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from chatchat.errors import AlreadyExists, InvalidName, NotFound
from chatchat.policy import legacy_owner, visible
from chatchat.retrieval.kb_info import KBInfo, check_kb_name, now_iso, read_info, write_info
from chatchat.retrieval.location import Location, locate

if TYPE_CHECKING:  # a knowledge base's tables (pyarrow, numpy) load at its first use: listing reads kb.json alone
    import lancedb
    from filelock import FileLock

    from chatchat.config import Settings
    from chatchat.retrieval.knowledge_base import KnowledgeBase


class Store:
    """All knowledge bases of one store: by default the data dir's (`kb_dir`, `db_dir`), else `location`'s."""

    def __init__(self, kb_dir: Path, db_dir: Path, index_threshold: int = 50_000, location: Location | None = None):
        self.location = location or Location.folder(kb_dir, db_dir)
        self.blobs = self.location.blobs
        self.kb_dir = self.location.local  # local folders of the knowledge bases: locks, staging, staged originals
        self.kb_dir.mkdir(parents=True, exist_ok=True)
        self.index_threshold = index_threshold
        self._open: dict[str, KnowledgeBase] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "Store":
        """The store the settings name (`db_uri`; empty: the data dir)."""
        return cls(settings.kb_dir, settings.db_dir, settings.vector_index_threshold, locate(settings))

    def _folder(self, name: str) -> Path:
        return self.kb_dir / check_kb_name(name)

    def names(self) -> list[str]:
        return [name for name in self.blobs.folders() if self.blobs.child(name).exists("kb.json")]

    @cached_property
    def _tables_lock(self) -> FileLock:
        """Held from a knowledge base's new tables to the kb.json that names them, and by the orphan sweep: another
        process (a second server, the command line) must not sweep them in between."""
        from filelock import FileLock  # at first write: listing does not need it

        return FileLock(str(self.kb_dir / ".tables.lock"))

    @cached_property
    def db(self) -> lancedb.DBConnection:
        import lancedb  # at first use: its import is most of the time of a command that only lists

        return lancedb.connect(self.location.tables, **self.location.connect)

    def list(self) -> list[KBInfo]:
        """From the kb.json files: listing opens no table."""
        infos = []
        for name in self.names():
            with self._lock:
                kb = self._open.get(name)
            try:
                infos.append(kb.info if kb else read_info(self.blobs.child(name), name))
            except FileNotFoundError:  # deleted meanwhile
                continue
        return infos

    def _listed_names(self) -> list[str]:
        """Names of the knowledge bases a person may be told about (read without the lock, for messages)."""
        listed = []
        for name in self.names():
            try:
                data = json.loads(self.blobs.child(name).read_text("kb.json"))
            except (OSError, ValueError):
                continue
            if visible(data.get("owner", legacy_owner(name))):
                listed.append(name)
        return listed

    def exists(self, name: str) -> bool:
        return self.blobs.child(check_kb_name(name)).exists("kb.json")

    def get(self, name: str) -> KnowledgeBase:
        from chatchat.retrieval.knowledge_base import KnowledgeBase

        folder = self._folder(name)
        key = folder.name
        with self._lock:
            if key in self._open:
                return self._open[key]
            blobs = self.blobs.child(key)
            try:
                info = read_info(blobs, key)
            except FileNotFoundError:
                known = ", ".join(self._listed_names()) or "none yet"
                raise NotFound(f"No knowledge base named '{name}'. Existing: {known}.", key="kb_not_found_known",
                               name=name, known=known) from None
            folder.mkdir(parents=True, exist_ok=True)
            kb = KnowledgeBase(self.db, blobs, folder, info, self.index_threshold)
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
        from chatchat.retrieval.chunks import chunk_schema
        from chatchat.retrieval.registry import DOC_SCHEMA

        folder = self._folder(name)
        if chunk_overlap >= chunk_size:
            raise InvalidName(f"Chunk overlap ({chunk_overlap}) must be smaller than chunk size ({chunk_size}).",
                              key="overlap_too_large", overlap=chunk_overlap, size=chunk_size)
        with self._tables_lock, self._lock:  # this order everywhere (the sweep reads kb.json under both)
            blobs = self.blobs.child(folder.name)
            if blobs.exists("kb.json"):
                raise AlreadyExists(f"A knowledge base named '{folder.name}' already exists.", key="kb_exists",
                                    name=folder.name)
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
            self.db.create_table(f"{info.table_id}_chunks", schema=chunk_schema(dim))
            self.db.create_table(f"{info.table_id}_docs", schema=DOC_SCHEMA)
            write_info(blobs, info)  # the knowledge base exists from this moment
            return info

    def delete(self, name: str) -> None:
        kb = self.get(name)
        with kb.writing():
            kb.blobs.delete("kb.json")
            with self._lock:
                self._open.pop(kb.folder.name, None)
            for suffix in ("_chunks", "_docs"):
                self.db.drop_table(f"{kb.info.table_id}{suffix}", ignore_missing=True)
        kb.blobs.delete_tree()
        shutil.rmtree(kb.folder, ignore_errors=True)  # the local folder (on object storage: its cache)

    def switch_embedding(self, name: str, embedding: str, dim: int) -> KBInfo:
        """Give a knowledge base another embedding model: new, empty tables for its chunks and documents
        (vectors of another model cannot share a table). The kept originals stay, for the rebuild that must
        follow; the old tables go once kb.json names the new ones (a crash in between leaves only orphans,
        which drop_orphan_tables removes)."""
        from chatchat.retrieval.chunks import chunk_schema
        from chatchat.retrieval.registry import DOC_SCHEMA

        kb = self.get(name)
        with kb.writing():
            old = kb.info.table_id
            table_id = "kb_" + uuid.uuid4().hex
            info = KBInfo(**{**asdict(kb.info), "embedding": embedding, "dim": dim, "table_id": table_id})
            with self._tables_lock:
                self.db.create_table(f"{info.table_id}_chunks", schema=chunk_schema(dim))
                self.db.create_table(f"{info.table_id}_docs", schema=DOC_SCHEMA)
                write_info(kb.blobs, info)
            with self._lock:
                self._open.pop(kb.folder.name, None)
            for suffix in ("_chunks", "_docs"):
                self.db.drop_table(f"{old}{suffix}", ignore_missing=True)
        return info

    def drop_orphan_tables(self) -> None:
        """Tables whose knowledge base is gone (a crash during create, delete or an embedding switch)."""
        with self._tables_lock:
            tables = self.db.list_tables().tables
            live = {info.table_id for info in self.list()}
            for table in tables:
                if table.startswith("kb_") and table.rsplit("_", 1)[0] not in live:
                    self.db.drop_table(table, ignore_missing=True)
