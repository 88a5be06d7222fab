"""GGUF files: a check before any engine touches them, the header metadata, and chat templates.

Engines crash or print cryptic errors on a wrong file; these checks name the file and the fix.
"""

from __future__ import annotations

import mmap
import struct
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from chatchat.errors import ModelError

MAGIC = b"GGUF"
# value type id → struct format of one element (8 string, 9 array are handled apart)
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
# arrays kept in full; the others (vocab scores, merges...) are skipped over
_KEEP_ARRAYS = {"tokenizer.ggml.tokens"}


def check_gguf(model_id: str, path: Path, expected_size: int | None = None) -> None:
    """The file exists, is GGUF, and has the size the catalog records (when it records one)."""
    if not path.is_file():
        raise ModelError(f"Model '{model_id}': file {path} is missing. Reinstall it in the Models tab.")
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
    if head[:4] != MAGIC:
        raise ModelError(
            f"Model '{model_id}': {path.name} is not a GGUF file (it starts with {head[:4]!r}). "
            "Point the catalog entry at a .gguf file, or reinstall it."
        )
    if expected_size is not None and size != expected_size:
        raise ModelError(
            f"Model '{model_id}': {path.name} is {size} bytes but should be {expected_size} "
            "(truncated or a different file). Delete it and download it again in the Models tab."
        )


def read_metadata(path: Path) -> dict[str, Any]:
    """The key/value header of a GGUF v2/v3 file ("general.architecture", "tokenizer.chat_template"...)."""
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            return _parse(data)
        except (struct.error, IndexError, UnicodeDecodeError) as exc:
            raise ModelError(f"{path.name}: the GGUF header is cut short or damaged ({exc}). Reinstall it.") from exc


def _parse(data: mmap.mmap) -> dict[str, Any]:
    magic, version, _tensors, count = struct.unpack_from("<4sIQQ", data, 0)
    if magic != MAGIC or version < 2:
        raise ModelError(f"not a GGUF v2+ file (magic {magic!r}, version {version})")
    offset = 24
    metadata: dict[str, Any] = {}

    def string(at: int) -> tuple[str, int]:
        (length,) = struct.unpack_from("<Q", data, at)
        end = at + 8 + length
        if end > len(data):
            raise IndexError("string runs past the end of the file")
        return data[at + 8 : end].decode("utf-8"), end

    def value(kind: int, at: int, keep: bool) -> tuple[Any, int]:
        if kind == 8:
            return string(at)
        if kind in _SCALARS:
            fmt = "<" + _SCALARS[kind]
            return struct.unpack_from(fmt, data, at)[0], at + struct.calcsize(fmt)
        if kind == 9:
            item_kind, length = struct.unpack_from("<IQ", data, at)
            at += 12
            if item_kind in _SCALARS and not keep:
                return None, at + length * struct.calcsize(_SCALARS[item_kind])
            items = []
            for _ in range(length):
                item, at = value(item_kind, at, keep)
                if keep:
                    items.append(item)
            return (items if keep else None), at
        raise ModelError(f"unknown GGUF value type {kind}")

    for _ in range(count):
        key, offset = string(offset)
        (kind,) = struct.unpack_from("<I", data, offset)
        item, offset = value(kind, offset + 4, key in _KEEP_ARRAYS)
        if item is not None:
            metadata[key] = item
    return metadata


def render_chat(template: str, messages: Sequence[dict], bos_token: str = "", eos_token: str = "") -> str:
    """A prompt from a Hugging Face style Jinja chat template, rendered the way transformers does."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ModelError(f"The model's chat template refused the conversation: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    return env.from_string(template).render(
        messages=list(messages),
        bos_token=bos_token,
        eos_token=eos_token,
        add_generation_prompt=True,
        raise_exception=raise_exception,
        strftime_now=lambda fmt: datetime.now().strftime(fmt),
    )
