"""Knowledge-base routes: /api/knowledge_bases/… — create, list, delete, rebuild, upload, documents,
chunks, search. Thin: each calls one Services method."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from chatchat.api.deps import document_name, get_services
from chatchat.api.errors import ApiError
from chatchat.api.schemas import (
    CreateKnowledgeBase,
    Deleted,
    DocumentList,
    DocumentOut,
    HitList,
    HitOut,
    IngestResults,
    KnowledgeBaseList,
    KnowledgeBaseOut,
    SearchRequest,
)
from chatchat.api.uploads import receive_form
from chatchat.errors import NotFound
from chatchat.ingest.job import FileResult
from chatchat.service import Services
from chatchat.store import KBInfo

router = APIRouter(prefix="/api/knowledge_bases", tags=["Knowledge bases"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                  "description": "one or more documents; each up to settings.max_upload_mb"},
                    },
                }
            }
        },
    }
}


def kb_out(info: KBInfo) -> KnowledgeBaseOut:
    return KnowledgeBaseOut(**{k: v for k, v in asdict(info).items() if k in KnowledgeBaseOut.model_fields})


def results_out(kb: str, results: list[FileResult]) -> IngestResults:
    return IngestResults(knowledge_base=kb, results=[asdict(r) for r in results])


@router.get("", response_model=KnowledgeBaseList, summary="List knowledge bases")
def list_knowledge_bases(services: Services = Depends(get_services)) -> KnowledgeBaseList:
    return KnowledgeBaseList(data=[kb_out(info) for info in services.list_kbs()])


@router.post("", response_model=KnowledgeBaseOut, status_code=201, summary="Create a knowledge base")
def create_knowledge_base(body: CreateKnowledgeBase, services: Services = Depends(get_services)) -> KnowledgeBaseOut:
    info = services.create_kb(body.name, body.description, body.embedding, body.chunk_size, body.chunk_overlap)
    return kb_out(info)


@router.get("/{name}", response_model=KnowledgeBaseOut, summary="Describe a knowledge base")
def get_knowledge_base(name: str, services: Services = Depends(get_services)) -> KnowledgeBaseOut:
    return kb_out(services.kb_info(name))


@router.delete("/{name}", response_model=Deleted, summary="Delete a knowledge base, its documents and originals")
def delete_knowledge_base(name: str, services: Services = Depends(get_services)) -> Deleted:
    info = services.kb_info(name)
    services.delete_kb(info.name)
    return Deleted(id=info.name, object="knowledge_base")


@router.post("/{name}/rebuild", response_model=IngestResults, summary="Re-parse, re-split and re-embed every kept original")
def rebuild_knowledge_base(name: str, services: Services = Depends(get_services)) -> IngestResults:
    info = services.kb_info(name)
    return results_out(info.name, services.rebuild_kb(info.name))


@router.get("/{name}/documents", response_model=DocumentList, summary="List documents")
def list_documents(name: str, services: Services = Depends(get_services)) -> DocumentList:
    return DocumentList(data=[DocumentOut(**asdict(d)) for d in services.documents(name)])


@router.post(
    "/{name}/documents",
    response_model=IngestResults,
    summary="Upload documents (multipart, many at once); one result per file",
    openapi_extra=UPLOAD_BODY,
)
async def upload_documents(name: str, request: Request) -> IngestResults:
    services = get_services(request)
    info = await run_in_threadpool(services.kb_info, name)  # an unknown name fails before the upload is read
    form = await receive_form(request, services.settings.home, services.settings.max_upload_mb * 2**20)
    try:
        if not form.files:
            raise ApiError("No files in the upload: send them as multipart parts named 'files'.", param="files", code="missing_field")
        results = await run_in_threadpool(
            services.add_files, info.name, [f.path for f in form.files], [f.name for f in form.files]
        )
    finally:
        form.discard()
    return results_out(info.name, results)


@router.delete("/{name}/documents/{file}", response_model=Deleted, summary="Delete a document")
def delete_document(name: str, file: str, services: Services = Depends(get_services)) -> Deleted:
    file = document_name(file)
    services.remove_document(name, file)
    return Deleted(id=file, object="document")


@router.get("/{name}/documents/{file}/chunks", response_model=HitList, summary="A document's chunks, in order")
def document_chunks(name: str, file: str, services: Services = Depends(get_services)) -> HitList:
    return HitList(data=[HitOut(**asdict(h)) for h in services.chunks(name, document_name(file))])


@router.get(
    "/{name}/documents/{file}/original",
    response_class=FileResponse,
    summary="Download the kept original of a document",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def document_original(name: str, file: str, services: Services = Depends(get_services)) -> FileResponse:
    file = document_name(file)
    original: Path = services.store.get(name).files_dir / file
    if not original.is_file():
        raise NotFound(f"No original of '{file}' is kept in knowledge base '{name}'.")
    return FileResponse(original, filename=file)


@router.post("/{name}/search", response_model=HitList, summary="Search: top-k, threshold, hybrid / vector / full-text")
def search(name: str, body: SearchRequest, services: Services = Depends(get_services)) -> HitList:
    files = [document_name(f, "files") for f in body.files] if body.files else None
    hits = services.search(name, body.query, body.top_k, body.score_threshold, body.mode, files)
    return HitList(data=[HitOut(**asdict(h)) for h in hits])
