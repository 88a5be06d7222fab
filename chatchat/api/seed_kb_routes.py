"""Langchain-Chatchat 0.2.x knowledge-base routes, same paths and shapes (BaseResponse {"code", "msg",
"data"}), so scripts and the seed's `ApiRequest` keep working: /knowledge_base/…. Where the seed's own
tests check a message, it is the seed's text. docs/API.md lists what each maps to and what differs."""

from __future__ import annotations

import re
import threading
from pathlib import PurePosixPath
from typing import Annotated, AsyncIterator, Iterator

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import Field

from chatchat.answer.links import source_links
from chatchat.api.deps import get_services, kb_document, known_kb, listed_kbs, may_create_kb
from chatchat.api.errors import ApiError, error_payload
from chatchat.api.schemas import KB_NAME_HELP, KB_NAME_PATTERN
from chatchat.api.seed_common import STREAM_RESPONSE, distance_to_cosine, failed_files, form_bool
from chatchat.api.seed_schemas import (
    BaseResponse,
    ListResponse,
    SeedCreateKB,
    SeedDocument,
    SeedFiles,
    SeedKBName,
    SeedRecreate,
    SeedSearch,
    SeedUpdateById,
    SeedUpdateInfo,
)
from chatchat.api.streams import ThreadedStream, sse, sse_response
from chatchat.api.uploads import upload_body, uploaded_files
from chatchat.ingest.docnames import safe_file_name
from chatchat.errors import AlreadyExists, ChatchatError, InvalidName, NotFound
from chatchat.ingest.job import FileResult, Progress
from chatchat.jobs import Job
from chatchat.service import Services
from chatchat.retrieval.chunks import Hit

router = APIRouter(tags=["Langchain-Chatchat 0.2.x compatible"])


UPLOAD_BODY = upload_body({
    "knowledge_base_name": {"type": "string", "pattern": KB_NAME_PATTERN, "description": KB_NAME_HELP},
    "override": {"type": "boolean", "default": False,
                 "description": "replace documents of the same name (else they are reported as existing)"},
    "to_vector_store": {"type": "boolean", "enum": [True], "default": True,
                        "description": "only true: uploaded files are always ingested"},
}, ["knowledge_base_name"])
MAX_ID_CHARS = 64
TEMP_UPLOAD_BODY = upload_body({
    "prev_id": {"type": "string", "maxLength": MAX_ID_CHARS, "description": "add to this earlier upload's files (its id)"},
    "knowledge_id": {"type": "string", "maxLength": MAX_ID_CHARS, "description": "the same as prev_id (what ApiRequest sends)"},
})


# --- knowledge bases ----------------------------------------------------------------------------
@router.get("/knowledge_base/list_knowledge_bases", response_model=ListResponse, summary="获取知识库列表 (list knowledge bases)")
def list_knowledge_bases(services: Services = Depends(get_services)) -> ListResponse:
    return ListResponse(data=[info.name for info in listed_kbs(services)])


@router.post("/knowledge_base/create_knowledge_base", response_model=BaseResponse, summary="创建知识库 (create)")
def create_knowledge_base(body: SeedCreateKB, services: Services = Depends(get_services)) -> BaseResponse:
    name = body.knowledge_base_name.strip()
    if not name:
        raise ApiError("知识库名称不能为空，请重新填写知识库名称", status=404, code="missing_name", param="knowledge_base_name")
    may_create_kb(services)
    try:
        info = services.create_kb(name, body.kb_info, body.embed_model)
    except AlreadyExists as exc:
        raise ApiError(f"已存在同名知识库 {name}", status=404, code=exc.code, param="knowledge_base_name") from exc
    return BaseResponse(msg=f"已新增知识库 {info.name}")


@router.post("/knowledge_base/delete_knowledge_base", response_model=BaseResponse, summary="删除知识库 (delete)")
def delete_knowledge_base(
    knowledge_base_name: Annotated[str, Field(pattern=KB_NAME_PATTERN)] | SeedKBName = Body(
        ..., description='the name as a JSON string ("samples"), as the seed sends it, or {"knowledge_base_name": …}'
    ),
    services: Services = Depends(get_services),
) -> BaseResponse:
    name = knowledge_base_name if isinstance(knowledge_base_name, str) else knowledge_base_name.knowledge_base_name
    name = known_kb(services, name, write=True)
    services.delete_kb(name)
    return BaseResponse(msg=f"成功删除知识库 {name}")


@router.post("/knowledge_base/update_info", response_model=BaseResponse, summary="更新知识库介绍 (set the description)")
def update_info(body: SeedUpdateInfo, services: Services = Depends(get_services)) -> BaseResponse:
    name = known_kb(services, body.knowledge_base_name, write=True)
    info = services.set_kb_description(name, body.kb_info)
    return BaseResponse(msg="知识库介绍修改完成", data={"kb_info": info.description})


@router.get("/knowledge_base/list_files", response_model=ListResponse, summary="获取知识库内的文件列表 (list files)")
def list_files(
    knowledge_base_name: str = Query(..., pattern=KB_NAME_PATTERN, description=KB_NAME_HELP), services: Services = Depends(get_services)
) -> ListResponse:
    documents = services.documents(known_kb(services, knowledge_base_name))
    files = dict.fromkeys(d.file for d in documents if d.status != "deleting")
    return ListResponse(data=list(files))


@router.post("/knowledge_base/search_docs", response_model=list[SeedDocument], summary="搜索知识库 (search, or list chunks)")
def search_docs(body: SeedSearch, services: Services = Depends(get_services)) -> list[SeedDocument]:
    try:
        kb = known_kb(services, body.knowledge_base_name)
    except (NotFound, InvalidName):
        return []  # the seed's answer for a knowledge base it does not know
    if body.query.strip():
        hits = services.search(kb, body.query, body.top_k, distance_to_cosine(body.score_threshold))
        return [_seed_document(h, round(1.0 - h.score, 4)) for h in hits]
    if not (body.file_name or body.metadata):
        return []
    pattern = _like(body.file_name) if body.file_name else None
    names = [d.file for d in services.documents(kb) if d.status == "ready" and (pattern is None or pattern.fullmatch(d.file))]
    documents = [_seed_document(h, 0.0) for name in names for h in services.chunks(kb, name)]
    return [d for d in documents if all(d.metadata.get(k) == v for k, v in body.metadata.items())]


def _like(pattern: str) -> re.Pattern:
    """SQL LIKE, as the seed's file_name filter: % is any text, _ one character."""
    return re.compile("".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern), re.DOTALL)


def _seed_document(hit: Hit, score: float) -> SeedDocument:
    url, preview_url = source_links(hit.kb, hit.file, hit.page, hit.doc_id, hit.chunk_index)
    metadata = {"source": hit.file, "page": hit.page, "section": hit.section, "doc_id": hit.doc_id, "chunk_index": hit.chunk_index,
                "url": url, "preview_url": preview_url}
    return SeedDocument(page_content=hit.text, metadata=metadata, id=f"{hit.doc_id}:{hit.chunk_index}", score=score)


@router.post("/knowledge_base/update_docs_by_id", response_model=BaseResponse, summary="按ID更新文档内容 (replace chunks' text)")
def update_docs_by_id(body: SeedUpdateById, services: Services = Depends(get_services)) -> BaseResponse:
    kb = known_kb(services, body.knowledge_base_name, write=True)
    missing = services.update_chunks(kb, {chunk_id: doc.page_content for chunk_id, doc in body.docs.items()})
    if missing:
        return BaseResponse(msg=f"文档更新失败：知识库 {kb} 中没有这些 id：{', '.join(missing)}",
                            data={"failed_ids": missing})
    return BaseResponse(msg="文档更新成功", data={"failed_ids": []})


@router.post("/knowledge_base/upload_docs", response_model=BaseResponse, openapi_extra=UPLOAD_BODY,
             summary="上传文件到知识库并向量化 (upload; per-file failures in data.failed_files)")
async def upload_docs(request: Request) -> BaseResponse:
    services = get_services(request)
    async with uploaded_files(request, services.settings) as form:
        name = form.fields.get("knowledge_base_name", "").strip()
        if not name:
            raise ApiError("Form field 'knowledge_base_name' is required.", param="knowledge_base_name", code="missing_field")
        override = form_bool(form.fields, "override", False)
        if not form_bool(form.fields, "to_vector_store", True):
            raise ApiError("to_vector_store=false is not supported: uploaded files are always ingested.", param="to_vector_store")
        kb = await run_in_threadpool(known_kb, services, name, True)
        failed: dict[str, str] = {}
        uploads = form.files
        if not override:
            existing = {d.file for d in await run_in_threadpool(services.documents, kb)}
            uploads = []
            for upload in form.files:
                if (stored := _stored_name(upload.name)) in existing:
                    failed[stored] = f"文件 {stored} 已存在。"
                else:
                    uploads.append(upload)
        results = await run_in_threadpool(services.add_files, kb, [u.path for u in uploads], [u.name for u in uploads])
        failed.update(failed_files(results))
    return BaseResponse(msg="文件上传与向量化完成", data={"failed_files": failed})


def _stored_name(name: str) -> str | None:
    try:
        return safe_file_name(name)
    except InvalidName:
        return None


@router.post("/knowledge_base/upload_temp_docs", response_model=BaseResponse, openapi_extra=TEMP_UPLOAD_BODY,
             summary="上传文件用于文件对话 (files for /chat/file_chat; data.id is its knowledge_id)")
async def upload_temp_docs(request: Request) -> BaseResponse:
    """The files become a file chat: a conversation with its own internal knowledge base, as in the UI."""
    services = get_services(request)
    async with uploaded_files(request, services.settings) as form:
        previous = _id_field(form.fields, "prev_id") or _id_field(form.fields, "knowledge_id")
        conversation = await run_in_threadpool(_temp_conversation, services, previous)
        results = await run_in_threadpool(services.attach_files, conversation,
                                          [u.path for u in form.files], [u.name for u in form.files])
    return BaseResponse(msg="文件上传完成", data={"id": conversation, "failed_files": [{f: e} for f, e in failed_files(results).items()]})


def _id_field(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if len(value) > MAX_ID_CHARS:
        raise ApiError(f"Form field '{name}' is an id of at most {MAX_ID_CHARS} characters.", param=name)
    return value


def _temp_conversation(services: Services, previous: str) -> str:
    store = services.conversations
    if previous and store.exists(previous) and store.get(previous).mode == "file":
        return previous
    return store.create(mode="file").id


@router.post("/knowledge_base/delete_docs", response_model=BaseResponse, summary="删除知识库内指定文件 (delete files)")
def delete_docs(body: SeedFiles, services: Services = Depends(get_services)) -> BaseResponse:
    kb = known_kb(services, body.knowledge_base_name, write=True)
    failed: dict[str, str] = {}
    for file in body.file_names:
        try:
            services.remove_document(*kb_document(services, kb, file, "file_names"))
        except ChatchatError as exc:
            failed[file] = exc.message
    return BaseResponse(msg="文件删除完成", data={"failed_files": failed})


@router.post("/knowledge_base/update_docs", response_model=BaseResponse, summary="更新现有文件到知识库 (re-ingest files)")
def update_docs(body: SeedFiles, services: Services = Depends(get_services)) -> BaseResponse:
    kb = known_kb(services, body.knowledge_base_name, write=True)
    failed: dict[str, str] = {}
    for file in body.file_names:
        try:
            failed.update(failed_files([services.reingest(*kb_document(services, kb, file, "file_names"))]))
        except ChatchatError as exc:
            failed[file] = exc.message
    return BaseResponse(msg="更新文档完成", data={"failed_files": failed})


@router.get("/knowledge_base/download_doc", response_class=FileResponse, summary="下载知识文件 (download an original)",
            responses={200: {"content": {"application/octet-stream": {}}}})
def download_doc(
    knowledge_base_name: str = Query(..., pattern=KB_NAME_PATTERN, description=KB_NAME_HELP),
    file_name: str = Query(..., min_length=1, max_length=255),
    preview: bool = Query(False, description="inline (view in the browser) instead of a download"),
    services: Services = Depends(get_services),
) -> FileResponse:
    kb, file = kb_document(services, knowledge_base_name, file_name, "file_name")
    return FileResponse(services.original(kb, file), filename=PurePosixPath(file).name,
                        content_disposition_type="inline" if preview else "attachment")


@router.post("/knowledge_base/recreate_vector_store", responses=STREAM_RESPONSE,
             summary="重建向量库 (rebuild from the kept originals; streams progress)")
async def recreate_vector_store(body: SeedRecreate, request: Request):
    services = get_services(request)
    kb = await run_in_threadpool(known_kb, services, body.knowledge_base_name, True)
    stream = ThreadedStream(lambda cancel: _rebuild_events(services, kb, cancel), request)

    async def events() -> AsyncIterator[str]:
        async for item in stream.rest():
            yield sse(item)

    return sse_response(events())


def _rebuild_events(services: Services, kb: str, cancel: threading.Event) -> Iterator[dict]:
    """The rebuild runs in its own thread (chatchat.jobs); its progress comes back as seed-shaped dicts."""
    job: Job[Progress, list[FileResult]] = Job(
        lambda progress, stop: services.rebuild_kb(kb, progress=progress, cancel=stop), name=f"rebuild-{kb}", cancel=cancel
    )
    try:
        for item in job.events():
            if item.stage == "done":
                yield {"code": 200, "msg": f"({item.file_index + 1} / {item.file_count}): {item.file}",
                       "total": item.file_count, "finished": item.file_index + 1, "doc": item.file}
        try:
            results = job.result()
        except ChatchatError as exc:
            yield {"code": exc.status, "msg": exc.message, **error_payload(exc.status, exc.message, exc.code)}
            return
        for file, error in failed_files(results).items():
            yield {"code": 500, "msg": f"添加文件‘{file}’到知识库‘{kb}’时出错：{error}。已跳过。"}
    finally:
        cancel.set()  # a client that went away stops the rebuild at the next file boundary or batch
