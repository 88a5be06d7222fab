"""Document names: the one rule for what a document is called and where its original is kept.

Every face (REST and seed API, UI, CLI) hands the name it got to the ingest job, and looks a document up
by the name a client sends, through `safe_file_name`; so one upload is one document whichever way it
came, and a name that upload accepted also deletes, updates and downloads it.

A name keeps the relative sub-path it was uploaded with (`wiki/Home.MD`, from a folder upload), and the
original is kept at that sub-path under the knowledge base's files folder. A name never leaves that
folder: an absolute path, a drive letter or a `..` part reduces it to its last part, and
`original_path` refuses any path that goes through a link.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from chatchat.errors import InvalidName
from chatchat.fs import is_incoming

MAX_PART_BYTES = 200  # one folder or file name; common file systems allow 255
MAX_NAME_CHARS = 255  # the whole name: it travels in URL paths and query strings
# Browsers (WHATWG HTML) and HTTP clients (httpx, urllib3) percent-escape these in multipart file names
# ('new\nline.txt' arrives as 'new%0Aline.txt'); undone here so every upload path yields the same name.
_FORM_ESCAPE = re.compile(r"%(0[0-9A-F]|1[0-9A-F]|22)", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")


def _visible(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()


def _part(text: str) -> str:
    text = _visible(text)
    # trailing dots and spaces are dropped by Windows; a part of dots only ('.', '..') names no file
    text = text.rstrip(". ")
    return "" if not text.strip(".") else text


def _shorten(part: str) -> str:
    while len(part.encode("utf-8")) > MAX_PART_BYTES:
        stem, dot, ext = part.rpartition(".")
        part = (stem[:-1] + dot + ext) if dot and stem else part[:-1]
    return part


def safe_file_name(name: str) -> str:
    """The name a document is kept and listed under, from the name a client sent: NFC-normalised, without
    control characters, `/` between its parts. Raises InvalidName when nothing usable is left."""
    text = _FORM_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), unicodedata.normalize("NFC", str(name)))
    text = text.replace("\\", "/")
    raw_parts = text.split("/")
    parts = [_shorten(p) for p in map(_part, raw_parts) if p]
    escapes = text.startswith("/") or _DRIVE.match(text) or any(_visible(p) == ".." for p in raw_parts)
    if escapes:
        parts = parts[-1:]
    while len(parts) > 1 and len("/".join(parts)) > MAX_NAME_CHARS:
        parts = parts[1:]  # deep folders: the innermost ones name the document best
    if not parts:
        raise InvalidName(f"{name!r} is not a usable file name.", key="ingest_name_unusable", name=name)
    return "/".join(parts)


def original_path(files_dir: Path, name: str) -> Path:
    """Where the original of document `name` is kept: `files_dir / name`, provided that no part of the way
    is a link, so that a link placed in the folder never sends a read or a write elsewhere.
    Raises InvalidName for a name that is not already safe, or a path through a link."""
    if not _is_safe(name):
        raise InvalidName(f"{name!r} is not a document name: names hold no '..', absolute paths or control characters.",
                          key="ingest_name_invalid", name=name)
    path = files_dir
    for part in name.split("/"):
        path = path / part
        if path.is_symlink():
            raise InvalidName(f"The original of '{name}' goes through a link ({path.name}); links are never followed.",
                              key="ingest_original_link", name=name, link=path.name)
    return path


def kept_files(files_dir: Path) -> list[str]:
    """The document names of the files kept under `files_dir`, sorted (files being written and names the
    sanitiser would not give are left out). Linked folders are not entered; a linked file is listed, for
    the ingest job to refuse when it leads out of the folder and to say so."""
    names = []
    for folder, dirs, files in os.walk(files_dir):  # os.walk does not descend into linked folders
        here = Path(folder)
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
        for file in files:
            path = here / file
            name = path.relative_to(files_dir).as_posix()
            if (path.is_symlink() or path.is_file()) and not is_incoming(path) and _is_safe(name):
                names.append(name)
    return sorted(names)


def _is_safe(name: str) -> bool:
    try:
        return safe_file_name(name) == name
    except InvalidName:
        return False
