"""OpenAI-compatible routes under /v1: models, chat completions (SSE or not), embeddings.

A knowledge base is offered as the model `kb:<name>`: its answers are grounded in the knowledge base
and carry their passages in the extra field `sources` (and, with `"footnotes": true`, as a Markdown
block at the end of the answer). `web:<model>` answers the same way from the pages a search engine finds
(the extra field `web_provider`, else the one picked in Settings); each source's `url` is its page.
`agent:<model>` answers with tools (chatchat.agent): knowledge-base search over `knowledge_bases`, the web
with `web_provider`; its tool calls come as the extra field `steps` (streamed: one chunk with an empty delta
and the field `step` per call). A plain model is given the client's `tools`, and its calls come back as
`message.tool_calls` (streamed: `delta.tool_calls`) with finish_reason "tool_calls", as OpenAI does.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import AsyncIterator

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from chatchat.api.chat import AGENT_PREFIX, KB_PREFIX, WEB_PREFIX, ChatJob, check, footnote_block, started
from chatchat.api.chat_schemas import ChatCompletionRequest
from chatchat.api.deps import get_services, listed_kbs
from chatchat.api.errors import ApiError, error_payload
from chatchat.api.schemas import MAX_EMBED_CHARS, MAX_EMBED_INPUTS, EmbeddingList, EmbeddingRequest, ModelList, ModelOut
from chatchat.api.streams import ThreadedStream, sse, sse_response
from chatchat.errors import NotFound
from chatchat.models.layout import installed_path
from chatchat.llm.base import estimate_tokens
from chatchat.answer.answerer import AnswerEvent, Source
from chatchat.service import Services

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
STARTED = int(time.time())

CHAT_RESPONSES = {
    200: {
        "description": "A chat.completion object, or with stream=true a text/event-stream of chat.completion.chunk "
        "objects ending with `data: [DONE]`. Knowledge-base models add `sources`.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


# --- models -------------------------------------------------------------------------------------
@router.get("/models", response_model=ModelList, summary="Models: local, cloud, one per knowledge base, embeddings")
def list_models(services: Services = Depends(get_services)) -> ModelList:
    settings, catalog = services.settings, services.catalog
    data: list[ModelOut] = []

    def add(model_id: str, kind: str, owner: str, description: str = "") -> None:
        data.append(ModelOut(id=model_id, created=STARTED, owned_by=owner, kind=kind, description=description))

    for ref in services.answering_models():
        if ref.entry is not None:
            add(ref.id, "local" if ref.local else "cloud", ref.entry.provider or "chatchat", ref.entry.name)
        else:
            assert ref.provider is not None
            add(ref.id, "cloud", ref.provider.id, ref.provider.name)
    for info in listed_kbs(services):
        add(KB_PREFIX + info.name, "knowledge_base", "chatchat", info.description or f"answers from knowledge base {info.name}")
    for entry in catalog.embeddings.values():
        if not entry.provider and installed_path(settings, entry):
            add(entry.id, "embedding", "chatchat", entry.name)
    return ModelList(data=data)


# --- embeddings ---------------------------------------------------------------------------------
@router.post("/embeddings", response_model=EmbeddingList, summary="Embeddings from the local embedding models")
def create_embeddings(body: EmbeddingRequest, services: Services = Depends(get_services)) -> EmbeddingList:
    try:
        entry = services.catalog.embedding(body.model)
    except NotFound as exc:
        raise ApiError(exc.message, status=404, code="model_not_found", param="model") from exc
    if entry.provider:
        raise ApiError(f"'{body.model}' is a cloud embedding model; this server embeds with local models only.",
                       status=404, code="model_not_found", param="model")
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ApiError("input must be a text or a non-empty list of texts (token arrays are not accepted).", param="input")
    if len(texts) > MAX_EMBED_INPUTS:
        raise ApiError(f"At most {MAX_EMBED_INPUTS} inputs per request (got {len(texts)}).", param="input")
    for i, text in enumerate(texts):
        if not text.strip() or len(text) > MAX_EMBED_CHARS:
            raise ApiError(f"input[{i}] must be non-empty text of at most {MAX_EMBED_CHARS} characters.", param="input")
    if body.dimensions is not None and body.dimensions != entry.dim:
        raise ApiError(f"'{entry.id}' makes {entry.dim}-dimensional vectors and cannot shorten them.", param="dimensions")
    vectors = services.embed(texts, entry.id)
    tokens = sum(estimate_tokens(t) for t in texts)
    return EmbeddingList(
        data=[{"index": i, "embedding": _encode(v, body.encoding_format)} for i, v in enumerate(vectors)],
        model=entry.id,
        usage={"prompt_tokens": tokens, "total_tokens": tokens},
    )


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


# --- chat completions ---------------------------------------------------------------------------
@router.post("/chat/completions", summary="Chat (streaming or not); kb:<name> answers from a knowledge base, "
             "web:<model> from the web, agent:<model> with tools",
             responses=CHAT_RESPONSES)
async def chat_completions(body: ChatCompletionRequest, request: Request):
    services = get_services(request)
    agent = body.model.startswith(AGENT_PREFIX)
    job = ChatJob(
        model=body.model if agent else _kb_model(body),
        llm=None if body.model.startswith((KB_PREFIX, WEB_PREFIX, AGENT_PREFIX)) else body.model,
        messages=[m.message() for m in body.messages],
        temperature=body.temperature,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        stop=body.stops(),
        top_k=body.top_k,
        score_threshold=body.score_threshold,
        web_provider=body.web_provider,
        kb=list(body.knowledge_bases or ()) if agent else None,
        approve_tools=body.approve_tools,
        tools=[t.model_dump() for t in body.tools] if body.tools and not agent else None,
        tool_choice=body.tool_choice,
    )
    await run_in_threadpool(check, job, services)
    stream, first = await started(job, services, request)
    reply = _Reply(body, job, sum(estimate_tokens(m["content"] or "") for m in job.messages))
    if body.stream:
        return sse_response(reply.chunks(first, stream))
    return await reply.collect(first, stream)


def _kb_model(body: ChatCompletionRequest) -> str:
    """`knowledge_bases` folded into the model id: kb:<a>,<b> (together with any the model names)."""
    if not body.knowledge_bases:
        return body.model
    named = body.model[len(KB_PREFIX):].split(",") if body.model.startswith(KB_PREFIX) else []
    return KB_PREFIX + ",".join(dict.fromkeys([*named, *body.knowledge_bases]))


class _Reply:
    """Turns answer events into OpenAI's chat.completion / chat.completion.chunk objects."""

    def __init__(self, body: ChatCompletionRequest, job: ChatJob, prompt_tokens: int):
        self.body = body
        self.job = job
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self.sources: tuple[Source, ...] = ()
        self.query: str | None = None  # the standalone question a follow-up was searched with
        self.steps: list[dict] = []  # agent: the tool calls it made
        self.tool_calls: list[dict] = []  # plain chat with the client's tools: the calls the model asks for
        self.done: AnswerEvent | None = None  # the answer with its checked or attached [n] markers

    def _finish_reason(self) -> str:
        if self.tool_calls:
            return "tool_calls"
        limit = self.job.max_tokens
        return "length" if limit and self.completion_tokens >= limit else "stop"

    def _usage(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}

    def _extra(self) -> dict:
        if self.job.agent:
            return {"steps": self.steps}
        if not (self.job.kb or self.job.web):
            return {}
        cited = ({"cited_content": self.done.cited or self.done.text, "markers": [m.to_dict() for m in self.done.markers]}
                 if self.done else {})
        return {"sources": [s.to_dict() for s in self.sources], **cited, **({"query": self.query} if self.query else {})}

    def _footnotes(self) -> str:
        return footnote_block(self.sources) if self.body.footnotes and (self.job.kb or self.job.web) else ""

    def _take(self, event: AnswerEvent) -> str:
        """The text an event adds to the answer; raises the error an error event carries."""
        if event.kind == "delta":
            self.completion_tokens += 1
            return event.text
        if event.kind == "sources":
            self.sources = event.sources
        elif event.kind == "step" and event.step is not None:
            self.steps.append(event.step)
        elif event.kind == "tool_call" and event.step is not None:
            self.tool_calls.append(event.step)
        elif event.kind == "query":
            self.query = event.text
        elif event.kind == "done":
            self.done = event
        elif event.kind == "error":
            raise event.error or ApiError(event.text, status=500, code="answer_failed")
        return ""

    async def collect(self, first: AnswerEvent, stream: ThreadedStream) -> dict:
        parts: list[str] = []
        try:
            event = first
            while event is not None:
                parts.append(self._take(event))
                event = await stream.next()
        finally:
            await stream.close()
        return {
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.body.model,
            "choices": [{"index": 0, "message": self._message(self._content(parts) + self._footnotes()),
                         "finish_reason": self._finish_reason(), "logprobs": None}],
            "usage": self._usage(), **self._extra(),
        }

    def _content(self, parts: list[str]) -> str:
        """A grounded answer as the answerer ended it (its [n] markers checked or attached by the app), else
        the text as streamed. A stream sends the model's words as they come, and `cited_content` at the end."""
        return (self.done.cited or self.done.text) if self.done and (self.job.kb or self.job.web) else "".join(parts)

    def _message(self, content: str) -> dict:
        if not self.tool_calls:
            return {"role": "assistant", "content": content}
        return {"role": "assistant", "content": content or None, "tool_calls": self.tool_calls}

    def _chunk(self, delta: dict, finish_reason: str | None = None, **extra) -> str:
        return sse({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.body.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}], **extra})

    async def chunks(self, first: AnswerEvent, stream: ThreadedStream) -> AsyncIterator[str]:
        try:
            yield self._chunk({"role": "assistant", "content": ""})
            event = first
            while event is not None:
                try:
                    text = self._take(event)
                except Exception as exc:  # mid-answer: the status line is sent, so the error goes in the stream
                    status, code = getattr(exc, "status", 500), getattr(exc, "code", "answer_failed")
                    yield sse(error_payload(status, getattr(exc, "message", str(exc)), code))
                    break
                if text:
                    yield self._chunk({"content": text})
                elif event.kind == "step":
                    yield self._chunk({}, step=event.step)
                elif event.kind == "stage":  # an agent's: {"name": "agent_think", "step": 2, "of": 6[, "tool"]}
                    yield self._chunk({}, stage={"name": event.text, **(event.step or {})})
                elif event.kind == "notice":
                    yield self._chunk({}, notice={"text": event.text, "code": event.error.code if event.error else "notice"})
                elif event.kind == "tool_call":
                    yield self._chunk({"tool_calls": [{"index": len(self.tool_calls) - 1, **(event.step or {})}]})
                event = await stream.next()
            else:
                if footnotes := self._footnotes():
                    yield self._chunk({"content": footnotes})
                yield self._chunk({}, self._finish_reason(), **self._extra())
                if self.body.stream_options and self.body.stream_options.include_usage:
                    yield sse({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                               "model": self.body.model, "choices": [], "usage": self._usage()})
            yield sse("[DONE]")
        finally:
            await stream.close()
