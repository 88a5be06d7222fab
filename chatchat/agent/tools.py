"""What a tool is to the agent: a name, a JSON-schema of its arguments, a function, and the limits every
call runs under (a timeout, a cap on the result's size)."""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from chatchat.errors import ChatchatError

MAX_RESULT_CHARS = 4000  # what one tool result may add to the model's context
DEFAULT_TIMEOUT_S = 20.0
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="chatchat-tool")


class ToolError(ChatchatError):
    """A tool could not do what it was asked; the message goes back to the model as the tool's result."""

    code = "tool_error"


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    run: Callable[[dict[str, Any]], str]
    confirm: bool = False  # ask the person before it runs (a tool that may change something)
    timeout_s: float = DEFAULT_TIMEOUT_S
    server: str = ""  # the MCP server it comes from ('' for a built-in tool)

    def spec(self) -> dict[str, Any]:
        """The OpenAI-style function spec the model sees."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


@dataclass(frozen=True)
class ToolResult:
    text: str  # what the model reads next (an error's message when `ok` is False)
    ok: bool
    seconds: float
    truncated: bool = False


def call_tool(tool: Tool, arguments: dict[str, Any], cancel: threading.Event | None = None) -> ToolResult:
    """Run one call within the tool's timeout, cancellable, its result cut to MAX_RESULT_CHARS. Failures
    come back as a result (ok False) for the model to read, never as an exception."""
    start = time.monotonic()
    future = _POOL.submit(tool.run, arguments)
    deadline = start + tool.timeout_s
    try:
        while True:
            try:
                text = future.result(timeout=0.1)
                break
            except concurrent.futures.TimeoutError:
                if cancel is not None and cancel.is_set():
                    future.cancel()
                    return ToolResult("stopped by the user", False, time.monotonic() - start)
                if time.monotonic() > deadline:
                    future.cancel()
                    return ToolResult(f"{tool.name} did not answer within {tool.timeout_s:g} s", False,
                                      time.monotonic() - start)
    except ChatchatError as exc:
        return ToolResult(exc.message, False, time.monotonic() - start)
    except Exception as exc:  # a tool's own failure: the model may try another way
        return ToolResult(f"{tool.name} failed: {type(exc).__name__}: {exc}", False, time.monotonic() - start)
    text = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
    cut = len(text) > MAX_RESULT_CHARS
    return ToolResult(text[:MAX_RESULT_CHARS] + (" …[cut]" if cut else ""), True, time.monotonic() - start, cut)
