"""What every tab shares: errors shown as messages a person can read, and small formatting helpers."""

from __future__ import annotations

import functools
import html
import inspect
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

import gradio as gr

from chatchat.errors import ChatchatError

log = logging.getLogger("chatchat.ui")


def _as_gradio_error(exc: Exception) -> gr.Error:
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, ChatchatError):
        message = exc.message
    else:
        log.exception("UI handler failed")
        message = f"Something went wrong ({type(exc).__name__}: {exc}). The details are in the server log."
    # toasts render HTML: a file name like '<img onerror=…>' must arrive as text
    return gr.Error(esc(message), title="Chatchat", print_exception=False)


def info(message: str) -> None:
    gr.Info(esc(message), title="Chatchat")


def warn(message: str) -> None:
    gr.Warning(esc(message), title="Chatchat")


def guarded(fn: Callable) -> Callable:
    """Wrap a UI handler so that no error reaches the browser as a stack trace: a ChatchatError shows its
    message as a toast, anything else a one-line note (the traceback goes to the server log). The outputs
    keep their values, so the UI stays usable."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                raise _as_gradio_error(exc) from exc

        return generator

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise _as_gradio_error(exc) from exc

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
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def session_of(request: gr.Request | None) -> str:
    """The browser session a handler runs for ('' outside a session, e.g. an API call without one)."""
    return (request.session_hash if request else None) or ""


def file_names(files: list | None) -> list[str]:
    """Paths of the files a gr.File component holds (a list of paths, or None)."""
    return [str(getattr(f, "name", f)) for f in files or []]


@dataclass
class Context:
    """What each tab's builder gets: the services, and the header's language switch (its value, 'zh' or
    'en', is an input of every handler that writes text on the server)."""

    services: Any
    lang: Any
