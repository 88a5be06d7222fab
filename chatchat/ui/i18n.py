"""Every UI string in English and Chinese, and how a browser session's language is chosen.

Static labels are `tr(key)`: the browser translates them (gr.I18n), so they follow a language switch
without a round trip. Text the server writes (tables, messages, progress) is `t(key, lang, **values)`.
"""

from __future__ import annotations

import gradio as gr

from chatchat.retrieval.registry import INTERRUPTED, DocumentRecord

from chatchat.ui.strings import chat, common, evaluation, ingest, knowledge, models, settings, sources, web

LANGUAGES = ("zh", "en")
# what the frontend's locale is set to: Gradio's own strings (upload hints, buttons) exist as zh-CN
FRONTEND_LOCALE = {"zh": "zh-CN", "en": "en"}

# key: (English, 中文), gathered from one module a tab
STRINGS: dict[str, tuple[str, str]] = {
    **common.STRINGS, **chat.STRINGS, **knowledge.STRINGS, **models.STRINGS, **settings.STRINGS,
    **evaluation.STRINGS, **web.STRINGS, **sources.STRINGS, **ingest.STRINGS,
}


def _table(column: int) -> dict[str, str]:
    return {key: pair[column] for key, pair in STRINGS.items()}


I18N = gr.I18n(en=_table(0), zh=_table(1))


def tr(key: str) -> gr.i18n.I18nData:
    """A label the browser shows in its current language."""
    if key not in STRINGS:
        raise KeyError(f"UI string '{key}' is missing from chatchat/ui/strings/")
    return I18N(key)


def t(key: str, lang: str, /, **values: object) -> str:
    """A string in `lang` ('zh' or 'en'), with {placeholders} filled."""
    english, chinese = STRINGS[key]
    text = chinese if lang == "zh" else english
    return text.format(**values) if values else text


def error_text(error: Exception, lang: str) -> str:
    """What the UI shows for a server error: its "error.<key>" text in `lang` when it has one, else its
    message (English)."""
    message = getattr(error, "message", None) or str(error)
    return message_text(message, getattr(error, "key", None), getattr(error, "params", {}), lang)


def message_text(message: str, key: str | None, params: dict[str, object], lang: str) -> str:
    """An error kept as its English `message`, `key` and `params` (a file's ingest result), in `lang`. A param
    that is words in each language ({"en": …, "zh": …}, e.g. the name of a file kind) is put in `lang`'s."""
    if key and f"error.{key}" in STRINGS:
        return t(f"error.{key}", lang, **{name: _in_language(value, lang) for name, value in params.items()})
    return message


def _in_language(value: object, lang: str) -> object:
    if isinstance(value, dict) and set(value) == {"en", "zh"}:
        return value[lang if lang in value else "en"]
    return value


def document_error_text(record: DocumentRecord, lang: str) -> str:
    """A registered document's error in `lang` ("" when it has none)."""
    if record.error == INTERRUPTED:
        return t("error.ingest_interrupted", lang)
    return record.error or ""


def _primary(tag: str) -> str:
    return tag.strip().split(";")[0].strip().lower().replace("_", "-").split("-")[0]


def choose_language(saved: str | None, browser: list[str], accept_language: str | None, default: str) -> str:
    """The session's language: the person's own choice in this browser, else the app's setting, else
    the browser's first language we speak (navigator.languages, then the Accept-Language header)."""
    if saved in LANGUAGES:
        return saved
    if default in LANGUAGES:
        return default
    tags = [tag for tag in browser if tag] or [part for part in (accept_language or "").split(",") if part.strip()]
    for tag in tags:
        if _primary(tag) in LANGUAGES:
            return _primary(tag)
    return "en"
