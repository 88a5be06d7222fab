"""Where a cited source opens: the paths of its original and of its preview on this server
(chatchat.api.source_routes serves the preview; the original is the knowledge-base route's)."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote, urlencode

DOCUMENT = "/api/knowledge_bases/{kb}/documents/{file}"


def document_path(kb: str, file: str) -> str:
    return DOCUMENT.format(kb=quote(kb, safe=""), file=quote(file, safe="/"))


def source_links(kb: str, file: str, page: int | None, doc_id: str | None, chunk_index: int | None,
                 base: str = "") -> tuple[str, str | None]:
    """(url, preview_url) of a cited passage of a knowledge base: the kept original (a PDF's with
    `#page=N`, where a browser's viewer opens it) and the passage's preview for the version `doc_id`
    cites (None without a chunk number). `base`: the server's address; '' gives paths on this server."""
    documents = base.rstrip("/") + document_path(kb, file)
    url = documents + "/original"
    if page is not None and PurePosixPath(file).suffix.lower() == ".pdf":
        url += f"#page={page}"
    if chunk_index is None:
        return url, None
    query = {"chunk": chunk_index, **({"doc_id": doc_id} if doc_id else {})}
    return url, f"{documents}/preview?{urlencode(query)}"
