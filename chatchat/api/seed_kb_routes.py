"""Langchain-Chatchat 0.2.x routes, same paths and shapes, so scripts written for it keep working:
/knowledge_base/… (BaseResponse {"code", "msg", "data"}) and /chat/chat, /chat/knowledge_base_chat
(server-sent events of JSON objects). docs/API.md lists what each maps to and what differs."""

from __future__ import annotations

import queue
import threading
import uuid
from dataclasses import asdict
from typing import Annotated, AsyncIterator, Iterator
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import Field

from chatchat.api.chat import ChatJob, answer_events, check
from chatchat.api.chat_schemas import SeedChat, SeedKBChat
from chatchat.api.deps import get_services, kb_document, known_kb, listed_kbs, may_create_kb
from chatchat.api.errors import ApiError, error_payload
from chatchat.api.schemas import (
    KB_NAME_HELP,
    KB_NAME_PATTERN,
    BaseResponse,
    ListResponse,
    SeedCreateKB,
    SeedDocument,
    SeedFiles,
    SeedKBName,
    SeedRecreate,
    SeedSearch,
)
from chatchat.api.streams import ThreadedStream, sse, sse_response
from chatchat.api.uploads import receive_form
from chatchat.errors import ChatchatError, NotFound
from chatchat.ingest.job import FileResult, Progress, safe_file_name
from chatchat.rag import AnswerEvent, Source
from chatchat.service import Services
from chatchat.store import Hit

router = APIRouter(tags=["Langchain-Chatchat 0.2.x compatible"])
STREAM_RESPONSE = {200: {"description": "text/event-stream of JSON objects", "content": {"text/event-stream": {"schema": {"type": "string"}}}}}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files", "knowledge_base_name"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1},
                        "knowledge_base_name": {"type": "string", "pattern": KB_NAME_PATTERN, "description": KB_NAME_HELP},
                        "override": {"type": "boolean", "default": False,
                                     "description": "replace documents of the same name (else they are reported as existing)"},
                        "to_vector_store": {"type": "boolean", "enum": [True], "default": True,
                                            "description": "only true: uploaded files are always ingested"},
                    },
                }
            }
        },
    }
}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _distance_to_cosine(threshold: float | None) -> float | None:
    """The seed's score_threshold is a distance (lower = closer, 2 keeps all); ours a minimum cosine."""
    return None if threshold is None else 1.0 - threshold


def _form_bool(fields: dict[str, str], name: str, default: bool) -> bool:
    value = fields.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ApiError(f"Form field '{name}' must be true or false (got {value!r}).", param=name)


def _failed(results: list[FileResult]) -> dict[str, str]:
    return {r.file: r.error or r.status for r in results if r.status in ("failed", "cancelled")}


# --- knowledge bases ----------------------------------------------------------------------------
@router.get("/knowledge_base/list_knowledge_bases", response_model=ListResponse, summary="获取知识库列表 (list knowledge bases)")
def list_knowledge_bases(services: Services = Depends(get_services)) -> ListResponse:
    return ListResponse(data=[info.name for info in listed_kbs(services)])


@router.post("/knowledge_base/create_knowledge_base", response_model=BaseResponse, summary="创建知识库 (create)")
def create_knowledge_base(body: SeedCreateKB, services: Services = Depends(get_services)) -> BaseResponse:
    may_create_kb()
    info = services.create_kb(body.knowledge_base_name, body.kb_info, body.embed_model)
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


@router.get("/knowledge_base/list_files", response_model=ListResponse, summary="获取知识库内的文件列表 (list files)")
def list_files(
    knowledge_base_name: str = Query(..., pattern=KB_NAME_PATTERN, description=KB_NAME_HELP), services: Services = Depends(get_services)
) -> ListResponse:
    documents = services.documents(known_kb(services, knowledge_base_name))
    files = dict.fromkeys(d.file for d in documents if d.status != "deleting")
    return ListResponse(data=list(files))


@router.post("/knowledge_base/search_docs", response_model=list[SeedDocument], summary="搜索知识库 (search)")
def search_docs(body: SeedSearch, services: Services = Depends(get_services)) -> list[SeedDocument]:
    kb = known_kb(services, body.knowledge_base_name)
    if body.query.strip():
        hits = services.search(kb, body.query, body.top_k, _distance_to_cosine(body.score_threshold))
        return [_seed_document(h, round(1.0 - h.score, 4)) for h in hits]
    if body.file_name:
        return [_seed_document(h, 0.0) for h in services.chunks(*kb_document(services, kb, body.file_name, "file_name"))]
    return []


def _seed_document(hit: Hit, score: float) -> SeedDocument:
    metadata = {"source": hit.file, "page": hit.page, "section": hit.section, "doc_id": hit.doc_id, "chunk_index": hit.chunk_index}
    return SeedDocument(page_content=hit.text, metadata=metadata, id=f"{hit.doc_id}:{hit.chunk_index}", score=score)


@router.post("/knowledge_base/upload_docs", response_model=BaseResponse, openapi_extra=UPLOAD_BODY,
             summary="上传文件到知识库并向量化 (upload; per-file failures in data.failed_files)")
async def upload_docs(request: Request) -> BaseResponse:
    services = get_services(request)
    form = await receive_form(request, services.settings.home, services.settings.max_upload_mb * 2**20)
    try:
        name = form.fields.get("knowledge_base_name", "").strip()
        if not name:
            raise ApiError("Form field 'knowledge_base_name' is required.", param="knowledge_base_name", code="missing_field")
        override = _form_bool(form.fields, "override", False)
        if not _form_bool(form.fields, "to_vector_store", True):
            raise ApiError("to_vector_store=false is not supported: uploaded files are always ingested.", param="to_vector_store")
        if not form.files:
            raise ApiError("No files in the upload: send them as multipart parts named 'files'.", param="files", code="missing_field")
        kb = await run_in_threadpool(known_kb, services, name, True)
        failed: dict[str, str] = {}
        uploads = form.files
        if not override:
            existing = {d.file for d in await run_in_threadpool(services.documents, kb)}
            uploads = []
            for upload in form.files:
                if _safe_or_none(upload.name) in existing:
                    failed[upload.name] = f"文件 {upload.name} 已存在。"
                else:
                    uploads.append(upload)
        results = await run_in_threadpool(services.add_files, kb, [u.path for u in uploads], [u.name for u in uploads])
        failed.update(_failed(results))
    finally:
        form.discard()
    return BaseResponse(msg="文件上传与向量化完成", data={"failed_files": failed})


def _safe_or_none(name: str) -> str | None:
    try:
        return safe_file_name(name)
    except ChatchatError:
        return None


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
            failed.update(_failed([services.reingest(*kb_document(services, kb, file, "file_names"))]))
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
    original = services.store.get(kb).files_dir / file
    if not original.is_file():
        raise NotFound(f"No original of '{file}' is kept in knowledge base '{knowledge_base_name}'.")
    return FileResponse(original, filename=file, content_disposition_type="inline" if preview else "attachment")


@router.post("/knowledge_base/recreate_vector_store", responses=STREAM_RESPONSE,
             summary="重建向量库 (rebuild from the kept originals; streams progress)")
async def recreate_vector_store(body: SeedRecreate, request: Request):
    services = get_services(request)
    kb = await run_in_threadpool(known_kb, services, body.knowledge_base_name, True)
    stream = ThreadedStream(lambda cancel: _rebuild_events(services, kb, cancel))

    async def events() -> AsyncIterator[str]:
        try:
            while (item := await stream.next()) is not None:
                yield sse(item)
        finally:
            await stream.close()

    return sse_response(events())


def _rebuild_events(services: Services, kb: str, cancel: threading.Event) -> Iterator[dict]:
    """The rebuild runs in its own thread; its progress comes back through a queue as seed-shaped dicts."""
    updates: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            updates.put(services.rebuild_kb(kb, progress=updates.put, cancel=cancel))
        except ChatchatError as exc:
            updates.put(exc)

    threading.Thread(target=work, name=f"rebuild-{kb}", daemon=True).start()
    try:
        while True:
            item = updates.get()
            if isinstance(item, Progress):
                if item.stage == "done":
                    yield {"code": 200, "msg": f"({item.file_index + 1} / {item.file_count}): {item.file}",
                           "total": item.file_count, "finished": item.file_index + 1, "doc": item.file}
            elif isinstance(item, ChatchatError):
                yield {"code": item.status, "msg": item.message, **error_payload(item.status, item.message, item.code)}
                return
            else:
                for file, error in _failed(item).items():
                    yield {"code": 500, "msg": f"添加文件‘{file}’到知识库‘{kb}’时出错：{error}。已跳过。"}
                return
    finally:
        cancel.set()  # a client that went away stops the rebuild at the next file boundary or batch


# --- chat ---------------------------------------------------------------------------------------
@router.post("/chat/chat", responses=STREAM_RESPONSE, summary="与llm模型对话 (chat; SSE of {\"text\", \"message_id\"})")
async def chat(body: SeedChat, request: Request):
    return await _seed_chat(body, request, kb=None)


@router.post("/chat/knowledge_base_chat", responses=STREAM_RESPONSE,
             summary="与知识库对话 (knowledge-base chat; SSE of {\"answer\"} then {\"docs\"})")
async def knowledge_base_chat(body: SeedKBChat, request: Request):
    return await _seed_chat(body, request, kb=body.knowledge_base_name)


async def _seed_chat(body: SeedChat, request: Request, kb: str | None):
    services = get_services(request)
    messages = [{"role": h.role, "content": h.content} for h in body.history] + [{"role": "user", "content": body.query}]
    job = ChatJob(
        model=f"kb:{kb}" if kb else body.model_name,
        messages=messages,
        temperature=body.temperature,
        max_tokens=body.max_tokens if body.max_tokens and body.max_tokens > 0 else None,
        top_k=body.top_k if isinstance(body, SeedKBChat) else None,
        score_threshold=_distance_to_cosine(body.score_threshold) if isinstance(body, SeedKBChat) else None,
        llm=body.model_name if kb else None,
        rag=True,
    )
    await run_in_threadpool(check, job, services, "model_name", "knowledge_base_name")
    stream = ThreadedStream(lambda cancel: answer_events(job, services, cancel))
    first = await stream.next()
    if first is None or first.kind == "error":
        await stream.close()
        raise first.error if first and first.error else ApiError("The model returned nothing.", status=502, code="empty_answer")
    base_url = str(request.base_url)
    message_id = uuid.uuid4().hex

    async def events() -> AsyncIterator[str]:
        parts: list[str] = []
        docs: list[str] = []
        try:
            event: AnswerEvent | None = first
            while event is not None:
                if event.kind == "error":
                    status = event.error.status if event.error else 500
                    yield sse({"code": status, "msg": event.text, **error_payload(status, event.text, getattr(event.error, "code", None))})
                    return
                if event.kind == "delta":
                    parts.append(event.text)
                    if body.stream:
                        yield sse({"answer": event.text} if kb else {"text": event.text, "message_id": message_id})
                elif event.kind == "sources":
                    docs = [_seed_doc(s, base_url) for s in event.sources]
                event = await stream.next()
            if not body.stream:
                yield sse({"answer": "".join(parts), "docs": docs} if kb else {"text": "".join(parts), "message_id": message_id})
            elif kb:
                yield sse({"docs": docs})
        finally:
            await stream.close()

    return sse_response(events())


def _seed_doc(source: Source, base_url: str) -> str:
    url = f"{base_url}knowledge_base/download_doc?" + urlencode({"knowledge_base_name": source.kb, "file_name": source.file})
    return f"出处 [{source.index}] [{source.file}]({url}) 匹配度 {int(max(source.score, 0) * 100)}%\n\n{source.snippet}\n\n"
