"""Grounded answers: retrieve passages → build the prompt within the model's context → stream.

`Answerer.answer` yields `AnswerEvent`s: any number of "delta", then "sources", then "done";
or, at any point, one "error" that ends the stream. The UI, the API (SSE) and the CLI all
consume this one generator. Errors a user can fix arrive as events, never as exceptions.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterator, Literal, Sequence

from chatchat import prompts
from chatchat.config import Settings
from chatchat.conversations import ChatMessage, ConversationStore
from chatchat.errors import ChatchatError, ModelError
from chatchat.llm.base import ChatModel, Message
from chatchat.llm.manager import LLMManager

if TYPE_CHECKING:
    from chatchat.service import Services
    from chatchat.store import Hit

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
    snippet: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AnswerEvent:
    kind: Literal["delta", "sources", "error", "done"]
    text: str = ""  # delta: the new text; done: the whole answer; error: the message to show
    sources: tuple[Source, ...] = ()  # sources
    error: ChatchatError | None = None  # error
    cancelled: bool = False  # done: the user stopped the answer part-way

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for SSE)."""
        data: dict[str, Any] = {"kind": self.kind}
        if self.kind == "sources":
            data["sources"] = [source.to_dict() for source in self.sources]
        elif self.kind == "error":
            data.update(text=self.text, code=self.error.code if self.error else "error")
        else:
            data["text"] = self.text
        if self.kind == "done":
            data["cancelled"] = self.cancelled
        return data


@dataclass
class Prompt:
    messages: list[Message]
    hits: list[Hit]  # the retrieved passages that fitted, numbered [1].. in order
    max_tokens: int  # what is left of the context for the answer, at most the asked max


def build_prompt(
    model: ChatModel, question: str, hits: Sequence[Hit], history: Sequence[Message], max_tokens: int, kb_chat: bool
) -> Prompt:
    """The messages for the model: instructions, as much recent history and as many of the best
    passages as the context leaves room for after reserving tokens for the answer."""
    lang = prompts.detect_language(question)
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
    kept: list[Hit] = []
    passages: list[str] = []
    for hit in hits:
        text = prompts.passage(lang, len(kept) + 1, hit.file, hit.page, hit.text)
        cost = model.count_tokens(text) + 2
        if used + cost <= budget:
            kept.append(hit)
            passages.append(text)
            used += cost
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


def _source(index: int, hit: Hit) -> Source:
    snippet = " ".join(hit.text.split())
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[: SNIPPET_CHARS - 1] + "…"
    return Source(index, hit.kb, hit.file, hit.page, hit.section, snippet, round(float(hit.score), 4))


class Answerer:
    def __init__(self, settings: Settings, llms: LLMManager, services: Services | None = None):
        self.settings = settings
        self.llms = llms
        self.services = services

    def answer(
        self,
        question: str,
        *,
        model: str | None = None,
        kb: str | None = None,
        files: list[str] | None = None,
        history: Sequence[Message] = (),
        top_k: int | None = None,
        score_threshold: float | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        refuse_when_empty: bool = True,
        cancel: threading.Event | None = None,
    ) -> Iterator[AnswerEvent]:
        """Stream an answer. With `kb`, ground it in that knowledge base (optionally only in `files`);
        when nothing relevant is found, say so instead of asking the model (unless refuse_when_empty=False)."""
        try:
            yield from self._answer(
                question, model, kb, files, history, top_k, score_threshold, temperature, max_tokens,
                refuse_when_empty, cancel,
            )
        except ChatchatError as exc:
            yield AnswerEvent("error", text=exc.message, error=exc)

    def _answer(
        self, question, model_id, kb, files, history, top_k, score_threshold, temperature, max_tokens,
        refuse_when_empty, cancel,
    ) -> Iterator[AnswerEvent]:
        question = question.strip()
        if not question:
            raise ChatchatError("The question is empty: type a question first.")
        model = self.llms.get(model_id)
        hits: list[Hit] = []
        if kb:
            if self.services is None:
                raise ChatchatError("Knowledge-base chat needs the knowledge-base service, which is not open.")
            hits = self.services.search(kb, question, top_k=top_k or self.settings.top_k,
                                        score_threshold=score_threshold, files=files)
            if not hits and refuse_when_empty:
                text = prompts.text(prompts.detect_language(question), "nothing_found", kb=kb)
                yield AnswerEvent("delta", text=text)
                yield AnswerEvent("sources")
                yield AnswerEvent("done", text=text)
                return
        turns = self.settings.history_turns
        recent = list(history)[-2 * turns :] if turns else []
        prompt = build_prompt(model, question, hits, recent, max_tokens or self.settings.max_tokens, bool(hits))
        parts: list[str] = []
        for delta in model.chat(
            prompt.messages,
            temperature=self.settings.temperature if temperature is None else temperature,
            max_tokens=prompt.max_tokens,
            cancel=cancel,
        ):
            parts.append(delta)
            yield AnswerEvent("delta", text=delta)
        yield AnswerEvent("sources", sources=tuple(_source(i, hit) for i, hit in enumerate(prompt.hits, 1)))
        yield AnswerEvent("done", text="".join(parts), cancelled=bool(cancel and cancel.is_set()))

    def reply(
        self, store: ConversationStore, conversation_id: str, question: str, *,
        model: str | None = None, cancel: threading.Event | None = None, **options: Any,
    ) -> Iterator[AnswerEvent]:
        """Answer inside a conversation: its mode, knowledge base, model and history; the exchange is
        saved before "done" is yielded. A failed answer saves nothing, so the conversation stays as it was."""
        try:
            conversation = store.get(conversation_id)
        except ChatchatError as exc:
            yield AnswerEvent("error", text=exc.message, error=exc)
            return
        kb = {"kb": conversation.kb, "file": conversation.temp_kb}.get(conversation.mode)
        model_id = model or conversation.model or self.settings.default_llm
        history = conversation.history(self.settings.history_turns)
        sources: tuple[Source, ...] = ()
        for event in self.answer(question, model=model_id, kb=kb, history=history, cancel=cancel, **options):
            if event.kind == "sources":
                sources = event.sources
            if event.kind == "done" and event.text:
                try:
                    store.add_exchange(
                        conversation_id,
                        ChatMessage(role="user", content=question.strip()),
                        ChatMessage(role="assistant", content=event.text, model=model_id,
                                    sources=[s.to_dict() for s in sources], cancelled=event.cancelled),
                    )
                except ChatchatError as exc:
                    yield AnswerEvent("error", text=exc.message, error=exc)
                    return
            yield event
