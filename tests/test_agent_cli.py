"""`chatchat ask --agent` and agent conversations (Services.reply). The model is a provider model pointing at
tests/tool_model_stand_in.py, a scripted OpenAI-compatible server that returns tool calls (the stand-in for
a cloud model: none is reachable here); the MCP server (tests/mcp_test_server.py) is real, configured in
settings.yaml as a person would, and the terminal that asks y/N is a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import tool_model_stand_in
from chatchat.cli import main as cli_main
from chatchat.config import save_settings
from chatchat.service import Services

REPO = Path(__file__).resolve().parents[1]
SERVER = Path(__file__).with_name("mcp_test_server.py")
MODEL = "standin/stand-in"


@pytest.fixture
def stand_in(settings):
    with tool_model_stand_in.running([]) as server:
        settings.home.mkdir(parents=True, exist_ok=True)
        (settings.home / "models.yaml").write_text(yaml.safe_dump(
            {"providers": [{"id": "standin", "name": "Tool-calling stand-in", "base_url": server.url}]}))
        save_settings(settings, {"default_llm": MODEL})
        yield server


def test_ask_agent_prints_each_step_and_the_answer(settings, stand_in, capsys):
    home = ["--home", str(settings.home)]
    stand_in.script = [{"tool_calls": [("calculator", {"expression": "（３＋４）×２"})]}, {"content": "等于 14。"}]
    assert cli_main([*home, "ask", "--agent", "(3+4)*2 等于多少？"]) == 0
    out = capsys.readouterr().out
    assert '[step 1] calculator({"expression": "（３＋４）×２"})' in out and ": 14" in out
    assert out.rstrip().endswith("等于 14。")
    stand_in.script = [{"tool_calls": [("current_time", {"timezone": "Asia/Shanghai"})]}, {"content": "now"}]
    assert cli_main([*home, "ask", "--agent", "--json", "what time is it?"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [step] = [e["step"] for e in events if e["kind"] == "step"]
    assert step["tool"] == "current_time" and step["ok"] and "+0800" in step["summary"]
    assert events[-1]["kind"] == "done" and events[-1]["steps"] == [step]


def test_ask_agent_refuses_what_it_cannot_do(settings, stand_in, capsys):
    home = ["--home", str(settings.home)]
    assert cli_main([*home, "ask", "--agent", "--kb", "nope", "x"]) == 2
    assert "nope" in capsys.readouterr().err
    assert cli_main([*home, "ask", "--agent", "--files", "a.txt", "x"]) == 2
    assert cli_main([*home, "ask", "--agent", "--model", "no-such-model", "x"]) == 2
    assert stand_in.requests == []  # nothing reached the model


def test_a_tool_that_asks_first_asks_on_a_terminal_and_is_refused_elsewhere(settings, stand_in, capfd, tmp_path):
    # capfd: the MCP SDK hands the stdio server this process's stderr file descriptor
    notes = tmp_path / "notes.txt"
    save_settings(settings, {"mcp_servers": [{"name": "notes", "command": f"{sys.executable} {SERVER} stdio {notes}"}]})
    remember = [{"tool_calls": [("notes__remember", {"note": "买牛奶"})]}, {"content": "好的"}]
    stand_in.script = list(remember)
    assert cli_main(["--home", str(settings.home), "ask", "--agent", "记一下：买牛奶"]) == 0  # stdin: no terminal
    printed = capfd.readouterr()
    assert "(failed)" in printed.out and not notes.exists(), printed.err
    assert "not allowed" in stand_in.requests[-1]["messages"][-1]["content"], printed.err

    stand_in.script = list(remember)
    leader, follower = pty.openpty()
    os.write(leader, b"y\n")
    done = subprocess.run([sys.executable, "-m", "chatchat", "--home", str(settings.home), "ask", "--agent", "记一下"],
                          stdin=follower, capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO / "tests")})
    os.close(follower)
    os.close(leader)
    assert done.returncode == 0, done.stderr
    assert "[step 1] notes__remember [notes]" in done.stdout and "(failed)" not in done.stdout
    assert notes.read_text(encoding="utf-8") == "买牛奶\n"


def test_an_agent_conversation_keeps_the_steps_of_its_answers(settings, stand_in):
    services = Services.open(settings)
    conversation = services.conversations.create(mode="agent", model=MODEL)
    stand_in.script = [{"tool_calls": [("convert_units", {"value": 10, "from_unit": "斤", "to_unit": "kg"})]},
                       {"content": "5 kg"}]
    events = list(services.reply(conversation.id, "10斤是多少公斤？"))
    assert [e.kind for e in events if e.kind in ("step", "done")] == ["step", "done"]
    question, answer = services.conversations.get(conversation.id).messages
    assert question.content == "10斤是多少公斤？" and answer.content.strip() == "5 kg"
    assert answer.steps == [e.step for e in events if e.kind == "step"] and answer.steps[0]["summary"] == "10 斤 = 5 kg"
    stand_in.script = [{"content": "again"}]
    list(services.reply(conversation.id, "再说一遍"))
    sent = stand_in.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
