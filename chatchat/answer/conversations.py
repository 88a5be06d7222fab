"""Conversations kept on disk: one JSON file per conversation under settings.conversations_dir.

Writes are atomic (temp file + rename), so a crash never leaves half a conversation. A question is
saved the moment it is asked and its answer when it ends, so a stop, a failure or a closed tab never
loses the question. A file chat names in `temp_kb` the internal knowledge base holding the files dropped
into it (owner "conversation:<id>", never listed); Services.attach_files and Services.delete_conversation
keep the two together. This module is persistence only: it knows no knowledge base and no service.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from pydantic import BaseModel, Field, ValidationError

from chatchat.errors import ChatchatError, NotFound
from chatchat.fs import atomic_write

if TYPE_CHECKING:
    from chatchat.llm.base import Message

_ID = re.compile(r"^[0-9a-f]{16}$")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def readable_time(iso: str) -> str:
    """A stored UTC timestamp as local 'YYYY-MM-DD HH:MM' (the text itself when it is not a timestamp)."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


# llm: the model alone; kb: from knowledge bases; file: from files attached to the conversation; web: from
# pages a search engine finds; agent: the model calls tools
Mode = Literal["llm", "kb", "file", "web", "agent"]


class Feedback(BaseModel):
    """A reader's rating of an answer (the seed API's /chat/feedback)."""

    score: int = Field(ge=0, le=100)
    reason: str = ""
    created: str = Field(default_factory=_now)


class ChatMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    created: str = Field(default_factory=_now)
    model: str | None = None  # which model answered
    sources: list[dict] = Field(default_factory=list)  # rag.Source.to_dict() of each cited passage
    markers: list[dict] = Field(default_factory=list)  # citations.Marker.to_dict() of each [n] in content (by: model | app)
    cancelled: bool = False  # the user stopped the answer part-way
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:16])
    feedback: Feedback | None = None
    steps: list[dict] = Field(default_factory=list)  # an agent answer's tool calls (AnswerEvent "step" dicts)


class Conversation(BaseModel):
    id: str
    title: str
    created: str
    updated: str
    mode: Mode = "llm"
    kb: str | None = None  # knowledge base of a kb chat
    model: str | None = None  # model chosen for this conversation (None: the default)
    temp_kb: str | None = None  # knowledge base holding a file chat's files
    messages: list[ChatMessage] = Field(default_factory=list)

    def history(self, turns: int) -> list[Message]:
        """The last `turns` answered question/answer pairs, as chat messages (a question left without an
        answer, or an answer stopped before its first word, is not history)."""
        pairs: list[Message] = []
        for question, answer in zip(self.messages, self.messages[1:]):
            if question.role == "user" and answer.role == "assistant" and answer.content:
                pairs += [{"role": "user", "content": question.content},
                          {"role": "assistant", "content": answer.content}]
        return pairs[-2 * turns :] if turns > 0 else []


class ConversationStore:
    def __init__(self, directory: Path):
        self.directory = directory
        self._lock = threading.Lock()

    def create(
        self, title: str = "", mode: Mode = "llm", kb: str | None = None, model: str | None = None
    ) -> Conversation:
        if mode == "kb" and not kb:
            raise ChatchatError("A knowledge-base chat needs a knowledge base: pick one first.")
        now = _now()
        conversation = Conversation(
            id=uuid.uuid4().hex[:16], title=title.strip(), created=now, updated=now, mode=mode, kb=kb, model=model
        )
        self.save(conversation)
        return conversation

    def get(self, conversation_id: str) -> Conversation:
        path = self._path(conversation_id)
        try:
            return Conversation.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            raise NotFound(f"No conversation '{conversation_id}': it was deleted or never existed.") from None
        except ValidationError as exc:
            raise ChatchatError(f"Conversation file {path} is damaged ({exc.error_count()} problems); it was left as it is.") from exc

    def save(self, conversation: Conversation) -> None:
        atomic_write(self._path(conversation.id), conversation.model_dump_json(indent=1), sync=True)

    def list(self) -> list[Conversation]:
        """Every readable conversation, most recently updated first (damaged files are skipped, not touched)."""
        found = []
        for path in self.directory.glob("*.json") if self.directory.exists() else []:
            try:
                found.append(Conversation.model_validate_json(path.read_bytes()))
            except (OSError, ValidationError):
                continue
        return sorted(found, key=lambda c: c.updated, reverse=True)

    def search(self, query: str) -> list[Conversation]:
        """Conversations whose title or messages contain `query` (case-insensitive)."""
        needle = query.strip().casefold()
        if not needle:
            return self.list()
        return [
            c for c in self.list()
            if needle in c.title.casefold() or any(needle in m.content.casefold() for m in c.messages)
        ]

    def rename(self, conversation_id: str, title: str) -> Conversation:
        if not title.strip():
            raise ChatchatError("A conversation title cannot be empty.")
        with self._lock:
            conversation = self.get(conversation_id)
            conversation.title = title.strip()
            conversation.updated = _now()
            self.save(conversation)
        return conversation

    def get_or_create(self, client_id: str, mode: Mode = "llm", kb: str | None = None,
                      model: str | None = None) -> Conversation:
        """The conversation a client names with an id of its own choosing (the seed API's conversation_id),
        made on first use. Our own ids name themselves; any other text is hashed to one."""
        conversation_id = client_id if _ID.match(client_id) else hashlib.sha256(client_id.encode()).hexdigest()[:16]
        with self._lock:
            if not self.exists(conversation_id):
                now = _now()
                self.save(Conversation(id=conversation_id, title="", created=now, updated=now, mode=mode, kb=kb, model=model))
            return self.get(conversation_id)

    def rate(self, conversation_id: str, message_id: str, score: int, reason: str = "") -> None:
        """Keep a rating (0–100) and its reason with one answer of the conversation."""
        with self._lock:
            conversation = self.get(conversation_id)
            message = next((m for m in conversation.messages if m.id == message_id and m.role == "assistant"), None)
            if message is None:
                raise NotFound(f"No answer '{message_id}' in conversation '{conversation_id}'.")
            message.feedback = Feedback(score=score, reason=reason)
            self.save(conversation)

    def exists(self, conversation_id: str) -> bool:
        return _ID.match(conversation_id) is not None and self._path(conversation_id).is_file()

    def add_exchange(self, conversation_id: str, question: ChatMessage, answer: ChatMessage) -> Conversation:
        """Append a question and its answer together."""
        return self._append(conversation_id, question, answer)

    def add_message(self, conversation_id: str, message: ChatMessage) -> Conversation:
        """Append one message: a question as it is asked, its answer when it ends."""
        return self._append(conversation_id, message)

    def _append(self, conversation_id: str, *messages: ChatMessage) -> Conversation:
        with self._lock:
            conversation = self.get(conversation_id)
            conversation.messages += messages
            if not conversation.title and messages[0].role == "user":
                conversation.title = " ".join(messages[0].content.split())[:60]
            conversation.updated = _now()
            self.save(conversation)
        return conversation

    def delete(self, conversation_id: str) -> None:
        """Remove the conversation's file (its file chat's knowledge base is Services.delete_conversation's)."""
        try:
            self._path(conversation_id).unlink()
        except FileNotFoundError:
            raise NotFound(f"No conversation '{conversation_id}': it was deleted or never existed.") from None

    def make_file_chat(self, conversation_id: str, kb: str) -> Conversation:
        """The conversation becomes a file chat answering from knowledge base `kb` (its attached files)."""
        with self._lock:
            conversation = self.get(conversation_id)
            conversation.temp_kb, conversation.mode, conversation.updated = kb, "file", _now()
            self.save(conversation)
        return conversation

    def export_markdown(self, conversation_id: str, note: Callable[[ChatMessage], str] | None = None) -> str:
        """The conversation as Markdown, under its current title, with times in the local time zone;
        `note`: a line to show under a message ('' for none), e.g. feedback.feedback_markdown."""
        conversation = self.get(conversation_id)
        lines = [f"# {conversation.title or 'Conversation'}", ""]
        if conversation.mode == "kb" and conversation.kb:
            lines += [f"Knowledge base: {conversation.kb}", ""]
        for message in conversation.messages:
            who = "**You**" if message.role == "user" else f"**Assistant** ({message.model or 'default model'})"
            lines += [f"{who} · {readable_time(message.created)}", "",
                      message.content + (" *(stopped)*" if message.cancelled else ""), ""]
            for source in message.sources:
                page = f", page {source['page']}" if source.get("page") is not None else ""
                lines.append(f"> [{source.get('index', '?')}] {source['file']}{page}: {source.get('snippet', '')}")
            if message.sources:
                lines.append("")
            if note is not None and (said := note(message)):
                lines += [f"*{said}*", ""]
        return "\n".join(lines).rstrip() + "\n"

    def _path(self, conversation_id: str) -> Path:
        if not _ID.match(conversation_id):
            raise NotFound(f"No conversation '{conversation_id}': not a conversation id.")
        return self.directory / f"{conversation_id}.json"
