"""Agent chat and client tools over the real app's HTTP API (tests/api_server.py). The model is a provider
model pointing at tests/tool_model_stand_in.py, a scripted OpenAI-compatible server that returns tool calls:
the stand-in for a cloud model (none is reachable here). The tools, the knowledge base (real LanceDB, a real
document) and the MCP server (tests/mcp_test_server.py, over stdio) are real."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
import yaml

import tool_model_stand_in
from api_server import api_settings, running
from conftest import SAMPLES
from chatchat.config import McpServer
from chatchat.service import Services

SERVER = Path(__file__).with_name("mcp_test_server.py")
MODEL = "standin/stand-in"
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city.",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    home = tmp_path_factory.mktemp("agent-api") / "home"
    notes = home.parent / "notes.txt"
    with tool_model_stand_in.running([]) as stand_in:
        home.mkdir(parents=True)
        (home / "models.yaml").write_text(yaml.safe_dump(
            {"providers": [{"id": "standin", "name": "Tool-calling stand-in", "base_url": stand_in.url}]}))
        settings = api_settings(home, llm_threads=1, default_llm=MODEL, mcp_servers=[
            McpServer(name="notes", command=f"{sys.executable} {SERVER} stdio {notes}")])
        services = Services.open(settings)
        services.create_kb("docs")
        [result] = services.add_files("docs", [SAMPLES / "大模型推理优化策略.md"])
        assert result.status == "added"
        with running(settings, services) as base, httpx.Client(base_url=base, timeout=120) as http:
            yield http, stand_in, notes


def _events(response: httpx.Response) -> list[dict]:
    lines = [line[len("data: "):] for line in response.text.splitlines() if line.startswith("data: ")]
    return [json.loads(line) for line in lines if line != "[DONE]"]


def test_an_agent_answer_carries_its_steps(app):
    http, stand_in, _ = app
    stand_in.script = [{"tool_calls": [("calculator", {"expression": "(3+4)*2"})]}, {"content": "It is 14."}]
    reply = http.post("/v1/chat/completions", json={"model": "agent:" + MODEL,
                                                    "messages": [{"role": "user", "content": "What is (3+4)*2?"}]})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["choices"][0]["message"]["content"].strip() == "It is 14."
    assert body["choices"][0]["finish_reason"] == "stop"
    [step] = body["steps"]
    assert (step["tool"], step["arguments"], step["summary"], step["ok"], step["index"]) == (
        "calculator", {"expression": "(3+4)*2"}, "14", True, 1)
    assert {t["function"]["name"] for t in stand_in.requests[-2]["tools"]} >= {"calculator", "notes__remember"}
    assert stand_in.requests[-1]["messages"][-1] == {"role": "tool", "tool_call_id": "call_0", "content": "14"}


def test_agent_alone_is_the_default_model_and_streams_each_step_as_a_chunk(app):
    http, stand_in, _ = app
    stand_in.script = [{"tool_calls": [("calculator", {"expression": "2^10"})]}, {"content": "1024 it is."}]
    reply = http.post("/v1/chat/completions", json={"model": "agent:", "stream": True,
                                                    "messages": [{"role": "user", "content": "2^10?"}]})
    assert reply.status_code == 200, reply.text
    chunks = _events(reply)
    steps = [c["step"] for c in chunks if "step" in c]
    assert [(s["tool"], s["summary"]) for s in steps] == [("calculator", "1024")]
    assert all(c["choices"][0]["delta"] == {} for c in chunks if "step" in c)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.strip() == "1024 it is." and chunks[-1]["steps"] == steps
    stages = [c["stage"] for c in chunks if "stage" in c]  # where the agent is, before each turn and tool run
    assert stages == [{"name": "agent_think", "step": 1, "of": 6},
                      {"name": "agent_tool", "step": 1, "of": 6, "tool": "calculator"},
                      {"name": "agent_think", "step": 2, "of": 6}]
    assert all(c["choices"][0]["delta"] == {} for c in chunks if "stage" in c)


def test_knowledge_bases_give_the_agent_a_search_tool(app):
    http, stand_in, _ = app
    stand_in.script = [{"tool_calls": [("search_knowledge_base", {"query": "推理优化"})]}, {"content": "见文档。"}]
    reply = http.post("/v1/chat/completions", json={"model": "agent:" + MODEL, "knowledge_bases": ["docs"],
                                                    "messages": [{"role": "user", "content": "推理怎么优化？"}]})
    assert reply.status_code == 200, reply.text
    [step] = reply.json()["steps"]
    assert step["tool"] == "search_knowledge_base" and step["ok"]
    assert "大模型推理优化策略" in stand_in.requests[-1]["messages"][-1]["content"]
    assert "你是 Chatchat 的助手" in stand_in.requests[-1]["messages"][0]["content"]
    unknown = http.post("/v1/chat/completions", json={"model": "agent:" + MODEL, "knowledge_bases": ["nope"],
                                                      "messages": [{"role": "user", "content": "x"}]})
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "knowledge_bases"


def test_a_tool_that_asks_first_runs_over_the_api_only_with_approve_tools(app):
    http, stand_in, notes = app
    for approve in (False, True):
        stand_in.script = [{"tool_calls": [("notes__remember", {"note": "开会"})]}, {"content": "ok"}]
        reply = http.post("/v1/chat/completions", json={
            "model": "agent:" + MODEL, "approve_tools": approve, "messages": [{"role": "user", "content": "记下开会"}]})
        assert reply.status_code == 200, reply.text
        [step] = reply.json()["steps"]
        assert step["ok"] is approve and step["server"] == "notes"
        result = stand_in.requests[-1]["messages"][-1]["content"]
        assert ("not allowed" in result) is not approve
    assert notes.read_text(encoding="utf-8") == "开会\n"


def test_client_tools_pass_through_and_the_calls_come_back_as_openai_sends_them(app):
    http, stand_in, _ = app
    question = [{"role": "user", "content": "Weather in Paris?"}]
    stand_in.script = [{"tool_calls": [("get_weather", {"city": "巴黎"})]}]
    reply = http.post("/v1/chat/completions", json={"model": MODEL, "messages": question, "tools": [WEATHER],
                                                    "tool_choice": "required"})
    assert reply.status_code == 200, reply.text
    choice = reply.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather" and json.loads(call["function"]["arguments"]) == {"city": "巴黎"}
    assert stand_in.requests[-1]["tools"] == [WEATHER] and stand_in.requests[-1]["tool_choice"] == "required"

    stand_in.script = [{"tool_calls": [("get_weather", {"city": "巴黎"})]}]
    streamed = _events(http.post("/v1/chat/completions", json={"model": MODEL, "messages": question,
                                                               "tools": [WEATHER], "stream": True}))
    [delta] = [c["choices"][0]["delta"]["tool_calls"] for c in streamed if c["choices"][0]["delta"].get("tool_calls")]
    assert delta[0]["index"] == 0 and delta[0]["id"] == call["id"] and delta[0]["function"] == call["function"]
    assert streamed[-1]["choices"][0]["finish_reason"] == "tool_calls"

    stand_in.script = [{"content": "Sunny, 21 °C."}]
    history = [*question, {"role": "assistant", "content": None, "tool_calls": [call]},
               {"role": "tool", "tool_call_id": call["id"], "content": "晴，21 °C"}]
    answer = http.post("/v1/chat/completions", json={"model": MODEL, "messages": history, "tools": [WEATHER]})
    assert answer.json()["choices"][0]["message"]["content"].strip() == "Sunny, 21 °C."
    sent = stand_in.requests[-1]["messages"]
    assert sent[1]["tool_calls"][0]["function"] == call["function"]
    assert sent[2] == {"role": "tool", "tool_call_id": call["id"], "content": "晴，21 °C"}


def test_seed_agent_chat_streams_tools_then_the_final_answer(app):
    http, stand_in, _ = app
    for stream in (True, False):
        stand_in.script = [{"tool_calls": [("calculator", {"expression": "6*7"})]}, {"content": "42"}]
        reply = http.post("/chat/agent_chat", json={"query": "6*7?", "stream": stream})
        assert reply.status_code == 200, reply.text
        events = _events(reply)
        if stream:
            tools = next(e["tools"] for e in events if "tools" in e)
            assert "工具名称: calculator" in tools and "工具输出: 42" in tools
            assert events[-1]["final_answer"].strip() == "42"
        else:
            [whole] = events
            assert "工具状态: 调用成功" in whole["answer"] and whole["final_answer"].strip() == "42"
