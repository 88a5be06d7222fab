"""Langchain-Chatchat 0.2.x chat routes, same paths and shapes: /chat/chat (server-sent events of
{"text", "message_id"}), /chat/knowledge_base_chat and /chat/file_chat ({"answer"}… then {"docs"}),
/chat/agent_chat ({"answer"} and {"tools"}… then {"final_answer"}), /chat/feedback. A chat sent with a conversation_id (and every file chat) is kept as a conversation, so
its history and the ratings of its answers live with it, as in the UI."""

from __future__ import annotations

import json
import uuid
from contextlib import aclosing
from typing import AsyncIterator
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from chatchat.api.chat import AGENT_PREFIX, ChatJob, check, started
from chatchat.api.deps import get_services
from chatchat.api.errors import ApiError, error_payload
from chatchat.api.seed_common import STREAM_RESPONSE, distance_to_cosine
from chatchat.api.seed_schemas import BaseResponse, SeedChat, SeedFeedback, SeedFileChat, SeedKBChat
from chatchat.api.streams import ThreadedStream, sse, sse_response
from chatchat.answer.conversations import ChatMessage, Conversation
from chatchat.errors import NotFound
from chatchat.answer.answerer import AnswerEvent, Source
from chatchat.service import Services

router = APIRouter(tags=["Langchain-Chatchat 0.2.x compatible"])
ID_CHARS = 16  # a message_id is the conversation's id and then the answer's


@router.post("/chat/chat", responses=STREAM_RESPONSE, summary="与llm模型对话 (chat; SSE of {\"text\", \"message_id\"})")
async def chat(body: SeedChat, request: Request):
    return await _seed_chat(body, request, kbs=None)


@router.post("/chat/knowledge_base_chat", responses=STREAM_RESPONSE,
             summary="与知识库对话 (knowledge-base chat; SSE of {\"answer\"} then {\"docs\"})")
async def knowledge_base_chat(body: SeedKBChat, request: Request):
    return await _seed_chat(body, request, kbs=[body.knowledge_base_name])


@router.post("/chat/file_chat", responses=STREAM_RESPONSE,
             summary="文件对话 (chat with the files of /knowledge_base/upload_temp_docs; SSE as knowledge_base_chat)")
async def file_chat(body: SeedFileChat, request: Request):
    services = get_services(request)
    store = services.conversations
    conversation = await run_in_threadpool(lambda: store.get(body.knowledge_id) if store.exists(body.knowledge_id) else None)
    if conversation is None or not conversation.temp_kb:
        raise ApiError(f"未找到临时知识库 {body.knowledge_id}，请先上传文件 (upload files with /knowledge_base/upload_temp_docs first)",
                       status=404, code="not_found", param="knowledge_id")
    return await _seed_chat(body, request, kbs=[conversation.temp_kb], conversation=conversation)


@router.post("/chat/agent_chat", responses=STREAM_RESPONSE,
             summary="Agent 对话 (the model calls tools; SSE of {\"answer\"} and {\"tools\"}, then {\"final_answer\"})")
async def agent_chat(body: SeedChat, request: Request):
    """The seed's agent chat, on chatchat.agent: its built-in tools and the MCP servers of Settings. Tools
    that ask before running are refused (no one can be asked here). Streamed: {"answer": text} pieces,
    {"tools": [lines]} per tool call as the seed wrote them, then {"final_answer"}; else one
    {"answer": the tool blocks and the text, "final_answer": the text}."""
    services = get_services(request)
    job = ChatJob(
        model=AGENT_PREFIX + (body.model_name or ""),
        messages=[*({"role": h.role, "content": h.content} for h in body.history), {"role": "user", "content": body.query}],
        temperature=body.temperature,
        max_tokens=body.max_tokens if body.max_tokens and body.max_tokens > 0 else None,
    )
    await run_in_threadpool(check, job, services, "model_name")
    stream, first = await started(job, services, request)

    async def events() -> AsyncIterator[str]:
        answer, final = "", ""
        async with aclosing(_each(first, stream)) as each:
            async for event in each:
                if event.kind == "error":
                    yield _error(event)
                    return
                if event.kind == "delta":
                    answer, final = answer + event.text, final + event.text
                    if body.stream:
                        yield sse({"answer": event.text})
                elif event.kind == "step" and event.step is not None:
                    block = _tool_block(event.step)
                    answer += "\n".join(block)
                    if body.stream:
                        yield sse({"tools": block})
        yield sse({"final_answer": final} if body.stream else {"answer": answer, "final_answer": final})

    return sse_response(events())


@router.post("/chat/feedback", response_model=BaseResponse, summary="返回llm模型对话评分 (rate an answer: score 0–100 and a reason)")
def chat_feedback(body: SeedFeedback, services: Services = Depends(get_services)) -> BaseResponse:
    conversation_id, answer_id = body.message_id[:ID_CHARS], body.message_id[ID_CHARS:]
    try:
        services.conversations.rate(conversation_id, answer_id, body.score, body.reason)
    except NotFound as exc:
        raise ApiError(f"未找到聊天记录 {body.message_id}：只有带 conversation_id 的对话会被保存 "
                       "(only answers of chats sent with a conversation_id are kept).",
                       status=404, code="not_found", param="message_id") from exc
    return BaseResponse(msg=f"已反馈聊天记录 {body.message_id}")


async def _seed_chat(body: SeedChat, request: Request, kbs: list[str] | None, conversation: Conversation | None = None):
    """kbs: answer from these knowledge bases (a file chat's own is passed with its conversation)."""
    services = get_services(request)
    if conversation is None and body.conversation_id:
        conversation = await run_in_threadpool(
            services.conversations.get_or_create, body.conversation_id, "kb" if kbs else "llm",
            kbs[0] if kbs else None, body.model_name)
    history = [{"role": h.role, "content": h.content} for h in body.history]
    if conversation is not None and body.history_len > 0:
        history = conversation.history(body.history_len)
    llm = body.model_name or services.settings.default_llm
    grounded = isinstance(body, (SeedKBChat, SeedFileChat))
    own_files = conversation is not None and conversation.temp_kb is not None
    job = ChatJob(
        model=f"kb:{kbs[0]}" if kbs and not own_files else llm,
        messages=[*history, {"role": "user", "content": body.query}],
        temperature=body.temperature,
        max_tokens=body.max_tokens if body.max_tokens and body.max_tokens > 0
        else services.catalog.default_max_tokens(llm, services.settings.max_tokens),
        top_k=body.top_k if grounded else None,
        score_threshold=distance_to_cosine(body.score_threshold) if grounded else None,
        llm=llm if kbs else None,
        rag=True,
    )
    await run_in_threadpool(check, job, services, "model_name", "knowledge_base_name")
    if own_files:
        job.kb = kbs  # internal: no caller reaches it by name, only through its conversation
    stream, first = await started(job, services, request)
    base_url = str(request.base_url)
    answer_id = uuid.uuid4().hex[:ID_CHARS]
    message_id = conversation.id + answer_id if conversation else uuid.uuid4().hex

    async def events() -> AsyncIterator[str]:
        parts: list[str] = []
        answer: str | None = None  # the answerer's last word: the text with its [n] markers
        sources: tuple[Source, ...] = ()
        finished = False
        try:
            async with aclosing(_each(first, stream)) as each:
                async for event in each:
                    if event.kind == "error":
                        yield _error(event)
                        return
                    if event.kind == "delta":
                        parts.append(event.text)
                        if body.stream:
                            yield sse({"answer": event.text} if grounded else {"text": event.text, "message_id": message_id})
                    elif event.kind == "sources":
                        sources = event.sources
                    elif event.kind == "done":
                        answer = event.cited or event.text
            finished = True
            docs = [_seed_doc(s, base_url, own_files) for s in sources]
            if not body.stream:
                # the model's words, as a stream of this answer would have sent them; the conversation keeps the
                # text with the [n] markers the app checked or attached
                text = "".join(parts)
                yield sse({"answer": text, "docs": docs} if grounded else {"text": text, "message_id": message_id})
            elif grounded:
                yield sse({"docs": docs})
        finally:
            if conversation is not None and (parts or finished):
                services.conversations.add_exchange(
                    conversation.id, ChatMessage(role="user", content=body.query),
                    ChatMessage(role="assistant", content="".join(parts) if answer is None else answer, model=llm, id=answer_id, cancelled=not finished,
                                sources=[s.to_dict() for s in sources]))

    return sse_response(events())


def _seed_doc(source: Source, base_url: str, own_files: bool = False) -> str:
    """A source as the seed's "docs" entries, linked to the seed's download (a file chat's file, whose knowledge
    base has no name to download by: to its original) and to its preview."""
    name = f"[{source.file}]"
    if own_files:
        name += f"({base_url.rstrip('/')}{source.url})"
    else:
        name += f"({base_url}knowledge_base/download_doc?" + urlencode({"knowledge_base_name": source.kb, "file_name": source.file}) + ")"
    if source.preview_url:
        name += f" [预览]({base_url.rstrip('/')}{source.preview_url})"
    return f"出处 [{source.index}] {name} 匹配度 {int(max(source.score, 0) * 100)}%\n\n{source.snippet}\n\n"


async def _each(first: AnswerEvent, stream: ThreadedStream) -> AsyncIterator[AnswerEvent]:
    """An answer's events, `first` first, until its end (or its first error, the last one then); its stream
    is closed however they end (a client gone included: iterate it inside contextlib.aclosing)."""
    try:
        event: AnswerEvent | None = first
        while event is not None:
            yield event
            if event.kind == "error":
                return
            event = await stream.next()
    finally:
        await stream.close()


def _error(event: AnswerEvent) -> str:
    status = event.error.status if event.error else 500
    return sse({"code": status, "msg": event.text, **error_payload(status, event.text, getattr(event.error, "code", None))})


def _tool_block(step: dict) -> list[str]:
    """One tool call as the seed's agent_chat showed it (a fenced block of 工具名称/状态/输入/输出 lines)."""
    if step["ok"]:
        lines = ["工具状态: 调用成功", f"工具输入: {json.dumps(step['arguments'], ensure_ascii=False)}",
                 f"工具输出: {step['summary']}"]
    else:
        lines = ["工具状态: 调用失败", f"错误信息: {step['summary']}"]
    return ["\n```\n", f"工具名称: {step['tool']}", *lines, "\n```\n"]
