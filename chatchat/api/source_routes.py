"""The preview a source's `preview_url` opens (chatchat.answer.links), on the same server and behind the
same API key as every route: the PDF page as a PNG with the passage highlighted, else a small HTML page
(chatchat.answer.preview). A preview names the document version it cites (doc_id): a document deleted or
replaced since answers 404. A file chat's sources are previewed for a caller who may open that conversation
(deps.cited_document)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from chatchat.answer.links import source_links
from chatchat.answer.preview import HTML, HTML_POLICY, PNG, View, preview
from chatchat.api.deps import cited_document, get_services
from chatchat.api.kb_routes import KB, Doc
from chatchat.service import Services

router = APIRouter(tags=["Sources"])


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
    name, file = cited_document(services, name, file)
    original, _ = source_links(name, file, None, None, None)
    shown = preview(services, name, file, chunk, doc_id, view, original)
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if shown.media_type == HTML:
        headers["Content-Security-Policy"] = HTML_POLICY
    else:
        headers["X-Chatchat-Highlight"] = shown.note or ""
    return Response(shown.content, media_type=shown.media_type, headers=headers)
