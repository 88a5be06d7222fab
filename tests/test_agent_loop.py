"""The agent loop end to end: the real OpenAI-compatible engine talking to a local stand-in for a cloud
model that calls tools (tests/tool_model_stand_in.py: no cloud model is reachable here, so a scripted
server speaks the protocol), real tools, a real MCP server, the step limit, Stop and asking first."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

import tool_model_stand_in
from chatchat.agent.builtin import basic_tools
from chatchat.agent.chat import agent_answer, toolset
from chatchat.agent.loop import run_agent
from chatchat.config import McpServer
from chatchat.errors import ChatchatError
from chatchat.llm.openai_engine import OpenAIChatModel
from chatchat.models.catalog import ProviderEntry

SERVER = Path(__file__).with_name("mcp_test_server.py")


def _model(url: str) -> OpenAIChatModel:
    provider = ProviderEntry(id="custom", name="stand-in", base_url=url)
    return OpenAIChatModel("custom:stand-in", provider, "stand-in", None)


def _step(model):
    return lambda messages, specs, cancel: model.chat(messages, tools=specs or None, cancel=cancel, temperature=0)


def test_the_model_calls_a_tool_reads_its_result_and_answers(settings):
    script = [{"tool_calls": [("calculator", {"expression": "（３＋４）×２"})]}, {"content": "The answer is 14."}]
    with tool_model_stand_in.running(script) as stand_in:
        events = list(agent_answer(settings, _model(stand_in.url), [], "What is (3+4)*2?", "en",
                                   toolset(settings, "en")))
    steps = [e.step for e in events if e.kind == "step"]
    assert [(s["tool"], s["arguments"], s["summary"], s["ok"]) for s in steps] == [
        ("calculator", {"expression": "（３＋４）×２"}, "14", True)]
    done = events[-1]
    assert done.kind == "done" and done.text.strip() == "The answer is 14." and len(done.steps) == 1
    first, second = stand_in.requests
    assert {t["function"]["name"] for t in first["tools"]} == {"calculator", "current_time", "convert_units"}
    assert first["messages"][0]["role"] == "system" and first["messages"][-1]["content"] == "What is (3+4)*2?"
    tool_message = second["messages"][-1]
    assert tool_message == {"role": "tool", "tool_call_id": "call_0", "content": "14"}
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "calculator"


def _stages(events) -> list[tuple]:
    return [(e.text, e.step) for e in events if e.kind == "stage"]


def test_a_stage_comes_before_each_model_turn_and_each_tool_run(settings):
    """A small local model takes minutes to pick a tool: the faces show where the agent is meanwhile."""
    script = [{"tool_calls": [("calculator", {"expression": "6*7"})]}, {"content": "42."}]
    with tool_model_stand_in.running(script) as stand_in:
        events = list(run_agent(_step(_model(stand_in.url)), [{"role": "user", "content": "6*7?"}], basic_tools()))
    kinds = [e.kind for e in events]
    assert kinds[:4] == ["stage", "stage", "step", "stage"] and kinds[-1] == "done"
    assert set(kinds[4:-1]) == {"delta"}  # the last stage comes before the answer's first word
    assert _stages(events) == [("agent_think", {"step": 1, "of": 6}),
                               ("agent_tool", {"step": 1, "of": 6, "tool": "calculator"}),
                               ("agent_think", {"step": 2, "of": 6})]
    assert events[0].to_dict() == {"kind": "stage", "text": "agent_think", "step": {"step": 1, "of": 6}}


def test_a_missing_tool_and_a_failing_tool_go_back_to_the_model(settings):
    script = [{"tool_calls": [("no_such_tool", {}), ("calculator", {"expression": "1/0"})]}, {"content": "Sorry."}]
    with tool_model_stand_in.running(script) as stand_in:
        events = list(run_agent(_step(_model(stand_in.url)), [{"role": "user", "content": "x"}], basic_tools()))
    results = [m["content"] for m in stand_in.requests[1]["messages"] if m["role"] == "tool"]
    assert results == ["There is no tool named 'no_such_tool'.", "Division by zero in '1/0'."]
    assert [e.step["ok"] for e in events if e.kind == "step"] == [False, False]


def test_the_step_limit_ends_a_runaway_loop_with_a_message(settings):
    calls = [{"tool_calls": [("calculator", {"expression": f"{n}+1"})]} for n in range(3)]
    with tool_model_stand_in.running(calls + [{"tool_calls": [("calculator", {"expression": "4+1"})]}]) as stand_in:
        events = list(run_agent(_step(_model(stand_in.url)), [{"role": "user", "content": "x"}], basic_tools(),
                                max_steps=3))
    assert [e.kind for e in events].count("step") == 3
    assert "tools" not in stand_in.requests[3] or not stand_in.requests[3]["tools"]  # the last turn: answer only
    error = next(e for e in events if e.kind == "error")
    assert "after 3 tool calls" in error.text and error.error.key == "agent_step_limit"
    assert events[-1].kind == "done"
    thinking = [stage for stage in _stages(events) if stage[0] != "agent_tool"]
    assert thinking == [("agent_think", {"step": n, "of": 3}) for n in (1, 2, 3)] + [("agent_answer", {"step": 3, "of": 3})]


def test_the_same_call_again_is_not_run_and_the_model_must_answer(settings):
    """A small model that asks for the same tool with the same arguments again (SmolLM2 did, until the step
    limit) gets the earlier result back and no tools: it answers now."""
    again = {"tool_calls": [("current_time", {"timezone": "Asia/Shanghai"})]}
    with tool_model_stand_in.running([again, again, {"content": "It is noon."}]) as stand_in:
        events = list(run_agent(_step(_model(stand_in.url)), [{"role": "user", "content": "time?"}], basic_tools()))
    assert [e.step["tool"] for e in events if e.kind == "step"] == ["current_time"]  # run once
    assert len(stand_in.requests) == 3 and not stand_in.requests[2].get("tools")  # the third turn: answer only
    first, second = [m["content"] for m in stand_in.requests[2]["messages"] if m["role"] == "tool"]
    assert second == f"(called before with the same arguments) {first}"
    assert ("agent_repeated", {"step": 2, "of": 6, "tool": "current_time"}) in _stages(events)
    assert events[-1].kind == "done" and events[-1].text.strip() == "It is noon." and not any(e.kind == "error" for e in events)


def test_a_model_that_keeps_repeating_a_call_is_stopped_with_a_message(settings):
    again = {"tool_calls": [("current_time", {})]}
    with tool_model_stand_in.running([again, again, again]) as stand_in:
        events = list(run_agent(_step(_model(stand_in.url)), [{"role": "user", "content": "x"}], basic_tools()))
    assert len(stand_in.requests) == 3
    error = next(e for e in events if e.kind == "error")
    assert error.error.key == "agent_repeated_call" and "current_time" in error.text
    assert events[-1].kind == "done" and len(events[-1].steps) == 1


def test_a_tool_that_may_change_something_runs_only_when_allowed(settings, tmp_path):
    notes = tmp_path / "notes.txt"
    settings = settings.model_copy(update={"mcp_servers": [
        McpServer(name="notes", command=f"{sys.executable} {SERVER} stdio {notes}")]})
    asked = []
    for allow in (False, True):
        script = [{"tool_calls": [("notes__remember", {"note": "明天开会"})]}, {"content": "ok"}]
        with tool_model_stand_in.running(script) as stand_in:
            events = list(agent_answer(settings, _model(stand_in.url), [], "记一下", "zh", toolset(settings, "zh"),
                                       approve=lambda tool, args: asked.append((tool.name, args)) or allow))
        step = next(e.step for e in events if e.kind == "step")
        assert step["ok"] is allow and step["server"] == "notes"
        assert "你是 Chatchat 的助手" in stand_in.requests[0]["messages"][0]["content"]
    assert asked == [("notes__remember", {"note": "明天开会"})] * 2
    assert notes.read_text(encoding="utf-8") == "明天开会\n"


def test_an_unreachable_mcp_server_is_named_and_the_answer_goes_on(settings):
    settings = settings.model_copy(update={"mcp_servers": [McpServer(name="dead", command="/nonexistent/server")]})
    with tool_model_stand_in.running([{"content": "fine"}]) as stand_in:
        events = list(agent_answer(settings, _model(stand_in.url), [], "hi", "en", toolset(settings, "en")))
    notice = events[0]
    assert notice.kind == "notice" and notice.text.startswith("MCP server dead: ") and events[-1].text.strip() == "fine"


def test_stop_ends_the_answer_while_the_model_streams(settings):
    stop = threading.Event()
    script = [{"content": " ".join(["word"] * 200), "delay": 0.02}]
    with tool_model_stand_in.running(script) as stand_in:
        events = []
        for event in run_agent(_step(_model(stand_in.url)), [{"role": "user", "content": "x"}], [], cancel=stop):
            events.append(event)
            if len(events) == 5:
                stop.set()
    assert events[-1].kind == "done" and events[-1].cancelled and events[-1].text.count("word") < 50



def test_a_model_error_ends_the_answer_as_an_error_event_not_an_exception(settings):
    script = [{"tool_calls": [("calculator", "2+2")]}]  # arguments that are not a JSON object
    with tool_model_stand_in.running(script) as stand_in:
        events = list(agent_answer(settings, _model(stand_in.url), [], "2+2?", "en", toolset(settings, "en")))
    assert [e.kind for e in events] == ["stage", "error"]  # the reply failed after the model was asked
    assert events[1].error.key == "tool_arguments" and "calculator" in events[1].text


def test_a_model_that_cannot_call_tools_fails_before_any_stage(settings):
    """So the API can still answer such a request with an HTTP error, not a stream that starts and fails."""
    from chatchat.llm.tools import no_tools_error

    def step(messages, specs, cancel):
        raise no_tools_error("base-model")

    with pytest.raises(ChatchatError):
        next(run_agent(step, [{"role": "user", "content": "x"}], basic_tools()))
