"""Where a cited source opens, on the same server and behind the same API key as every route: `url` is
the kept original (the PDF at its page: `#page=N`), `preview_url` the passage shown for a reader
(chatchat.answer.preview: the PDF page as a PNG with the passage highlighted, else a small HTML page).
A preview names the document version it cites (doc_id): a document deleted or replaced since answers 404."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from chatchat.answer.preview import HTML, HTML_POLICY, PNG, View, preview
from chatchat.api.deps import get_services, kb_document
from chatchat.api.kb_routes import KB, Doc
from chatchat.service import Services

router = APIRouter(tags=["Sources"])
DOCUMENTS = "/api/knowledge_bases/{kb}/documents/{file}"


def source_links(kb: str, file: str, page: int | None, doc_id: str | None, chunk_index: int | None,
                 base: str = "") -> tuple[str, str | None]:
    """(url, preview_url) of a cited passage: the original (a PDF's with `#page=N`) and its preview
    (None without a chunk number). `base`: the server's address ('' for paths on this server)."""
    documents = base.rstrip("/") + DOCUMENTS.format(kb=quote(kb, safe=""), file=quote(file, safe="/"))
    url = documents + "/original"
    if page is not None and PurePosixPath(file).suffix.lower() == ".pdf":
        url += f"#page={page}"
    if chunk_index is None:
        return url, None
    query = {"chunk": chunk_index, **({"doc_id": doc_id} if doc_id else {})}
    return url, f"{documents}/preview?{urlencode(query)}"


@router.get(
    "/api/knowledge_bases/{name}/documents/{file:path}/preview",
    response_class=Response,
    summary="A cited passage: its PDF page as a PNG with the passage highlighted, or an HTML page",
    responses={200: {"content": {PNG: {}, HTML.split(";")[0]: {}},
                     "description": "PNG (header X-Chatchat-Highlight: found, start, partial, scanned or not_found) or HTML"}},
)
def source_preview(
    name: KB,
    file: Doc,
    chunk: Annotated[int, Query(ge=0, le=10**7, description="the chunk number (a source's chunk_index)")],
    doc_id: Annotated[str | None, Query(max_length=64, description="the cited version: another one answers 404")] = None,
    view: Annotated[View, Query(description="auto: the page image for a PDF, else the passage page")] = "auto",
    services: Services = Depends(get_services),
) -> Response:
    name, file = kb_document(services, name, file)
    original, _ = source_links(name, file, None, None, None)
    shown = preview(services, name, file, chunk, doc_id, view, original)
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if shown.media_type == HTML:
        headers["Content-Security-Policy"] = HTML_POLICY
    else:
        headers["X-Chatchat-Highlight"] = shown.note or ""
    return Response(shown.content, media_type=shown.media_type, headers=headers)
