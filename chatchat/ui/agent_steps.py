"""What the Chat tab shows of an agent answer: its tool steps folded under the answer (tool, arguments,
result summary, time; a failed one marked), and the person's OK for a tool that asks before running.

An approval is asked from the turn's thread (chatchat.agent calls `approve(tool, arguments)` there): the
thread waits on a threading.Event until Allow or Deny is pressed, Stop is pressed, or APPROVAL_TIMEOUT
passes (then the tool is refused)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from chatchat.ui.common import esc
from chatchat.ui.i18n import t

APPROVAL_TIMEOUT = 120.0  # seconds an unanswered request waits before the tool is refused
ARGS_CHARS = 300  # arguments shown of a step (the whole call is in the stored answer)


def arguments_text(arguments: dict[str, Any]) -> str:
    text = json.dumps(arguments, ensure_ascii=False)
    return text if len(text) <= ARGS_CHARS else text[:ARGS_CHARS] + "…"


def step_line(step: dict[str, Any], lang: str) -> str:
    mark = "✓" if step.get("ok") else "✗ " + t("agent.step_failed", lang)
    server = f" · {esc(step['server'])}" if step.get("server") else ""
    return (f"{mark} **{esc(step.get('tool', ''))}**{server} · {float(step.get('seconds') or 0):.2f} s\n\n"
            f"<code>{esc(arguments_text(step.get('arguments') or {}))}</code>\n\n> {esc(step.get('summary', ''))}")


def steps_message(steps: list[dict[str, Any]], lang: str, running: bool = False) -> dict:
    """An agent answer's tool steps as one folded chatbot message."""
    return {
        "role": "assistant",
        "content": "\n\n".join(step_line(step, lang) for step in steps),
        "metadata": {"title": t("agent.steps", lang, n=len(steps)), "status": "pending" if running else "done"},
    }


@dataclass
class Asking:
    """One request for the person's OK: may `tool` run with `arguments`?"""

    tool: str
    arguments: dict[str, Any]
    allowed: bool = False
    answered: threading.Event = field(default_factory=threading.Event)


class Approvals:
    """Each browser session's open approval request (a session runs one answer at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, Asking] = {}

    def asker(self, session: str, stop: threading.Event,
              timeout: float = APPROVAL_TIMEOUT) -> Callable[[Any, dict[str, Any]], bool]:
        """The `approve` callback of one turn: asks `session`, waits; Stop or the timeout refuse."""

        def approve(tool: Any, arguments: dict[str, Any]) -> bool:
            asking = Asking(tool.name, dict(arguments))
            with self._lock:
                self._open[session] = asking
            deadline = time.monotonic() + timeout
            try:
                while not asking.answered.wait(0.1):
                    if stop.is_set() or time.monotonic() > deadline:
                        return False
                return asking.allowed
            finally:
                with self._lock:
                    if self._open.get(session) is asking:
                        del self._open[session]

        return approve

    def pending(self, session: str) -> Asking | None:
        with self._lock:
            return self._open.get(session)

    def decide(self, session: str, allowed: bool) -> None:
        with self._lock:
            asking = self._open.get(session)
        if asking is not None:
            asking.allowed = allowed
            asking.answered.set()


def approval_text(asking: Asking | None, lang: str) -> str:
    if asking is None:
        return ""
    return (f"**{esc(t('agent.approve_question', lang, tool=asking.tool))}**\n\n"
            f"<code>{esc(arguments_text(asking.arguments))}</code>")
