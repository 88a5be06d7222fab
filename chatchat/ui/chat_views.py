"""What the Chat tab draws on the server: the models a person can pick, the demo model's notice, stored
conversations as chatbot messages with their sources, and the Markdown export."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from chatchat.config import KeyStore
from chatchat.answer.conversations import Conversation
from chatchat.ingest.docnames import safe_file_name
from chatchat.service import Services
from chatchat.ui.common import esc
from chatchat.ui.i18n import t

EXPORT_DIR = Path(tempfile.gettempdir()) / "chatchat-exports"


def model_choices(services: Services) -> list[tuple[str, str]]:
    """Chat models that can answer now: installed local ones (unless lite), and the chat models of every
    provider that has a key."""
    settings = services.settings
    loaded = set(services.llms.loaded())
    choices = []
    if not settings.lite:
        for status in services.models.models("llm"):
            entry = status.entry
            if status.installed and entry.is_local and entry.chat:
                choices.append((entry.name + (" ●" if entry.id in loaded else ""), entry.id))
    keys = KeyStore(settings.home)
    for provider in services.catalog.providers.values():
        if provider.chat_models and keys.get(provider.id, provider.key_env):
            choices += [(f"{provider.name} · {m}", f"{provider.id}/{m}") for m in provider.chat_models]
    return choices


def demo_model(services: Services, model_id: str | None) -> str | None:
    """The name of the demo model when `model_id` is it (a tiny model shipped as a PyPI package, there so a
    fresh install answers at all), else None."""
    entry = services.catalog.llms.get(model_id or services.settings.default_llm)
    return entry.name if entry is not None and entry.package else None


def sources_message(sources: list[dict], lang: str) -> dict:
    lines = []
    several = len({source.get("kb") for source in sources}) > 1  # then each names its knowledge base
    for source in sources:
        where = f"**[{source.get('index', '?')}] {esc(source['file'])}**"
        if several:
            where += f" · {esc(source['kb'])}"
        if source.get("page") is not None:
            where += " · " + t("source.page", lang, page=source["page"])
        if source.get("section"):
            where += f" · {esc(source['section'])}"
        lines.append(f"{where} · {t('source.score', lang)} {float(source.get('score', 0)):.3f}\n\n"
                     f"> {esc(source.get('snippet', ''))}")
    return {
        "role": "assistant",
        "content": "\n\n".join(lines),
        "metadata": {"title": t("source.title", lang, n=len(sources)), "status": "done"},
    }


def render(conversation: Conversation | None, lang: str) -> list[dict]:
    """A stored conversation as chatbot messages: each answer followed by its sources, folded."""
    messages: list[dict] = []
    for message in conversation.messages if conversation else []:
        if message.role == "user":
            messages.append({"role": "user", "content": message.content})
            continue
        stopped = f"\n\n*{t('chat.stopped', lang)}*" if message.cancelled else ""
        messages.append({"role": "assistant", "content": message.content + stopped})
        if message.sources:
            messages.append(sources_message(message.sources, lang))
    return messages


def export_file(services: Services, conversation: Conversation) -> str:
    """The conversation as a Markdown file to download."""
    title = re.sub(r"[\\/]+", "-", conversation.title or "conversation")[:80]  # a title is not a path
    name = safe_file_name(title) + ".md"
    folder = EXPORT_DIR / conversation.id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(services.conversations.export_markdown(conversation.id), encoding="utf-8")
    return str(path)
