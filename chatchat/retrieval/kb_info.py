"""A knowledge base's description, kb.json (kept in its blobs, chatchat.retrieval.blobs): name, embedding model, chunking, owner, tables."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from chatchat.errors import InvalidName
from chatchat.policy import legacy_owner
from chatchat.retrieval.blobs import Blobs

MAX_NAME = 64


@dataclass
class KBInfo:
    name: str
    description: str
    embedding: str
    dim: int
    chunk_size: int
    chunk_overlap: int
    title_enhance: bool
    created: str
    table_id: str
    owner: str = ""  # '' for a person's own; else what internal use it serves (chatchat.policy)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_kb_name(name: str) -> str:
    """Knowledge-base names are shown to users and used as folder names: letters of any script,
    digits, `_ - .` and spaces inside, 1–64 characters, not starting with a dot."""
    if not isinstance(name, str):
        raise InvalidName("A knowledge-base name must be text.", key="kb_name_type")
    cleaned = unicodedata.normalize("NFC", name.strip())
    bad = [ch for ch in cleaned if not (ch.isalnum() or ch in "_-. ")]
    if not cleaned or len(cleaned) > MAX_NAME or cleaned.startswith(".") or bad:
        chars = repr("".join(sorted(set(bad))))
        detail = f" (it contains {chars})" if bad else ""
        raise InvalidName(
            f"'{name}' is not a valid knowledge-base name{detail}: use 1–{MAX_NAME} letters (any language), "
            "digits, spaces, '_', '-' or '.', not starting with '.'.",
            key="kb_name_chars" if bad else "kb_name_invalid", name=name, max=MAX_NAME, chars=chars,
        )
    return cleaned


def read_info(blobs: Blobs, name: str) -> KBInfo:
    """The kb.json of knowledge base `name` in its blobs; FileNotFoundError when there is none."""
    data = json.loads(blobs.read_text("kb.json"))
    info = KBInfo(**{"owner": legacy_owner(name), **data})
    if "owner" not in data:  # made before owners were recorded: recognised once, then stored
        write_info(blobs, info)
    return info


def write_info(blobs: Blobs, info: KBInfo) -> None:
    blobs.write_text("kb.json", json.dumps(asdict(info), ensure_ascii=False, indent=2))
