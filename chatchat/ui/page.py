"""A tab of the UI as a page: it builds its components, then registers their events, and talks to the
other tabs only through named events (`Events`), never by importing them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from chatchat.ui.common import Context, Refresh


@dataclass
class Events:
    """Named events between pages. Each is a hidden counter: the page that changes something returns
    `bump(value)` for it as one more output, and the pages that show that thing listen with `.change`.
    kbs: knowledge bases or their documents changed; models: the models that can answer changed
    (installed, deleted, a new default, a provider key saved or forgotten); conversations: the
    conversation list changed; settings: the app's settings were saved (lite mode, defaults)."""

    kbs: Any = field(default=None)
    models: Any = field(default=None)
    conversations: Any = field(default=None)
    settings: Any = field(default=None)

    @classmethod
    def create(cls) -> "Events":
        """Call inside the gr.Blocks: one counter a browser session for each event."""
        return cls(kbs=gr.State(0), models=gr.State(0), conversations=gr.State(0), settings=gr.State(0))


_ticks = itertools.count(1)


def bump(value: int | None = None) -> int:
    """A new value for an event counter: returning it as an output fires the event's `.change`. It is one
    never handed out before, so a handler need not read the counter (`value`, when it has it) first."""
    return max(next(_ticks), (value or 0) + 1)


class Page:
    """One tab. `build` creates the components (inside the tab's `with gr.Tab(...)`), `register_events`
    wires handlers once every page is built, and `refreshes` are the handlers that re-render server-side
    text when a session loads or its language changes. In those, the language input (`ctx.lang`) is
    given the session's language as the server decided it, not the switch's value in the browser, which
    may still be the default while the first refresh starts. Beyond these a page re-renders only on the
    named events it listens to (`self.events`), never on a tab switch: a field being typed in stays."""

    def __init__(self, ctx: Context, events: Events):
        self.ctx = ctx
        self.events = events
        self.services = ctx.services

    def build(self) -> None:
        raise NotImplementedError

    def register_events(self) -> None:
        raise NotImplementedError

    def refreshes(self) -> list[Refresh]:
        return []

    def end_session(self, session: str) -> None:
        """Called when a browser session ends (its tab closed)."""
