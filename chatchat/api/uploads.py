"""Multipart uploads streamed straight to a temporary folder under the data dir.

Starlette's own form parsing spools files to the system temp dir (and small ones to memory); this
writes each file part to disk as it arrives, stops at the size limit, and never holds a file in memory.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import unquote

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from chatchat.api.errors import ApiError
from chatchat.config import Settings
from chatchat.errors import FileTooLarge

MAX_FILES = 256  # file parts in one request
MAX_FIELDS = 64  # other form fields
MAX_FIELD_BYTES = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024
STALE_SECONDS = 3600  # upload folders older than this are leftovers of a crash
_FILENAME_STAR = re.compile(rb"filename\*\s*=\s*([\w-]+)'[^']*'([^;\s]+)", re.IGNORECASE)


@dataclass
class Upload:
    name: str  # as the client sent it; reduced to a safe name by the ingest job
    path: Path
    size: int = 0


@dataclass
class ReceivedForm:
    folder: Path
    files: list[Upload] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def upload_body(fields: dict[str, dict] | None = None, required: list[str] | None = None) -> dict:
    """The OpenAPI request body (for `openapi_extra`) of an upload: the `files` parts, and `fields` beside
    them (JSON schemas by name), of which `required` must be sent."""
    files = {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1,
             "description": "one or more documents; each up to settings.max_upload_mb"}
    schema = {"type": "object", "required": ["files", *(required or [])], "properties": {"files": files, **(fields or {})}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


@asynccontextmanager
async def uploaded_files(request: Request, settings: Settings) -> AsyncIterator[ReceivedForm]:
    """`async with uploaded_files(request, settings) as form:` the upload's files (at least one) on disk
    and its other fields, for the block; removed after it, however it ends."""
    form = await receive_form(request, settings.home, settings.max_upload_mb * 2**20)
    try:
        if not form.files:
            raise ApiError("No files in the upload: send them as multipart parts named 'files'.", param="files", code="missing_field")
        yield form
    finally:
        form.discard()


def uploads_dir(home: Path) -> Path:
    return home / "tmp" / "uploads"


def clean_stale_uploads(home: Path) -> None:
    root = uploads_dir(home)
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if time.time() - folder.stat().st_mtime > STALE_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)


def _filename(disposition: bytes, options: dict[bytes, bytes]) -> str | None:
    """RFC 5987 `filename*=utf-8''…` (what requests sends for non-ASCII names) wins over `filename`."""
    star = _FILENAME_STAR.search(disposition)
    if star:
        return unquote(star.group(2).decode("ascii", "replace"), encoding=star.group(1).decode() or "utf-8", errors="replace")
    if b"filename" in options:
        return options[b"filename"].decode("utf-8", "replace")
    return None


class _Receiver:
    """Callbacks of python-multipart's push parser: one part at a time, file bodies go to disk."""

    def __init__(self, form: ReceivedForm, file_field: str, max_bytes: int):
        self.form = form
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.header_bytes = 0
        self.upload: Upload | None = None
        self.handle = None
        self.field_name: str | None = None
        self.field_value = bytearray()
        self.ended = False

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self.headers = {}
        self.header_bytes = 0
        self.upload = None
        self.field_name = None
        self.field_value = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]
        self._count(end - start)

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]
        self._count(end - start)

    def _count(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > MAX_HEADER_BYTES:
            raise ApiError("A multipart part has oversized headers.", code="invalid_multipart")

    def on_header_end(self) -> None:
        self.headers[self.header_field.lower()] = self.header_value
        self.header_field = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        disposition = self.headers.get(b"content-disposition", b"")
        kind, options = parse_options_header(disposition)
        if kind != b"form-data" or b"name" not in options:
            raise ApiError("Each multipart part needs a Content-Disposition: form-data header with a name.", code="invalid_multipart")
        name = options[b"name"].decode("utf-8", "replace")
        filename = _filename(disposition, options)
        if filename is None:
            if len(self.form.fields) >= MAX_FIELDS:
                raise ApiError(f"Too many form fields (the limit is {MAX_FIELDS}).", code="invalid_multipart")
            self.field_name = name
            return
        if name != self.file_field:
            raise ApiError(f"Files go in the form field '{self.file_field}', not '{name}'.", code="invalid_multipart", param=name)
        if len(self.form.files) >= MAX_FILES:
            raise ApiError(f"Too many files in one request (the limit is {MAX_FILES}).", code="too_many_files", param=name)
        path = self.form.folder / f"{len(self.form.files):04d}.part"
        self.upload = Upload(filename, path)
        self.form.files.append(self.upload)
        self.handle = open(path, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.upload is None:
            self.field_value += data[start:end]
            if len(self.field_value) > MAX_FIELD_BYTES:
                raise ApiError(f"Form field '{self.field_name}' is over {MAX_FIELD_BYTES // 1024} KB.", param=self.field_name)
            return
        self.upload.size += end - start
        if self.upload.size > self.max_bytes:
            raise FileTooLarge(
                f"'{self.upload.name}' is over the upload limit of {self.max_bytes / 2**20:.0f} MB "
                "(setting max_upload_mb); nothing was stored."
            )
        self.handle.write(data[start:end])

    def on_part_end(self) -> None:
        if self.upload is not None:
            self.handle.close()
            self.handle = None
        elif self.field_name is not None:
            self.form.fields[self.field_name] = self.field_value.decode("utf-8", "replace")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


async def receive_form(request: Request, home: Path, max_bytes: int, file_field: str = "files") -> ReceivedForm:
    """Read a multipart/form-data body: files to disk under the data dir, other fields as text.
    The caller must `discard()` the result when done. Raises ApiError / FileTooLarge (413)."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ApiError("Send the files as multipart/form-data (a form with one or more 'files' parts).",
                       status=415 if content_type != b"multipart/form-data" else 400, code="invalid_multipart")
    folder = uploads_dir(home) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    form = ReceivedForm(folder)
    receiver = _Receiver(form, file_field, max_bytes)
    callbacks = {name: getattr(receiver, name) for name in (
        "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value",
        "on_header_end", "on_headers_finished", "on_end")}
    parser = MultipartParser(boundary, callbacks)
    stream = request.stream()
    try:
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
        if not receiver.ended:
            raise ApiError("The multipart body is cut short (no closing boundary).", code="invalid_multipart")
    except Exception as exc:
        receiver.close()
        form.discard()
        if isinstance(exc, FileTooLarge):
            await _drain(stream, max_bytes)
        if isinstance(exc, (ApiError, FileTooLarge)):
            raise
        # python-multipart raises its own errors on malformed bodies
        raise ApiError(f"The multipart body is malformed: {exc}", code="invalid_multipart") from exc
    return form


async def _drain(stream, limit: int) -> None:
    """Read (and drop) the rest of an over-limit body, up to `limit` more bytes, so that the client
    gets to read the 413 instead of a connection reset while it is still sending."""
    drained = 0
    async for chunk in stream:
        drained += len(chunk)
        if drained > limit:
            return
