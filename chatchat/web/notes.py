"""A web answer: the Answerer's answer over a WebRetriever, and what it adds for its reader: which sources
could not be read, and why, in the question's language. `with_unread_note` puts that note at the end of the
answer's stream, so the UI, the API and the CLI all show it and the conversation keeps it."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterator

from chatchat.answer.answerer import AnswerEvent, Answerer, Scope

if TYPE_CHECKING:
    from chatchat.answer.prompts import Language
    from chatchat.web.retriever import Unread, WebRetriever

HEADER = {"en": "Could not read {count} of the sources:", "zh": "有 {count} 个来源无法读取："}
SNIPPET_USED = {"en": "the search engine's snippet was used instead", "zh": "已改用搜索引擎给出的摘要"}
# why, by the error's key: short, as the note names the page already
REASONS: dict[str, tuple[str, str]] = {
    "page_http": ("it answered HTTP {status}", "返回 HTTP {status}"),
    "page_redirects": ("it redirects in a loop", "陷入重定向循环"),
    "page_private": ("an address of this network, not read", "本机或内网地址，不读取"),
    "page_unreachable": ("cannot be reached", "无法连接"),
    "page_not_text": ("not text in a known encoding", "不是已知编码的文本"),
    "page_binary": ("not a web page ({type})", "不是网页（{type}）"),
    "page_too_large": ("larger than {limit} MB", "超过 {limit} MB"),
    "page_timeout": ("took longer than {seconds} s", "加载超过 {seconds} 秒"),
    "page_no_text": ("no text to read", "没有可读取的正文"),
}


def unread_note(unread: tuple[Unread, ...], language: Language) -> str:
    """A Markdown note listing the sources not read ('' when all were)."""
    if not unread:
        return ""
    column = 1 if language == "zh" else 0
    lines = [HEADER[language].format(count=len(unread))]
    for item in unread:
        pair = REASONS.get(item.error.key or "")
        reason = pair[column].format(**item.error.params) if pair else item.error.message
        if item.result.snippet:
            reason += ("；" if column else "; ") + SNIPPET_USED[language]
        title = (item.result.title or item.result.url).replace("]", "\\]")
        lines.append(f"- [{title}]({item.result.url}): {reason}")
    return "\n".join(lines)


def with_unread_note(events: Iterator[AnswerEvent], retriever: WebRetriever) -> Iterator[AnswerEvent]:
    """The answer's events, with the note on unread sources as its last words (a delta before "sources",
    and in the "done" text), in the language the question was searched in."""
    note = ""
    for event in events:
        if event.kind == "sources" and retriever.last is not None:
            note = unread_note(retriever.last.unread, retriever.last.language)
            if note:
                note = "\n\n" + note
                yield AnswerEvent("delta", text=note)
        if event.kind == "done" and note:
            event = replace(event, text=event.text + note, cited=event.cited + note if event.cited else "")
        yield event


def web_answer(answerer: Answerer, retriever: WebRetriever, question: str, **options: Any) -> Iterator[AnswerEvent]:
    """Answerer.answer grounded in what `retriever` finds on the web (`options`: model, history, temperature,
    max_tokens, cancel, stages, rewrite, language), ending with the note on the sources not read."""
    events = answerer.answer(question, retriever, Scope(retriever.provider.name), **options)
    return with_unread_note(events, retriever)
