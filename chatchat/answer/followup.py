"""Follow-up questions ("那第二种呢？", "what about the second one?") rewritten into a standalone search
query by the chat model, from the recent conversation. Only retrieval uses the rewritten query; the model
still answers the question as asked, with the history.
"""

from __future__ import annotations

import re
import threading
from typing import Sequence

from chatchat.answer import prompts
from chatchat.llm.base import ChatModel, Message

TURNS = 2  # question/answer pairs of history the rewriting sees
TURN_CHARS = 400  # of each message: long answers are cut, the topic is at their start
MAX_QUERY_TOKENS = 64
_LABEL = re.compile(
    r"^\s*(rewritten( question)?|standalone question|last question|question|user|assistant|"
    r"改写后的问题|改写|最后的问题|问题|用户|助手)\s*[:：]\s*", re.I)
_QUOTES = "\"'“”‘’「」`"


def _conversation(lang: prompts.Language, history: Sequence[Message]) -> str:
    lines = []
    for message in list(history)[-2 * TURNS :]:
        if message["role"] not in ("user", "assistant"):
            continue
        text = " ".join(message["content"].split())
        if len(text) > TURN_CHARS:
            text = text[: TURN_CHARS - 1] + "…"
        lines.append(f"{prompts.text(lang, 'role_' + message['role'])}: {text}")
    return "\n".join(lines)


def clean(
    reply: str, question: str, history: Sequence[Message] = (), language: prompts.Language | None = None
) -> str | None:
    """The rewritten question out of the model's reply, or None when the reply is unusable: empty, in the
    other language, far longer than a question, or a copy of an earlier message or of the prompt's example
    (what small models do). `language`: the question's (detected when not given)."""
    line = next((part for part in reply.strip().splitlines() if part.strip()), "")
    line = _LABEL.sub("", line).strip().strip(_QUOTES).strip()
    lang = language or prompts.detect_language(question)
    if not line or len(line) > 3 * len(question) + 120 or prompts.detect_language(line) != lang:
        return None
    copied = [m["content"].strip() for m in history] + [prompts.text(lang, "rewrite_user", history="", question="")]
    if line != question and any(line in text for text in copied):
        return None
    return line


def standalone_query(
    model: ChatModel, question: str, history: Sequence[Message], cancel: threading.Event | None = None,
    language: prompts.Language | None = None,
) -> str:
    """`question` as a query that stands alone; the question unchanged when there is no history. When the
    model's rewrite is unusable, the last question asked before and this one together. `language`: the
    question's (detected when not given)."""
    lang = language or prompts.detect_language(question)
    conversation = _conversation(lang, history)
    if not conversation:
        return question
    messages: list[Message] = [
        {"role": "system", "content": prompts.text(lang, "rewrite_system")},
        {"role": "user", "content": prompts.text(lang, "rewrite_user", history=conversation, question=question)},
    ]
    reply = "".join(model.chat(messages, temperature=0.0, max_tokens=MAX_QUERY_TOKENS, cancel=cancel))
    rewritten = clean(reply, question, history, lang)
    if rewritten is not None:
        return rewritten
    earlier = next((m["content"].strip() for m in reversed(history) if m["role"] == "user"), "")
    return f"{earlier} {question}".strip()
