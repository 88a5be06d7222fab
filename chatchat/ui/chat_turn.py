"""One answer of the Chat tab as it is written: `services.reply` runs in a thread of its own
(chatchat.jobs.Job) and the page redraws the bubble from its events, so that it shows each stage
(searching, loading the model, reading the prompt; an agent's thinking and tool runs, step by step, after
its words so far) and Stop ends the turn at any of them."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterator

from chatchat.answer.answerer import AnswerEvent
from chatchat.jobs import Job
from chatchat.ui.agent_steps import Asking, steps_message
from chatchat.ui.chat_views import sources_message
from chatchat.ui.common import esc
from chatchat.ui.i18n import error_text, t

STREAM_INTERVAL = 0.05  # seconds between redraws of a streaming answer
STOP_GRACE = 1.0  # seconds a stopped answer has to end by itself before the turn is given back anyway
log = logging.getLogger("chatchat.ui")


class Turns:
    """The Stop switch of each browser session's running answer: a session asks one question at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stops: dict[str, threading.Event] = {}

    def busy(self, session: str) -> bool:
        with self._lock:
            return session in self._stops

    def begin(self, session: str) -> threading.Event:
        with self._lock:
            self._stops[session] = stop = threading.Event()
        return stop

    def end(self, session: str, stop: threading.Event) -> None:
        with self._lock:
            if self._stops.get(session) is stop:
                del self._stops[session]

    def stop(self, session: str) -> None:
        with self._lock:
            stop = self._stops.get(session)
        if stop is not None:
            stop.set()


class Turn:
    """The bubbles of one question and its answer, drawn as the answer's events come. After `frames()`
    has ended: `failed` is the message of an answer that failed (None if it did not), `asked` says the
    question was saved (reply() said so with its first stage) and `pressed` that the person pressed Stop.
    An agent answer's steps are drawn folded under it as they come; `asking()` is the approval request
    open now (drawn by the page), and a frame is yielded each time it changes."""

    def __init__(self, services: Any, cid: str, text: str, model: str | None, options: dict, lang: str,
                 stop: threading.Event, base: list[dict], asking: Callable[[], Asking | None] = lambda: None):
        self.services, self.cid, self.text, self.model, self.options = services, cid, text, model, options
        self.lang, self.stop = lang, stop
        self.answer = {"role": "assistant", "content": f"*{t('chat.stage.wait', lang)}*"}
        self.shown = [*base, {"role": "user", "content": text}, self.answer]
        self.failed: str | None = None
        self.asked = False
        self.pressed = False
        self.asking, self.pending = asking, None
        self.steps: list[dict] = []
        self.steps_shown: dict | None = None

    def _events(self) -> Iterator[AnswerEvent | None]:
        def work(progress, cancel: threading.Event) -> None:
            try:
                for event in self.services.reply(self.cid, self.text, model=self.model, cancel=cancel, **self.options):
                    progress(event)
            except Exception as exc:  # a bug in an engine: shown to the person, never lost in a thread
                log.error("chat answer failed", exc_info=exc)
                progress(AnswerEvent("error", text=f"{type(exc).__name__}: {exc}"))

        return Job(work, name="chat-answer", cancel=self.stop).events(idle=STREAM_INTERVAL)

    def frames(self) -> Iterator[list[dict]]:
        """The chatbot's messages each time they change: first the stage the answer is at, then its text.
        A Stop gives the turn back within STOP_GRACE even when the engine cannot stop at once (a model
        still loading finishes in the background, and reply() saves what it wrote)."""
        parts: list[str] = []
        stopped_at = None
        drawn = time.monotonic()
        try:
            for event in self._events():
                if event is None:
                    if self.asking() is not self.pending:
                        self.pending = self.asking()
                        yield self.shown
                    if self.stop.is_set():
                        stopped_at = stopped_at or time.monotonic()
                        if time.monotonic() - stopped_at > STOP_GRACE:
                            break
                    continue
                if event.kind == "stage":
                    self.asked = True
                    self.answer["content"] = "".join(parts) + ("\n\n" if parts else "") + self._stage(event)
                    yield self.shown
                elif event.kind == "delta":
                    parts.append(event.text)
                    self.answer["content"] = "".join(parts)
                    if time.monotonic() - drawn >= STREAM_INTERVAL:
                        yield self.shown
                        drawn = time.monotonic()
                elif event.kind == "step" and event.step:
                    self._step(event.step)
                    yield self.shown
                elif event.kind == "notice":
                    self.shown.append({"role": "assistant", "content": f"ℹ {event.text}"})
                elif event.kind == "query":  # a follow-up: what the knowledge base was searched with
                    self.shown.append({"role": "assistant",
                                       "content": t("chat.searched_as", self.lang, query=event.text)})
                elif event.kind == "sources" and event.sources:
                    self.shown.append(sources_message([s.to_dict() for s in event.sources], self.lang))
                elif event.kind == "error":
                    self.failed = error_text(event.error, self.lang) if event.error else event.text
                elif event.kind == "done" and not event.cancelled:  # no stage left showing, also after no words
                    self.answer["content"] = "".join(parts)
            self.pressed = self.stop.is_set()
        finally:
            self.pending = None
            if self.steps_shown is not None:
                self.steps_shown.update(steps_message(self.steps, self.lang))
            self.stop.set()  # also when the page went away mid-answer: the answer so far is saved, marked stopped
        if self.failed is not None:
            self.answer["content"] = f"⚠ {self.failed}"
        elif self.pressed:
            self.answer["content"] = "".join(parts) + ("\n\n" if parts else "") + f"*{t('chat.stopped', self.lang)}*"
        yield self.shown

    def _stage(self, event: AnswerEvent) -> str:
        """A stage as the bubble shows it, after the words so far: an agent's with its step and tool."""
        where = {k: esc(str(v)) for k, v in (event.step or {}).items()}
        return f"*{t('chat.stage.' + event.text, self.lang, **where)}*"

    def _step(self, step: dict) -> None:
        """A tool step: drawn (with those before it) in one folded message under the answer."""
        self.steps.append(step)
        if self.steps_shown is None:
            self.steps_shown = {}
            self.shown.insert(next(i for i, m in enumerate(self.shown) if m is self.answer) + 1, self.steps_shown)
        self.steps_shown.update(steps_message(self.steps, self.lang, running=True))
