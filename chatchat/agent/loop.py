"""The agent loop: the model answers or asks for tools; the app runs them and gives the results back;
until the model answers in words, the person stops it, or the step limit ends a runaway loop."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Sequence

from chatchat.agent.tools import Tool, ToolResult, call_tool
from chatchat.answer.answerer import AnswerEvent
from chatchat.errors import ChatchatError
from chatchat.llm.tools import ToolCall

DEFAULT_MAX_STEPS = 6
SUMMARY_CHARS = 300

# (tool, arguments) -> whether the person lets it run; None: no one can be asked (then it does not run)
Approve = Callable[[Tool, dict[str, Any]], bool]
# (messages, tool specs, cancel) -> the model's reply: text deltas and tool calls
Step = Callable[[list[dict[str, Any]], list[dict[str, Any]], threading.Event], Iterator["str | ToolCall"]]


@dataclass(frozen=True)
class AgentStep:
    """One tool call as the person sees it under the answer."""

    index: int
    tool: str
    arguments: dict[str, Any]
    summary: str  # the result's first lines, or why it did not run
    ok: bool
    seconds: float
    server: str = ""  # the MCP server of the tool ('' built-in)


class AgentLimit(ChatchatError):
    code = "agent_step_limit"


def run_agent(
    step: Step,
    messages: Sequence[dict[str, Any]],
    tools: Sequence[Tool],
    *,
    approve: Approve | None = None,
    cancel: threading.Event | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> Iterator[AnswerEvent]:
    """Drive the model through tool calls, as AnswerEvents: "stage" before each model turn and each tool run
    (see `stage`), "delta", "step" (AgentStep as a dict), then "done" with every step (or "error", then
    "done", when the step limit is reached). Every tool result goes back to the model as a `tool` message;
    a tool the model names that does not exist, bad arguments, a refusal or a failure come back as that
    tool's result, so the model can recover. After `max_steps` tool calls the model must answer."""
    cancel = cancel or threading.Event()
    by_name = {tool.name: tool for tool in tools}
    specs = [tool.spec() for tool in tools]
    history = [dict(m) for m in messages]
    taken: list[dict[str, Any]] = []
    results: dict[str, str] = {}  # a call's tool and arguments -> what it returned
    repeated = ""  # a tool the model asked for again with the same arguments: it has what it needs, so it answers
    answer = ""
    while True:
        out_of_steps = len(taken) >= max_steps
        must_answer = out_of_steps or bool(repeated)
        replies = step(history, [] if must_answer else specs, cancel)  # a model that cannot fails here, unstaged
        if out_of_steps:
            yield stage("agent_answer", len(taken) + 1, max_steps)
        elif repeated:
            yield stage("agent_repeated", len(taken) + 1, max_steps, repeated)
        else:
            yield stage("agent_think", len(taken) + 1, max_steps)
        text, calls = "", []
        for piece in replies:
            if isinstance(piece, ToolCall):
                calls.append(piece)
            elif piece:
                text += piece
                yield AnswerEvent("delta", text=piece)
        answer += text
        if cancel.is_set():
            yield AnswerEvent("done", text=answer, steps=tuple(taken), cancelled=True)
            return
        if not calls:
            yield AnswerEvent("done", text=answer, steps=tuple(taken))
            return
        if must_answer:  # the model was offered no tools and still asked for one
            limit = (AgentLimit(f"The agent stopped after {max_steps} tool calls without an answer.",
                                key="agent_step_limit", steps=max_steps) if out_of_steps else
                     AgentLimit(f"The agent stopped: the model asked for {repeated} again with the same arguments "
                                "instead of answering.", key="agent_repeated_call", tool=repeated))
            yield AnswerEvent("error", text=limit.message, error=limit)
            yield AnswerEvent("done", text=answer, steps=tuple(taken))
            return
        history.append({"role": "assistant", "content": text,  # "": a chat template may join it as text
                        "tool_calls": [call.as_openai() for call in calls]})
        for call in calls:
            key = f"{call.name} {json.dumps(call.arguments, sort_keys=True, ensure_ascii=False)}"
            if key in results:  # not run again, not a step: the model gets the same result and must answer
                repeated = repeated or call.name
                history.append({"role": "tool", "tool_call_id": call.id,
                                "content": f"(called before with the same arguments) {results[key]}"})
                continue
            if len(taken) >= max_steps or cancel.is_set():
                result = ToolResult("not run: the step limit was reached", False, 0.0)
            else:
                yield stage("agent_tool", len(taken) + 1, max_steps, call.name)
                result = _run(by_name.get(call.name), call, approve, cancel)
            history.append({"role": "tool", "tool_call_id": call.id, "content": result.text})
            results[key] = result.text
            if len(taken) < max_steps:
                done = asdict(AgentStep(len(taken) + 1, call.name, call.arguments, _summary(result.text), result.ok,
                                        round(result.seconds, 3), getattr(by_name.get(call.name), "server", "")))
                taken.append(done)
                yield AnswerEvent("step", step=done)


def stage(name: str, index: int, of: int, tool: str = "") -> AnswerEvent:
    """What the agent is doing now, for a face to show while it waits (a small local model takes minutes
    to pick a tool): "agent_think" (the model decides step `index` of at most `of` tool calls),
    "agent_tool" (`tool` runs as step `index`), "agent_answer" (all `of` steps used: it must answer now) or
    "agent_repeated" (it asked for `tool` again with the same arguments: it must answer now).
    `step` carries {"step": index, "of": of} and, while a tool runs, "tool"."""
    return AnswerEvent("stage", text=name, step={"step": min(index, of), "of": of, **({"tool": tool} if tool else {})})


def _run(tool: Tool | None, call: ToolCall, approve: Approve | None, cancel: threading.Event) -> ToolResult:
    started = time.monotonic()
    if tool is None:
        return ToolResult(f"There is no tool named '{call.name}'.", False, 0.0)
    if tool.confirm and approve is None:
        return ToolResult(f"{tool.name} is not allowed to run here: it asks before running, and no one can be asked.",
                          False, 0.0)
    if tool.confirm and not approve(tool, call.arguments):
        return ToolResult(f"The user did not allow {tool.name} to run.", False, time.monotonic() - started)
    return call_tool(tool, call.arguments, cancel)


def _summary(text: str) -> str:
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…"
