"""The agent's tools on real inputs: the calculator, units, time, knowledge-base search on a real
knowledge base, and MCP servers' tools through the official SDK against a real MCP server
(tests/mcp_test_server.py) started by these tests, over stdio and over streamable HTTP."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from api_server import free_port
from conftest import SAMPLES
from chatchat.agent.builtin import basic_tools, calculate, convert, kb_search_tool, now
from chatchat.agent.mcp_tools import McpServer, McpToolbox, tool_name
from chatchat.agent.tools import MAX_RESULT_CHARS, Tool, ToolError, call_tool

SERVER = Path(__file__).with_name("mcp_test_server.py")


@pytest.mark.parametrize("expression, value", [
    ("2 + 3 * 4", "14"), ("（３＋４）×２^10", "7168"), ("1,000 * 5%", "50"), ("sqrt(16) + pi - pi", "4"),
    ("10 ÷ 4", "2.5"), ("factorial(10)", "3628800"),
])
def test_calculator_evaluates_what_people_type(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize("expression", ['__import__("os").system("echo hi")', "open('/etc/passwd')", "9**9**9",
                                        "1/0", "().__class__", "2 +"])
def test_calculator_refuses_what_is_not_arithmetic(expression):
    with pytest.raises(ToolError):
        calculate(expression)


def test_units_convert_within_a_dimension_and_refuse_across():
    assert convert(10, "斤", "kg") == "10 斤 = 5 kg"
    assert convert(100, "C", "F") == "100 C = 212 F"
    assert convert(1, "mi", "km") == "1 mi = 1.60934 km"
    with pytest.raises(ToolError, match="Cannot convert"):
        convert(1, "kg", "m")
    with pytest.raises(ToolError, match="Unknown unit"):
        convert(1, "USD", "CNY")


def test_time_in_a_zone_and_a_clear_error_for_an_unknown_one():
    assert "+0800" in now("Asia/Shanghai")
    with pytest.raises(ToolError, match="Unknown time zone"):
        now("Mars/Olympus")


def test_a_tool_call_is_capped_timed_and_never_raises():
    big = Tool("big", "", {}, lambda a: "字" * (MAX_RESULT_CHARS * 2))
    result = call_tool(big, {})
    assert result.ok and result.truncated and len(result.text) < MAX_RESULT_CHARS + 20
    slow = Tool("slow", "", {}, lambda a: time.sleep(5) or "late", timeout_s=0.3)
    result = call_tool(slow, {})
    assert not result.ok and "0.3 s" in result.text and result.seconds < 2
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    assert call_tool(dataclasses.replace(slow, timeout_s=10), {}, stop).text == "stopped by the user"
    broken = Tool("broken", "", {}, lambda a: 1 / 0)
    assert "ZeroDivisionError" in call_tool(broken, {}).text
    calculator = next(t for t in basic_tools() if t.name == "calculator")
    assert call_tool(calculator, {"expression": "6*7"}).text == "42"
    assert not call_tool(calculator, {"expression": "import os"}).ok


def test_knowledge_base_search_tool_reads_a_real_knowledge_base(services):
    services.create_kb("manuals")
    services.add_files("manuals", [SAMPLES / "大模型推理优化策略.md", SAMPLES / "test.txt"])
    tool = kb_search_tool(lambda kbs, q: services.search_many(kbs, q), ["manuals"])
    assert "manuals" in tool.description
    text = call_tool(tool, {"query": "推理优化 KV cache"}).text
    assert text.startswith("[1] 大模型推理优化策略.md")
    assert not call_tool(tool, {"query": " "}).ok


def _stdio(notes: Path, **fields) -> McpServer:
    return McpServer(name="test", command=f"{sys.executable} {SERVER} stdio {notes}", **fields)


def test_mcp_tools_over_stdio_run_and_say_which_need_asking(tmp_path):
    notes = tmp_path / "notes.txt"
    with McpToolbox([_stdio(notes), McpServer(name="gone", command="/nonexistent/mcp-server")]) as box:
        tools = {tool.name: tool for tool in box.tools}
        assert set(tools) == {"test__add", "test__remember", "test__wait"}
        assert not tools["test__add"].confirm and tools["test__remember"].confirm  # read-only vs writing
        assert call_tool(tools["test__add"], {"a": 2, "b": 3}).text == "5.0"
        assert call_tool(tools["test__remember"], {"note": "买牛奶"}).text == "saved: 买牛奶"
        refused = call_tool(tools["test__add"], {"a": "x"})
        assert not refused.ok and "test/add" in refused.text
        slow = dataclasses.replace(tools["test__wait"], timeout_s=0.5)
        assert not call_tool(slow, {"seconds": 3}).ok
        assert box.problems and box.problems[0].startswith("gone: ")
    assert notes.read_text(encoding="utf-8") == "买牛奶\n"


def test_mcp_server_switches_and_names():
    with McpToolbox([_stdio(Path("unused"), enabled=False)]) as box:
        assert box.tools == [] and box.problems == []
    with McpToolbox([_stdio(Path("unused"), ask_before_run=False)]) as box:
        assert not any(tool.confirm for tool in box.tools)
    assert tool_name("my server", "do.it") == "my_server__do_it"
    with pytest.raises(ValueError, match="either a command"):
        McpServer(name="x")
    with pytest.raises(ValueError, match="http"):
        McpServer(name="x", url="ftp://host/mcp")


def test_mcp_tools_over_streamable_http(tmp_path):
    port = free_port()
    process = subprocess.Popen([sys.executable, str(SERVER), "http", str(port), str(tmp_path / "n.txt")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        with McpToolbox([McpServer(name="web", url=url)]) as box:
            tools = {tool.name: tool for tool in box.tools}
            assert call_tool(tools["web__add"], {"a": 1.5, "b": 2}).text == "3.5"
            assert tools["web__remember"].confirm
    finally:
        process.terminate()
        process.wait(10)
