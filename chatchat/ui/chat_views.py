"""What the Chat tab draws on the server: the models a person can pick, the demo model's notice, stored
conversations as chatbot messages (answers with their citation markers as chips, and their sources), the
files of a file chat, and the Markdown export.

A chip and a source line are links to `#cc-source/<message id>/<n>`: the source viewer
(chatchat.ui.source_viewer) opens source n of that answer when one is clicked or activated with Enter
(the chatbot's sanitizer keeps a link's href, class and title, not data- attributes)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from chatchat.answer.conversations import ChatMessage, Conversation
from chatchat.answer.feedback import feedback_markdown, rating_of
from chatchat.errors import ChatchatError
from chatchat.ingest.docnames import safe_file_name
from chatchat.service import Services
from chatchat.ui.agent_steps import steps_message
from chatchat.ui.common import esc
from chatchat.ui.i18n import document_error_text, t

EXPORT_DIR = Path(tempfile.gettempdir()) / "chatchat-exports"
SOURCE_LINK = "#cc-source/{message}/{n}"
_MARKER = re.compile(r"\[(\d{1,4})\]")  # as answer/citations.py leaves them: one number a marker


def model_choices(services: Services) -> list[tuple[str, str]]:
    """The chat models that can answer now (services.answering_models), as (label, id); a loaded one is marked."""
    loaded = set(services.llms.loaded())
    choices = []
    for ref in services.answering_models():
        if ref.local and ref.entry is not None:
            choices.append((ref.entry.name + (" ●" if ref.id in loaded else ""), ref.id))
        elif ref.provider is not None:
            choices.append((f"{ref.provider.name} · {ref.remote_name or ref.id}", ref.id))
    return choices


def demo_model(services: Services, model_id: str | None) -> str | None:
    """The name of the demo model when `model_id` is it (a tiny model shipped as a PyPI package, there so a
    fresh install answers at all), else None."""
    entry = services.catalog.llms.get(model_id or services.settings.default_llm)
    return entry.name if entry is not None and entry.package else None


def place(source: dict, lang: str, kb: bool = False) -> list[str]:
    """Where in its file a source is, as plain text: (its knowledge base), its page, its section."""
    parts = [str(source.get("kb", ""))] if kb else []
    if source.get("page") is not None:
        parts.append(t("source.page", lang, page=source["page"]))
    if source.get("section"):
        parts.append(str(source["section"]))
    return parts


def where(source: dict, lang: str) -> str:
    """file · page · section of a source, as plain text."""
    return " · ".join([str(source.get("file", "")), *place(source, lang)])


def source_link(source: dict, message_id: str) -> str:
    """Where a chip or a source line goes: a web page itself (a web answer's source), else the viewer."""
    url = source.get("url") or ""
    if url.startswith(("https://", "http://")):
        return url
    return SOURCE_LINK.format(message=message_id, n=source.get("index"))


def chip(n: int, source: dict, message_id: str, by_app: bool, lang: str) -> str:
    """A citation marker as a chip that opens source n; one the app attached says so on hover."""
    kind = "cc-cite cc-by-app" if by_app else "cc-cite"
    title = where(source, lang) + (" — " + t("cite.by_app", lang) if by_app else "")
    return f'<a class="{kind}" href="{esc(source_link(source, message_id))}" title="{esc(title)}">{n}</a>'


def markers_by_app(message: ChatMessage) -> bool:
    """The app attached this answer's markers (the model wrote none it was allowed to)."""
    return any(marker.get("by") == "app" for marker in message.markers)


def cited(message: ChatMessage, lang: str) -> str:
    """An answer's text with each [n] that points at one of its sources drawn as a chip."""
    sources = {source.get("index"): source for source in message.sources}
    by_app = markers_by_app(message)

    def draw(match: re.Match) -> str:
        n = int(match.group(1))
        return chip(n, sources[n], message.id, by_app, lang) if n in sources else match.group(0)

    return _MARKER.sub(draw, message.content)


def sources_message(sources: list[dict], lang: str, message_id: str | None = None) -> dict:
    """An answer's sources as a folded message; with the answer's `message_id` each one is a link that
    opens it in the source viewer (while an answer streams it has no id yet)."""
    lines = []
    several = len({source.get("kb") for source in sources}) > 1  # then each names its knowledge base
    for source in sources:
        head = f"[{source.get('index', '?')}] {esc(source['file'])}"
        if message_id is not None:
            link, title = esc(source_link(source, message_id)), esc(t("source.open", lang))
            head = f'<a class="cc-source" href="{link}" title="{title}">{head}</a>'
        rest = "".join(f" · {esc(part)}" for part in place(source, lang, kb=several))
        lines.append(f"**{head}**{rest} · {t('source.score', lang)} {float(source.get('score', 0)):.3f}\n\n"
                     f"> {esc(source.get('snippet', ''))}")
    return {
        "role": "assistant",
        "content": "\n\n".join(lines),
        "metadata": {"title": t("source.title", lang, n=len(sources)), "status": "done"},
    }


def rows(conversation: Conversation | None, lang: str) -> list[tuple[dict, ChatMessage]]:
    """A stored conversation as chatbot messages, each with the stored message it shows: an answer is
    followed by its sources, folded."""
    shown: list[tuple[dict, ChatMessage]] = []
    for message in conversation.messages if conversation else []:
        if message.role == "user":
            shown.append(({"role": "user", "content": message.content}, message))
            continue
        stopped = f"\n\n*{t('chat.stopped', lang)}*" if message.cancelled else ""
        shown.append(({"role": "assistant", "content": cited(message, lang) + stopped}, message))
        if message.steps:  # an agent answer's tool calls, folded under it
            shown.append((steps_message(message.steps, lang), message))
        if message.sources:
            shown.append((sources_message(message.sources, lang, message.id), message))
    return shown


def render(conversation: Conversation | None, lang: str) -> list[dict]:
    """A stored conversation as chatbot messages."""
    return [shown for shown, _ in rows(conversation, lang)]


def thumbs(conversation: Conversation | None) -> list[str | None]:
    """The chatbot's feedback_value: the thumb kept with each answer, one entry a group of consecutive
    answer messages (the chatbot draws one pair of thumbs a group, for the group's first message)."""
    values: list[str | None] = []
    role = None
    for shown, message in rows(conversation, "en"):
        if shown["role"] == "assistant" and role != "assistant":
            feedback = message.feedback
            values.append(None if feedback is None else "Like" if rating_of(feedback) == "up" else "Dislike")
        role = shown["role"]
    return values


def attached_html(services: Services, conversation: Conversation | None, lang: str) -> str:
    """The files of a file chat, as chips (a file that could not be read says why on hover)."""
    if conversation is None or not conversation.temp_kb:
        return ""
    try:
        docs = services.documents(conversation.temp_kb)
    except ChatchatError:
        return ""
    chips = "".join(
        f'<span class="cc-chip cc-{esc(d.status)}" title="{esc(document_error_text(d, lang))}">{esc(d.file)}</span>' for d in docs
    )
    return f'<div class="cc-chips"><span>{esc(t("chat.attached", lang))}</span>{chips}</div>'


def export_file(services: Services, conversation: Conversation) -> str:
    """The conversation as a Markdown file to download."""
    title = re.sub(r"[\\/]+", "-", conversation.title or "conversation")[:80]  # a title is not a path
    name = safe_file_name(title) + ".md"
    folder = EXPORT_DIR / conversation.id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(services.conversations.export_markdown(conversation.id, note=feedback_markdown), encoding="utf-8")
    return str(path)
