"""Grounded answers: retrieve passages → build the prompt within the model's context → stream.

`Answerer.answer` takes a question and, for a grounded answer, a `Retrieve` function (the contract below:
knowledge bases, a file chat's files, the web all plug in the same way) and yields `AnswerEvent`s: for a
follow-up question first one "query" (the standalone question that was searched), then any number of
"delta", then "sources", then "done"; or, at any point, one "error" that ends the stream. With
`stages=True` a "stage" event (text "search", "load" or "think") comes before each slow step, for a UI to
show what it is waiting for. The UI, the API (SSE) and the CLI all consume this one generator (through
Services.answer and Services.reply). Errors a user can fix arrive as events, never as exceptions.
The question's language is detected once here and passed down (retrieval, rewriting, prompt, refusals).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Literal, Sequence

from chatchat.answer import citations, prompts
from chatchat.answer.conversations import ChatMessage, ConversationStore
from chatchat.answer.followup import standalone_query
from chatchat.answer.links import source_links
from chatchat.answer.prompts import Language
from chatchat.config import Settings
from chatchat.errors import ChatchatError, ModelError
from chatchat.llm.base import ChatModel, Message
from chatchat.llm.manager import LLMManager
from chatchat.retrieval.context import Passage
from chatchat.retrieval.chunks import Hit

MESSAGE_OVERHEAD = 8  # tokens a chat template adds around each message
SNIPPET_CHARS = 240


@dataclass(frozen=True)
class Source:
    """One passage the answer was given: what a citation [index] points at."""

    index: int
    kb: str
    file: str
    page: int | None
    section: str | None
    snippet: str  # of the chunk that matched, not of the neighbours the model was also given
    score: float
    chunk_index: int | None = None  # the chunk that matched
    span: tuple[int, int] | None = None  # the chunks the model read around it, first and last
    url: str = ""  # a web page's address, or a knowledge base's original (a PDF's at its page: #page=N)
    doc_id: str | None = None  # the document version cited: a preview of a later one answers 404
    preview_url: str | None = None  # the passage shown for a reader (chatchat.api.source_routes); None for the web

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AnswerEvent:
    """One event of an answer, the one stream type of every face. An agent answer (chatchat.agent) adds
    "step" (a tool call it made: `step` is {index, tool, arguments, summary, ok, seconds, server}) and
    "notice" (something the reader should know while the answer goes on, e.g. an MCP server that could not
    be reached) and stages of its own (chatchat.agent.loop.stage: `step` is {step, of[, tool]}); its "done"
    carries every step in `steps`. A plain chat offered the client's own tools
    yields "tool_call" (`step` is the call in OpenAI's shape: {id, type, function: {name, arguments}})."""

    kind: Literal["stage", "query", "delta", "sources", "step", "notice", "tool_call", "error", "done"]
    text: str = ""  # delta: the new text; done: the whole answer; error, notice: the message; stage: its name
    sources: tuple[Source, ...] = ()  # sources
    error: ChatchatError | None = None  # error (and a notice's cause, if any)
    cancelled: bool = False  # done: the user stopped the answer part-way
    step: dict[str, Any] | None = None  # step, tool_call; an agent's stage: where it is
    steps: tuple[dict[str, Any], ...] = ()  # done of an agent answer: every step taken
    cited: str = ""  # done of a grounded answer: `text` with its [n] markers (the model's checked, or the app's)
    markers: tuple[citations.Marker, ...] = ()  # done: the [n] in `cited`, written by the model or attached by the app

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for SSE)."""
        data: dict[str, Any] = {"kind": self.kind}
        if self.kind == "sources":
            data["sources"] = [source.to_dict() for source in self.sources]
        elif self.kind in ("step", "tool_call"):
            data["step"] = self.step
        elif self.kind in ("error", "notice"):
            data.update(text=self.text, code=self.error.code if self.error else self.kind)
        else:
            data["text"] = self.text
        if self.kind == "stage" and self.step:
            data["step"] = self.step
        if self.kind == "done":
            data["cancelled"] = self.cancelled
            data.update(cited=self.cited or self.text, markers=[marker.to_dict() for marker in self.markers])
            if self.steps:
                data["steps"] = list(self.steps)
        return data


@dataclass(frozen=True)
class Retrieval:
    """What one retrieval found: the passages the model may read, best first, and whether they cover the
    question at all (the relevance gate). `covered=False`: nothing is close enough to answer from; the
    passages are then the nearest ones, listed to the reader as sources while the model is not asked."""

    passages: tuple[Passage, ...] = ()
    covered: bool = True


Retrieve = Callable[[str, Language], Retrieval]
"""The retrieve contract: (query, language of the question) -> Retrieval. It knows nothing of the question's
history or of the model; it may raise ChatchatError (an unknown knowledge base, a search that failed),
which ends the answer with an "error" event. Services.retriever makes one over knowledge bases; a
`Passage` carries a `Hit`, whose `url` lets a web retriever's citations link to their page."""


@dataclass(frozen=True)
class Scope:
    """What a retriever searches, as a refusal names it: knowledge bases, or (`files`) a file chat's files."""

    names: str
    files: bool = False


@dataclass
class Prompt:
    messages: list[Message]
    passages: list[Passage]  # the retrieved passages that fitted, numbered [1].. in order
    max_tokens: int  # what is left of the context for the answer, at most the asked max


def build_prompt(
    model: ChatModel, question: str, hits: Sequence[Passage | Hit], history: Sequence[Message], max_tokens: int,
    kb_chat: bool, language: Language | None = None,
) -> Prompt:
    """The messages for the model: instructions, as much recent history and as many of the best
    passages as the context leaves room for after reserving tokens for the answer. A passage too long
    to fit is given as its matching chunk alone. `language`: the question's (detected when not given)."""
    lang = language or prompts.detect_language(question)
    reserve = min(max_tokens, model.context // 2)
    budget = model.context - reserve
    system = prompts.text(lang, "kb_system" if kb_chat else "chat_system")
    bare_user = prompts.kb_user(lang, question, []) if kb_chat else question
    used = model.count_tokens(system) + model.count_tokens(bare_user) + 2 * MESSAGE_OVERHEAD
    if used > budget:
        raise ModelError(
            f"The question is about {used} tokens long, more than model '{model.model_id}' can take "
            f"with room left for an answer ({budget}). Shorten the question or pick a model with a longer context."
        )
    kept: list[Passage] = []
    passages: list[str] = []
    for item in hits:
        found = item if isinstance(item, Passage) else Passage.of(item)
        for candidate in [found] if found.first == found.last else [found, Passage.of(found.hit)]:
            text = prompts.passage(lang, len(kept) + 1, candidate.file, candidate.page, candidate.text)
            cost = model.count_tokens(text) + 2
            if used + cost <= budget:
                kept.append(candidate)
                passages.append(text)
                used += cost
                break
    if hits and not kept:
        raise ModelError(
            f"None of the {len(hits)} retrieved passages fits the context of model '{model.model_id}' "
            f"({model.context} tokens). Pick a model with a longer context, or rebuild the knowledge base "
            "with a smaller chunk size."
        )
    turns: list[Message] = []
    for i in range(len(history) - 2, -1, -2):  # newest pair first, stop at the first that does not fit
        pair = [dict(m) for m in history[i : i + 2]]
        cost = sum(model.count_tokens(m["content"]) + MESSAGE_OVERHEAD for m in pair)
        if used + cost > budget:
            break
        turns[:0] = pair  # type: ignore[misc]
        used += cost
    user = prompts.kb_user(lang, question, passages) if kb_chat else question
    messages: list[Message] = [{"role": "system", "content": system}, *turns, {"role": "user", "content": user}]
    return Prompt(messages, kept, min(max_tokens, model.context - used))


def _stopped() -> Iterator[AnswerEvent]:
    """The end of an answer stopped before its first word."""
    yield AnswerEvent("sources")
    yield AnswerEvent("done", cancelled=True)


def _source(index: int, passage: Passage) -> Source:
    hit = passage.hit
    snippet = " ".join(hit.text.split())
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[: SNIPPET_CHARS - 1] + "…"
    url, preview_url = (hit.url, None) if hit.url else source_links(hit.kb, hit.file, hit.page, hit.doc_id, hit.chunk_index)
    return Source(index, hit.kb, hit.file, hit.page, hit.section, snippet, round(float(hit.score), 4),
                  hit.chunk_index, (passage.first, passage.last), url, hit.doc_id or None, preview_url)


class Answerer:
    """Answers with the models of `llms`; a local one loads only once the answer needs it (after the search,
    so a refusal loads nothing)."""

    def __init__(self, settings: Settings, llms: LLMManager):
        self.settings = settings
        self.llms = llms

    def answer(
        self,
        question: str,
        retrieve: Retrieve | None = None,
        scope: Scope | None = None,
        *,
        model: str | None = None,
        history: Sequence[Message] = (),
        temperature: float | None = None,
        max_tokens: int | None = None,
        refuse_when_empty: bool = True,
        cancel: threading.Event | None = None,
        stages: bool = False,
        rewrite: bool = True,
        language: Language | None = None,
    ) -> Iterator[AnswerEvent]:
        """Stream an answer: with `retrieve` (and the `scope` it searches) grounded in what it finds; when it
        finds nothing, say so instead of asking the model (unless refuse_when_empty=False), and when what it
        finds does not cover the question, say that and list the nearest passages. `rewrite`: a follow-up
        question (there is history) is searched as the standalone question the model rewrites it into.
        `cancel` is checked between stages too, so a stop before the first word ends the answer at once.
        `language`: the question's, when the caller knows it."""
        try:
            if retrieve is not None and scope is None:
                raise ValueError("A grounded answer needs the scope its retriever searches.")
            yield from self._answer(question, retrieve, scope, model, history, temperature, max_tokens,
                                    refuse_when_empty, cancel, stages, rewrite, language)
        except ChatchatError as exc:
            yield AnswerEvent("error", text=exc.message, error=exc)

    def _answer(
        self, question, retrieve, scope, model_id, history, temperature, max_tokens, refuse_when_empty, cancel,
        stages, rewrite, language,
    ) -> Iterator[AnswerEvent]:
        question = question.strip()
        if not question:
            raise ChatchatError("The question is empty: type a question first.")
        lang = language or prompts.detect_language(question)
        ref = self.llms.resolve(model_id or self.settings.default_llm)
        passages: tuple[Passage, ...] = ()
        if retrieve is not None:
            query = question
            if rewrite and history:
                if stages and ref.local and ref.id not in self.llms.loaded():
                    yield AnswerEvent("stage", text="load")
                query = standalone_query(self.llms.get(ref.id), question, history, cancel, language=lang)
                if query != question:
                    yield AnswerEvent("query", text=query)
            if stages:
                yield AnswerEvent("stage", text="search")
            found = retrieve(query, lang)
            if cancel is not None and cancel.is_set():
                yield from _stopped()
                return
            if not found.passages and refuse_when_empty:
                text = (prompts.text(lang, "nothing_found_files", files=scope.names) if scope.files
                        else prompts.text(lang, "nothing_found", kb=scope.names))
                yield from _refusal(text)
                return
            if not found.covered:  # the relevance gate: the nearest passages are offered, the model is not asked
                yield from _refusal(prompts.text(lang, "not_covered", kb=scope.names), found.passages)
                return
            passages = found.passages
        if stages and ref.local and ref.id not in self.llms.loaded():
            yield AnswerEvent("stage", text="load")
        chat_model = self.llms.get(ref.id)
        if cancel is not None and cancel.is_set():
            yield from _stopped()
            return
        turns = self.settings.history_turns
        recent = list(history)[-2 * turns :] if turns else []
        limit = max_tokens or self.llms.catalog.default_max_tokens(ref.id, self.settings.max_tokens)
        prompt = build_prompt(chat_model, question, passages, recent, limit, bool(passages), language=lang)
        if stages:
            yield AnswerEvent("stage", text="think")
        parts: list[str] = []
        for delta in chat_model.chat(
            prompt.messages,
            temperature=self.settings.temperature if temperature is None else temperature,
            max_tokens=prompt.max_tokens,
            cancel=cancel,
        ):
            parts.append(delta)
            yield AnswerEvent("delta", text=delta)
        yield AnswerEvent("sources", sources=tuple(_source(i, p) for i, p in enumerate(prompt.passages, 1)))
        answer = "".join(parts)
        # markers are checked against the passages the model read ([n] outside 1..n dropped), or attached by the app
        cited = citations.cite(answer, [p.text for p in prompt.passages]) if prompt.passages else citations.CitedAnswer(answer, ())
        yield AnswerEvent("done", text=answer, cited=cited.text, markers=cited.markers,
                          cancelled=bool(cancel and cancel.is_set()))


def _refusal(text: str, nearest: Sequence[Passage] = ()) -> Iterator[AnswerEvent]:
    yield AnswerEvent("delta", text=text)
    yield AnswerEvent("sources", sources=tuple(_source(i, p) for i, p in enumerate(nearest, 1)))
    yield AnswerEvent("done", text=text)


def recorded(events: Iterator[AnswerEvent], store: ConversationStore, conversation_id: str,
             model_id: str) -> Iterator[AnswerEvent]:
    """`events` passed through, the answer saved to the conversation before "done" is yielded (a stopped
    one too)."""
    sources: tuple[Source, ...] = ()
    for event in events:
        if event.kind == "sources":
            sources = event.sources
        if event.kind == "done" and (event.text or event.cancelled):
            try:
                store.add_message(conversation_id, ChatMessage(
                    role="assistant", content=event.cited or event.text, model=model_id,
                    markers=[m.to_dict() for m in event.markers],
                    sources=[s.to_dict() for s in sources], cancelled=event.cancelled, steps=list(event.steps),
                ))
            except ChatchatError as exc:
                yield AnswerEvent("error", text=exc.message, error=exc)
                return
        yield event
