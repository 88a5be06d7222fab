"""Knowledge-base routes: /api/knowledge_bases/… — create, list, delete, rebuild, upload, documents,
chunks, search. Thin: each calls one Services method."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import PurePosixPath

from typing import Annotated

from fastapi import APIRouter, Depends, Path as PathParam, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from chatchat.api.deps import cited_document, get_services, kb_document, known_kb, listed_kbs, may_create_kb
from chatchat.api.schemas import (
    KB_NAME_HELP,
    KB_NAME_PATTERN,
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
from chatchat.api.uploads import upload_body, uploaded_files
from chatchat.ingest.job import FileResult
from chatchat.service import Services
from chatchat.retrieval.kb_info import KBInfo

router = APIRouter(prefix="/api/knowledge_bases", tags=["Knowledge bases"])
KB = Annotated[str, PathParam(pattern=KB_NAME_PATTERN, description=KB_NAME_HELP, examples=["samples"])]
Doc = Annotated[str, PathParam(min_length=1, max_length=255, description="a document's name, as listed (it may hold a sub-path: wiki/Home.md)")]

def kb_out(info: KBInfo) -> KnowledgeBaseOut:
    return KnowledgeBaseOut(**{k: v for k, v in asdict(info).items() if k in KnowledgeBaseOut.model_fields})


def results_out(kb: str, results: list[FileResult]) -> IngestResults:
    return IngestResults(knowledge_base=kb, results=[asdict(r) for r in results])


@router.get("", response_model=KnowledgeBaseList, summary="List knowledge bases")
def list_knowledge_bases(services: Services = Depends(get_services)) -> KnowledgeBaseList:
    return KnowledgeBaseList(data=[kb_out(info) for info in listed_kbs(services)])


@router.post("", response_model=KnowledgeBaseOut, status_code=201, summary="Create a knowledge base")
def create_knowledge_base(body: CreateKnowledgeBase, services: Services = Depends(get_services)) -> KnowledgeBaseOut:
    may_create_kb(services)
    overlap = body.chunk_overlap
    if overlap is None and body.chunk_size is not None and services.settings.chunk_overlap >= body.chunk_size:
        overlap = body.chunk_size // 5  # the default overlap does not fit this small chunk size
    info = services.create_kb(body.name, body.description, body.embedding, body.chunk_size, overlap)
    return kb_out(info)


@router.get("/{name}", response_model=KnowledgeBaseOut, summary="Describe a knowledge base")
def get_knowledge_base(name: KB, services: Services = Depends(get_services)) -> KnowledgeBaseOut:
    return kb_out(services.kb_info(known_kb(services, name)))


@router.delete("/{name}", response_model=Deleted, summary="Delete a knowledge base, its documents and originals")
def delete_knowledge_base(name: KB, services: Services = Depends(get_services)) -> Deleted:
    name = known_kb(services, name, write=True)
    services.delete_kb(name)
    return Deleted(id=name, object="knowledge_base")


@router.post("/{name}/rebuild", response_model=IngestResults, summary="Re-parse, re-split and re-embed every kept original")
def rebuild_knowledge_base(name: KB, services: Services = Depends(get_services)) -> IngestResults:
    name = known_kb(services, name, write=True)
    return results_out(name, services.rebuild_kb(name))


@router.get("/{name}/documents", response_model=DocumentList, summary="List documents")
def list_documents(name: KB, services: Services = Depends(get_services)) -> DocumentList:
    return DocumentList(data=[DocumentOut(**asdict(d)) for d in services.documents(known_kb(services, name))])


@router.post(
    "/{name}/documents",
    response_model=IngestResults,
    summary="Upload documents (multipart, many at once); one result per file",
    openapi_extra=upload_body(),
)
async def upload_documents(name: KB, request: Request) -> IngestResults:
    services = get_services(request)
    name = await run_in_threadpool(known_kb, services, name, True)  # an unknown name fails before the upload is read
    async with uploaded_files(request, services.settings) as form:
        results = await run_in_threadpool(
            services.add_files, name, [f.path for f in form.files], [f.name for f in form.files]
        )
    return results_out(name, results)


@router.delete("/{name}/documents/{file:path}", response_model=Deleted, summary="Delete a document")
def delete_document(name: KB, file: Doc, services: Services = Depends(get_services)) -> Deleted:
    name, file = kb_document(services, name, file, write=True)
    services.remove_document(name, file)
    return Deleted(id=file, object="document")


@router.get("/{name}/documents/{file:path}/chunks", response_model=HitList, summary="A document's chunks, in order")
def document_chunks(name: KB, file: Doc, services: Services = Depends(get_services)) -> HitList:
    return HitList(data=[HitOut(**asdict(h)) for h in services.chunks(*kb_document(services, name, file))])


@router.get(
    "/{name}/documents/{file:path}/original",
    response_class=FileResponse,
    summary="Download the kept original of a document",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def document_original(name: KB, file: Doc, services: Services = Depends(get_services)) -> FileResponse:
    name, file = cited_document(services, name, file)
    # a PDF inline, so that a source's url (…/original#page=N) opens in the browser's viewer at its page
    inline = PurePosixPath(file).suffix.lower() == ".pdf"
    return FileResponse(services.original(name, file), filename=PurePosixPath(file).name,
                        content_disposition_type="inline" if inline else "attachment")


@router.post("/{name}/search", response_model=HitList, summary="Search: top-k, threshold, hybrid / vector / full-text")
def search(name: KB, body: SearchRequest, services: Services = Depends(get_services)) -> HitList:
    names = [known_kb(services, kb) for kb in [name, *(body.knowledge_bases or [])]]
    hits = services.search_many(names, body.query, body.top_k, body.score_threshold, body.mode, body.files or None)
    return HitList(data=[HitOut(**asdict(h)) for h in hits])
