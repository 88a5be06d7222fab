"""What every tab shares: errors shown as messages a person can read, and small formatting helpers."""

from __future__ import annotations

import functools
import html
import inspect
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import gradio as gr

from chatchat.answer.conversations import readable_time
from chatchat.errors import ChatchatError
from chatchat.policy import Caller
from chatchat.ui.i18n import LANGUAGES, error_text, t

log = logging.getLogger("chatchat.ui")


def _show_error(exc: Exception, lang: str) -> None:
    """The error as a toast. Never raised as gr.Error: Gradio then marks every output of the event with a
    red "Error" badge and leaves an overlay over them that takes clicks until a reload."""
    if isinstance(exc, ChatchatError):
        warn(error_text(exc, lang))
    else:
        log.error("UI handler failed", exc_info=exc)
        warn(t("error.unexpected", lang, error=f"{type(exc).__name__}: {exc}"))


def info(message: str) -> None:
    gr.Info(esc(message), title="Chatchat")


def warn(message: str) -> None:
    gr.Warning(esc(message), title="Chatchat")


def guarded(fn: Callable) -> Callable:
    """Wrap a UI handler so that an error shows as a toast and leaves the tab as it was: a ChatchatError
    shows its message (in the language of the handler's `lang_` argument), anything else a one-line note
    (the traceback goes to the server log), and every output keeps its value (gr.skip()), as it does when
    a stream ends before its first update. A stream stops where it failed; what it drew so far stays, so a
    stream that changes buttons restores them itself."""
    signature = inspect.signature(fn)

    def language(args: tuple, kwargs: dict) -> str:
        try:
            lang = signature.bind_partial(*args, **kwargs).arguments.get("lang_")
        except TypeError:
            return "en"
        return lang if lang in LANGUAGES else "en"

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any):
            drew = False
            try:
                for update in fn(*args, **kwargs):
                    drew = True
                    yield update
            except Exception as exc:
                _show_error(exc, language(args, kwargs))
                yield gr.skip()
                return
            if not drew:  # a stream that ends before its first update: Gradio would empty every output
                yield gr.skip()

        return generator

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            _show_error(exc, language(args, kwargs))
            return gr.skip()

    return call


@dataclass
class Refresh:
    """A tab's handler that re-renders what it builds on the server (lists, tables, hints), run once a
    browser session has loaded and again whenever its language changes."""

    fn: Callable
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def local_time(iso: str | None) -> str:
    """An ISO timestamp (UTC) as local 'YYYY-MM-DD HH:MM'."""
    return readable_time(iso) if iso else ""


def session_of(request: gr.Request | None) -> str:
    """The browser session a handler runs for ('' outside a session, e.g. an API call without one)."""
    return (request.session_hash if request else None) or ""


def caller_of(request: gr.Request | None) -> Caller:
    """Who a handler runs for, as the policy (`services.policy`) knows callers."""
    return Caller(session_of(request))


def kb_choices(services: Any, caller: Caller, lang: str) -> list[tuple[str, str]]:
    """The knowledge bases a picker offers `caller`, as (label, name): those the policy lets them see;
    their own uploads' knowledge base (a Space visitor's) labelled as theirs."""
    own = services.policy.own_kb(caller)
    return [(t("kb.mine", lang) if kb.name == own else kb.name, kb.name)
            for kb in services.policy.visible_kbs(services, caller)]


def file_names(files: list | None) -> list[str]:
    """Paths of the files a gr.File component holds (a list of paths, or None)."""
    return [str(getattr(f, "name", f)) for f in files or []]


@dataclass
class Context:
    """What each page gets: the services, the header's language switch (its value, 'zh' or 'en', is an
    input of every handler that writes text on the server) and the gr.Tabs holding the pages (a handler
    that returns `gr.Tabs(selected=<tab id>)` for it opens that tab: chat, kb, models, settings)."""

    services: Any
    lang: Any
    tabs: Any = None
