"""What the chat routes share: which model or knowledge base a request names, the answer events for
it (a plain model answers the client's messages as they are, with the client's tools if it sent any;
`kb:<name>` answers through chatchat.answer.answerer; `agent:<model>` with our tools, chatchat.agent),
stop sequences, and a check of names before anything loads."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterator

from fastapi import Request

from chatchat.answer.answerer import AnswerEvent, Source
from chatchat.api.deps import known_kb
from chatchat.api.errors import ApiError
from chatchat.api.streams import ThreadedStream
from chatchat.errors import ChatchatError, NotFound
from chatchat.llm.base import Message
from chatchat.llm.tools import ToolCall
from chatchat.service import Services

KB_PREFIX = "kb:"
WEB_PREFIX = "web:"  # web:<model>: <model> answers from the pages a search engine finds (chatchat.web)
AGENT_PREFIX = "agent:"  # agent:<model>: <model> answers calling tools (chatchat.agent)


def kb_of(model_id: str) -> list[str] | None:
    """The knowledge bases a model id names (`kb:<name>` or `kb:<a>,<b>`: names hold no commas), else None."""
    if not model_id.startswith(KB_PREFIX):
        return None
    return [name.strip() for name in model_id[len(KB_PREFIX):].split(",")]


@dataclass
class ChatJob:
    model: str | None  # a model id, `kb:<name>`, or None for settings.default_llm
    messages: list[Message]
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    top_k: int | None = None
    score_threshold: float | None = None
    llm: str | None = None  # the model that answers for a knowledge base (None: settings.default_llm)
    kb: list[str] | None = None  # set from model by check()
    rag: bool = False  # answer through chatchat.answer.answerer (server-side prompt) even without a knowledge base
    web: bool = False  # set from model by check(): web:<model>, answered from the web
    web_provider: str | None = None  # the search engine (None: Settings' web_provider)
    agent: bool = False  # set from model by check(): agent:<model>; `kb` and `web_provider` choose its tools
    approve_tools: bool = False  # agent: let tools that ask before running run (no one can be asked)
    tools: list[dict] | None = None  # plain chat: the client's own function specs (OpenAI semantics)
    tool_choice: str | dict | None = None


def check(job: ChatJob, services: Services, param: str = "model", kb_param: str = "model") -> None:
    """Refuse unknown or unusable models, unknown knowledge bases and unusable messages before anything loads.
    `param` and `kb_param` name the request fields that chose the model and the knowledge base."""
    try:
        if job.model and (names := kb_of(job.model)) is not None:
            job.kb = list(dict.fromkeys(known_kb(services, name) for name in names))
    except NotFound as exc:
        raise ApiError(exc.message, status=404, code="model_not_found" if kb_param == "model" else "not_found", param=kb_param) from exc
    if job.model and job.model.startswith(AGENT_PREFIX):
        job.agent, job.llm = True, job.model[len(AGENT_PREFIX):] or None
        try:
            job.kb = list(dict.fromkeys(known_kb(services, name) for name in job.kb or ())) or None
        except NotFound as exc:
            raise ApiError(exc.message, status=404, code="not_found", param="knowledge_bases") from exc
        try:
            if job.web_provider is not None:
                services.web_engine(job.web_provider)
        except ChatchatError as exc:
            raise ApiError(exc.message, status=400, code="web_unavailable", param="web_provider") from exc
    if job.model and job.model.startswith(WEB_PREFIX):
        job.web, job.llm = True, job.model[len(WEB_PREFIX):] or None
        try:
            services.web_retriever(job.web_provider)  # no provider picked, no key, off on a Space: refused now
        except ChatchatError as exc:
            raise ApiError(exc.message, status=400, code="web_unavailable", param="web_provider") from exc
    try:
        answering = (job.llm if job.kb or job.web or job.agent else job.model) or services.settings.default_llm
        reason = services.unusable_reason(answering)
    except NotFound as exc:
        raise ApiError(exc.message, status=404, code="model_not_found", param=param) from exc
    if reason:
        raise ApiError(reason, status=404, code="model_not_found", param=param)
    if (job.kb or job.rag or job.web or job.agent) and (not job.messages or job.messages[-1]["role"] != "user"):
        raise ApiError("The last message must be the user's question.", param="messages")


def answer_events(job: ChatJob, services: Services, cancel: threading.Event) -> Iterator[AnswerEvent]:
    if job.agent:
        events = _agent(job, services, cancel)
    else:
        events = _grounded(job, services, cancel) if job.kb or job.rag or job.web else _plain(job, services, cancel)
    return _stop_at(events, job.stop, cancel) if job.stop else events


async def started(job: ChatJob, services: Services, request: Request) -> tuple[ThreadedStream, AnswerEvent]:
    """The answer's stream and its first event. An answer that fails before its first word (nothing is sent
    yet) is raised instead, as a proper HTTP error."""
    stream = ThreadedStream(lambda cancel: answer_events(job, services, cancel), request)
    first = await stream.next()
    if first is None or first.kind == "error":
        await stream.close()
        raise first.error if first and first.error else ApiError("The model returned nothing.", status=502, code="empty_answer")
    return stream, first


def _grounded(job: ChatJob, services: Services, cancel: threading.Event) -> Iterator[AnswerEvent]:
    *history, question = job.messages
    options = dict(model=job.llm if job.kb or job.web else job.model, top_k=job.top_k,
                   history=[m for m in history if m["role"] in ("user", "assistant")],
                   temperature=job.temperature, max_tokens=job.max_tokens, cancel=cancel)
    if job.web:
        return services.web_answer(question["content"], provider=job.web_provider, **options)
    return services.answer(question["content"], kb=job.kb, score_threshold=job.score_threshold, **options)


def _agent(job: ChatJob, services: Services, cancel: threading.Event) -> Iterator[AnswerEvent]:
    *history, question = job.messages
    return services.agent_answer(
        question["content"], model=job.llm, history=[m for m in history if m["role"] in ("user", "assistant")],
        kbs=job.kb or (), web=job.web_provider is not None, web_provider=job.web_provider or None,
        approve=(lambda tool, arguments: True) if job.approve_tools else None, cancel=cancel,
        temperature=job.temperature, max_tokens=job.max_tokens)


def _plain(job: ChatJob, services: Services, cancel: threading.Event) -> Iterator[AnswerEvent]:
    settings = services.settings
    parts: list[str] = []
    try:
        model = services.llms.get(job.model)
        for delta in model.chat(
            job.messages,
            temperature=settings.temperature if job.temperature is None else job.temperature,
            max_tokens=job.max_tokens or services.catalog.default_max_tokens(job.model, settings.max_tokens),
            stop=job.stop or None,
            cancel=cancel,
            tools=job.tools,
            tool_choice=job.tool_choice or "auto",
        ):
            if isinstance(delta, ToolCall):
                yield AnswerEvent("tool_call", step=delta.as_openai())
                continue
            parts.append(delta)
            yield AnswerEvent("delta", text=delta)
    except ChatchatError as exc:
        yield AnswerEvent("error", text=exc.message, error=exc)
        return
    yield AnswerEvent("sources")
    yield AnswerEvent("done", text="".join(parts), cancelled=cancel.is_set())


def _stop_at(events: Iterator[AnswerEvent], stops: list[str], cancel: threading.Event) -> Iterator[AnswerEvent]:
    """End the answer before the first stop sequence. Text that could be the start of one is held back
    until it is known not to be; once one is found the model is cancelled and the rest dropped."""
    held = ""
    keep = max(len(s) for s in stops) - 1
    stopped = False
    for event in events:
        if event.kind != "delta":
            if held and not stopped:
                yield AnswerEvent("delta", text=held)
                held = ""
            yield event
            continue
        if stopped:
            continue
        held += event.text
        cut = min((i for i in (held.find(s) for s in stops) if i >= 0), default=-1)
        if cut >= 0:
            if cut:
                yield AnswerEvent("delta", text=held[:cut])
            held, stopped = "", True
            cancel.set()
        elif len(held) > keep:
            yield AnswerEvent("delta", text=held[: len(held) - keep])
            held = held[len(held) - keep:]


def footnote_block(sources: tuple[Source, ...] | list[Source]) -> str:
    """The sources as Markdown, to append to an answer: one line per cited passage."""
    if not sources:
        return ""
    lines = []
    several = len({source.kb for source in sources}) > 1
    for source in sources:
        where = f"{source.file}, p. {source.page}" if source.page is not None else source.file
        # a web page links to itself; a knowledge base's original is a relative route no Markdown reader opens
        where = f"[{where}]({source.url})" if source.url.startswith(("http://", "https://")) else where
        where = f"{source.kb} / {where}" if several else where
        lines.append(f"[{source.index}] **{where}**: {source.snippet}")
    return "\n\n---\n" + "  \n".join(lines)
