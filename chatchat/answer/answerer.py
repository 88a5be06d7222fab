"""Grounded answers: retrieve passages → build the prompt within the model's context → stream.

`Answerer.answer` yields `AnswerEvent`s: for a follow-up question first one "query" (the standalone
question the knowledge base was searched with), then any number of "delta", then "sources", then "done";
or, at any point, one "error" that ends the stream. With `stages=True` a "stage" event (text "search",
"load" or "think") comes before each slow step, for a UI to show what it is waiting for. The UI, the API (SSE) and the CLI all
consume this one generator. Errors a user can fix arrive as events, never as exceptions.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterator, Literal, Sequence

from chatchat.answer import prompts
from chatchat.config import Settings
from chatchat.retrieval.context import Passage, expand, kb_names
from chatchat.answer.conversations import ChatMessage, Conversation, ConversationStore
from chatchat.errors import ChatchatError, ModelError
from chatchat.answer.followup import standalone_query
from chatchat.llm.base import ChatModel, Message
from chatchat.llm.manager import LLMManager

if TYPE_CHECKING:
    from chatchat.service import Services
    from chatchat.retrieval.store import Hit

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AnswerEvent:
    kind: Literal["stage", "query", "delta", "sources", "error", "done"]
    text: str = ""  # delta: the new text; done: the whole answer; error: the message to show; stage: its name
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
    passages: list[Passage]  # the retrieved passages that fitted, numbered [1].. in order
    max_tokens: int  # what is left of the context for the answer, at most the asked max


def build_prompt(
    model: ChatModel, question: str, hits: Sequence[Passage | Hit], history: Sequence[Message], max_tokens: int,
    kb_chat: bool,
) -> Prompt:
    """The messages for the model: instructions, as much recent history and as many of the best
    passages as the context leaves room for after reserving tokens for the answer. A passage too long
    to fit is given as its matching chunk alone."""
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
    return Source(index, hit.kb, hit.file, hit.page, hit.section, snippet, round(float(hit.score), 4),
                  hit.chunk_index, (passage.first, passage.last))


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
        kb: str | Sequence[str] | None = None,
        files: list[str] | None = None,
        history: Sequence[Message] = (),
        top_k: int | None = None,
        score_threshold: float | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        refuse_when_empty: bool = True,
        cancel: threading.Event | None = None,
        stages: bool = False,
        attached: str | None = None,
        rewrite: bool = True,
        neighbours: bool = True,
    ) -> Iterator[AnswerEvent]:
        """Stream an answer. With `kb` (a name, several joined by commas, or a list), ground it in those knowledge bases (optionally
        only in `files`); when nothing relevant is found, say so instead of asking the model (unless
        refuse_when_empty=False). `rewrite`: a follow-up question (there is history) is searched as the
        standalone question the model rewrites it into. `neighbours`: the model reads each hit with its
        neighbouring chunks (chatchat.retrieval.context).
        `cancel` is checked between stages too, so a stop before the first word ends the answer at once.
        attached: `kb` is an internal one holding these files (named so in messages, never by `kb`)."""
        try:
            yield from self._answer(
                question, model, kb_names(kb), files, history, top_k,
                score_threshold, temperature, max_tokens, refuse_when_empty, cancel, stages, attached, rewrite,
                neighbours,
            )
        except ChatchatError as exc:
            yield AnswerEvent("error", text=exc.message, error=exc)

    def _answer(
        self, question, model_id, kbs, files, history, top_k, score_threshold, temperature, max_tokens,
        refuse_when_empty, cancel, stages, attached, rewrite, neighbours,
    ) -> Iterator[AnswerEvent]:
        question = question.strip()
        if not question:
            raise ChatchatError("The question is empty: type a question first.")
        ref = self.llms.resolve(model_id or self.settings.default_llm)
        passages: list[Passage] = []
        if kbs:
            if self.services is None:
                raise ChatchatError("Knowledge-base chat needs the knowledge-base service, which is not open.")
            query = question
            if rewrite and history:
                if stages and ref.local and ref.id not in self.llms.loaded():
                    yield AnswerEvent("stage", text="load")
                query = standalone_query(self.llms.get(ref.id), question, history, cancel)
                if query != question:
                    yield AnswerEvent("query", text=query)
            if stages:
                yield AnswerEvent("stage", text="search")
            hits = self.services.search_many(kbs, query, top_k=top_k or self.settings.top_k,
                                             score_threshold=score_threshold, files=files)
            passages = expand(hits, self.services.chunk_spans) if neighbours else [Passage.of(h) for h in hits]
            if cancel is not None and cancel.is_set():
                yield from _stopped()
                return
            if not passages and refuse_when_empty:
                lang = prompts.detect_language(question)
                text = (prompts.text(lang, "nothing_found_files", files=attached) if attached
                        else prompts.text(lang, "nothing_found", kb=", ".join(kbs)))
                yield AnswerEvent("delta", text=text)
                yield AnswerEvent("sources")
                yield AnswerEvent("done", text=text)
                return
            if refuse_when_empty and self.settings.search_mode != "fulltext" and not self.services.kb_covers(hits):
                # the relevance gate: the nearest passages are offered, the model is not asked to invent
                lang = prompts.detect_language(question)
                text = prompts.text(lang, "not_covered", kb=attached or ", ".join(kbs))
                yield AnswerEvent("delta", text=text)
                yield AnswerEvent("sources", sources=tuple(_source(i, Passage.of(h)) for i, h in enumerate(hits, 1)))
                yield AnswerEvent("done", text=text)
                return
        if stages and ref.local and ref.id not in self.llms.loaded():
            yield AnswerEvent("stage", text="load")
        model = self.llms.get(ref.id)
        if cancel is not None and cancel.is_set():
            yield from _stopped()
            return
        turns = self.settings.history_turns
        recent = list(history)[-2 * turns :] if turns else []
        limit = max_tokens or self.llms.catalog.default_max_tokens(ref.id, self.settings.max_tokens)
        prompt = build_prompt(model, question, passages, recent, limit, bool(passages))
        if stages:
            yield AnswerEvent("stage", text="think")
        parts: list[str] = []
        for delta in model.chat(
            prompt.messages,
            temperature=self.settings.temperature if temperature is None else temperature,
            max_tokens=prompt.max_tokens,
            cancel=cancel,
        ):
            parts.append(delta)
            yield AnswerEvent("delta", text=delta)
        yield AnswerEvent("sources", sources=tuple(_source(i, p) for i, p in enumerate(prompt.passages, 1)))
        yield AnswerEvent("done", text="".join(parts), cancelled=bool(cancel and cancel.is_set()))

    def reply(
        self, store: ConversationStore, conversation_id: str, question: str, *,
        model: str | None = None, cancel: threading.Event | None = None, **options: Any,
    ) -> Iterator[AnswerEvent]:
        """Answer inside a conversation: its mode, knowledge base, model and history, with "stage" events.
        The question is saved as soon as it is known to be askable (not empty, a model that exists, files
        that are ready), before any slow stage, so a stop, a failure or a closed tab never loses it; the
        answer is saved before "done" is yielded, a stopped one too. A question that cannot be asked saves
        nothing."""
        try:
            conversation = store.get(conversation_id)
            model_id = model or conversation.model or self.settings.default_llm
            self.llms.resolve(model_id)
            if not question.strip():
                raise ChatchatError("The question is empty: type a question first.")
            kb, label = self._kb_of(conversation, store.attaching(conversation_id))
            history = conversation.history(self.settings.history_turns)
            store.add_message(conversation_id, ChatMessage(role="user", content=question.strip()))
        except ChatchatError as exc:
            yield AnswerEvent("error", text=exc.message, error=exc)
            return
        sources: tuple[Source, ...] = ()
        for event in self.answer(question, model=model_id, kb=kb, history=history, cancel=cancel, stages=True,
                                 attached=label, **options):
            if event.kind == "sources":
                sources = event.sources
            if event.kind == "done" and (event.text or event.cancelled):
                try:
                    store.add_message(conversation_id, ChatMessage(
                        role="assistant", content=event.text, model=model_id,
                        sources=[s.to_dict() for s in sources], cancelled=event.cancelled,
                    ))
                except ChatchatError as exc:
                    yield AnswerEvent("error", text=exc.message, error=exc)
                    return
            yield event

    def _kb_of(self, conversation: Conversation, attaching: list[str]) -> tuple[str | None, str | None]:
        """The knowledge base a conversation answers from, and for a file chat (whose knowledge base is
        internal) the names of its files. A file chat asks only once its files are in (`attaching`: the
        files being added now)."""
        if conversation.mode == "kb":
            return conversation.kb, None
        if conversation.mode != "file":
            return None, None
        if self.services is None:
            raise ChatchatError("File chat needs the knowledge-base service, which is not open.")
        docs = self.services.documents(conversation.temp_kb) if conversation.temp_kb else []
        reading = list(dict.fromkeys([*attaching, *(d.file for d in docs if d.status == "ingesting")]))
        if reading:
            raise ChatchatError(f"Still reading {', '.join(reading)}: ask again when the files are ready.",
                                key="files_reading", files=", ".join(reading))
        if not conversation.temp_kb:
            raise ChatchatError("This file chat has no files yet: drop a file into it first.", key="files_first")
        ready = [d.file for d in docs if d.status == "ready"]
        if not ready:
            raise ChatchatError("None of this chat's files could be read: drop a readable file into it.",
                                key="files_unreadable")
        return conversation.temp_kb, ", ".join(ready)
