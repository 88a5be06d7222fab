"""The OpenAI-compatible routes driven by the official `openai` client, and the seed's /chat/… routes by
httpx, against the real app on a loopback port with the packaged SmolLM2 GGUF model and MiniLM embeddings.
Answers are kept to a few tokens: the model is real, the CPU is small."""

from __future__ import annotations

import base64
import json
import time

import httpx
import numpy as np
import openai
import pytest

from api_server import api_settings, running
from chatchat.service import Services
from conftest import SAMPLES, UNSTRUCTURED_DOCS

LLM = "smollm2-135m-instruct"
EMBEDDING = "minilm-l6-v2-int8"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = api_settings(tmp_path_factory.mktemp("api-openai") / "home", llm_threads=1)
    services = Services.open(settings)
    services.create_kb("docs")
    results = services.add_files("docs", [SAMPLES / "大模型推理优化策略.md", UNSTRUCTURED_DOCS / "fake-text.txt"])
    assert {r.status for r in results} == {"added"}
    with running(settings, services) as base:
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)
        with httpx.Client(base_url=base, timeout=300) as http:
            yield client, http, services


def test_models_list_local_knowledge_bases_and_embeddings(app):
    client, _, _ = app
    models = {m.id: m for m in client.models.list()}
    assert models[LLM].model_extra["kind"] == "local"
    assert models["kb:docs"].model_extra["kind"] == "knowledge_base"
    assert models[EMBEDDING].model_extra["kind"] == "embedding"
    assert "gemma3-270m-base" not in models  # a base model cannot chat
    assert not any(m.model_extra["kind"] == "cloud" for m in models.values())  # no provider key is set


def test_chat_streaming_and_not_give_the_same_answer(app):
    client, _, _ = app
    messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is the capital of France?"}]
    full = client.chat.completions.create(model=LLM, messages=messages, temperature=0, max_tokens=6)
    answer = full.choices[0].message.content
    assert answer and full.choices[0].finish_reason in ("stop", "length")
    assert full.usage.completion_tokens > 0 and full.usage.prompt_tokens > 0
    chunks = list(client.chat.completions.create(model=LLM, messages=messages, temperature=0, max_tokens=6, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == answer
    assert chunks[-2].choices[0].finish_reason == full.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == full.usage.completion_tokens


def test_stop_sequences_end_the_answer(app):
    client, _, _ = app
    messages = [{"role": "user", "content": "Write the numbers from 1 to 300, one per line."}]
    plain = client.chat.completions.create(model=LLM, messages=messages, temperature=0, max_tokens=12).choices[0].message.content
    assert "3" in plain
    stopped = client.chat.completions.create(model=LLM, messages=messages, temperature=0, max_tokens=12, stop=["3"])
    assert stopped.choices[0].message.content == plain[: plain.index("3")]
    streamed = client.chat.completions.create(model=LLM, messages=messages, temperature=0, max_tokens=12, stop="3", stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == plain[: plain.index("3")]


def test_a_knowledge_base_as_the_model_answers_with_sources(app):
    client, _, _ = app
    question = [{"role": "user", "content": "PagedAttention 如何管理显存？"}]
    reply = client.chat.completions.create(model="kb:docs", messages=question, temperature=0, max_tokens=8,
                                           extra_body={"footnotes": True, "top_k": 1})
    sources = reply.model_extra["sources"]
    assert len(sources) == 1 and sources[0]["file"] == "大模型推理优化策略.md" and sources[0]["index"] == 1
    content = reply.choices[0].message.content
    assert content.split("\n\n---\n")[1].startswith("[1] **大模型推理优化策略.md**")
    chunks = list(client.chat.completions.create(model="kb:docs", messages=question, temperature=0, max_tokens=8,
                                                 stream=True, extra_body={"top_k": 1}))
    assert chunks[-1].model_extra["sources"] == sources
    assert "---" not in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_a_knowledge_base_with_nothing_relevant_says_so(app):
    client, _, _ = app
    reply = client.chat.completions.create(model="kb:docs", messages=[{"role": "user", "content": "量子引力的弦论解释"}],
                                           extra_body={"score_threshold": 0.99})
    assert reply.model_extra["sources"] == [] and "docs" in reply.choices[0].message.content


def test_embeddings_float_and_base64(app):
    client, http, services = app
    texts = ["大模型推理", "PagedAttention manages the KV cache"]
    expected = services.embed(texts, EMBEDDING)
    response = client.embeddings.create(model=EMBEDDING, input=texts)  # the client asks for base64 and decodes it
    assert [d.index for d in response.data] == [0, 1] and response.usage.prompt_tokens > 0
    assert np.allclose(np.array([d.embedding for d in response.data]), expected, atol=1e-6)
    floats = http.post("/v1/embeddings", json={"model": EMBEDDING, "input": texts[0], "encoding_format": "float"}).json()
    assert np.allclose(floats["data"][0]["embedding"], expected[0], atol=1e-6)
    raw = http.post("/v1/embeddings", json={"model": EMBEDDING, "input": texts, "encoding_format": "base64"}).json()
    assert np.allclose(np.frombuffer(base64.b64decode(raw["data"][1]["embedding"]), dtype="<f4"), expected[1], atol=1e-6)


def test_bad_requests_get_openai_errors(app):
    client, http, _ = app
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.body["code"] == "model_not_found" and missing.value.body["param"] == "model"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="kb:no-such-kb", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="text-embedding-3-small", input="hi")
    for bad in [
        {"model": LLM, "messages": []},
        {"model": LLM, "messages": [{"role": "user", "content": "hi"}], "temperature": 5},
        {"model": LLM, "messages": [{"role": "user", "content": "hi"}], "n": 2},
        {"model": LLM, "messages": [{"role": "user", "content": "hi"}], "stop": ["a", "b", "c", "d", "e"]},
        {"model": LLM, "messages": [{"role": "wizard", "content": "hi"}]},
        {"model": LLM, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        {"model": "kb:docs", "messages": [{"role": "assistant", "content": "hi"}]},
        {"model": 7, "messages": "hi"},
    ]:
        r = http.post("/v1/chat/completions", json=bad)
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error", (bad, r.text)
    for bad in [{"model": EMBEDDING, "input": [[1, 2, 3]]}, {"model": EMBEDDING, "input": ""}, {"model": EMBEDDING, "input": []},
                {"model": EMBEDDING, "input": "x", "dimensions": 8}]:
        r = http.post("/v1/embeddings", json=bad)
        assert r.status_code == 400 and r.json()["error"]["param"] in ("input", "dimensions"), (bad, r.text)
    r = http.post("/v1/chat/completions", content=b"{'model': ", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_a_client_that_disconnects_stops_the_engine(app):
    """The counting prompt runs for hundreds of tokens at temperature 0; the client leaves after a few."""
    _, http, services = app
    body = {"model": LLM, "messages": [{"role": "user", "content": "Write the numbers from 1 to 300, one per line."}],
            "temperature": 0, "max_tokens": 2000, "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        received = []
        for line in response.iter_lines():
            if line.startswith("data: {"):
                received.append(json.loads(line[6:])["choices"][0]["delta"].get("content"))
            if len(received) >= 4:
                break
    model = services.llms.get(LLM)
    deadline = time.monotonic() + 120
    while model._lock.locked() and time.monotonic() < deadline:  # the engine holds its lock while it generates
        time.sleep(0.05)
    assert not model._lock.locked()
    assert model.llama.n_tokens < 120, model.llama.n_tokens  # prompt (~40) + the few tokens sent, not 2000


def sse_events(response: httpx.Response) -> list[dict]:
    return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def test_seed_chat_routes(app):
    _, http, _ = app
    with http.stream("POST", "/chat/knowledge_base_chat", json={
        "query": "PagedAttention 是什么", "knowledge_base_name": "docs", "top_k": 1, "stream": True, "max_tokens": 6, "temperature": 0,
    }) as response:
        events = sse_events(response)
    assert all("answer" in e for e in events[:-1]) and len(events) > 2
    assert events[-1]["docs"][0].startswith("出处 [1] [大模型推理优化策略.md](http")
    whole = http.post("/chat/knowledge_base_chat", json={
        "query": "PagedAttention 是什么", "knowledge_base_name": "docs", "top_k": 1, "max_tokens": 6, "temperature": 0,
    })
    [event] = sse_events(whole)
    assert event["answer"] == "".join(e["answer"] for e in events[:-1]) and event["docs"] == events[-1]["docs"]

    [chat] = sse_events(http.post("/chat/chat", json={"query": "Say hi", "max_tokens": 4, "history": [
        {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"}]}))
    assert chat["text"] and chat["message_id"]
    missing = http.post("/chat/knowledge_base_chat", json={"query": "x", "knowledge_base_name": "nope"})
    assert missing.status_code == 404 and missing.json()["code"] == 404 and missing.json()["error"]["message"]
    assert http.post("/chat/chat", json={"query": "x", "model_name": "chatglm3-6b"}).status_code == 404


def test_chat_without_max_tokens_stops_at_the_models_default(app):
    client, _, services = app
    limit = services.catalog.default_max_tokens(LLM, services.settings.max_tokens)
    assert limit < services.settings.max_tokens  # the demo model has its own, shorter default
    messages = [{"role": "user", "content": "Write a very long story about a dragon, with twenty chapters."}]
    full = client.chat.completions.create(model=LLM, messages=messages, temperature=0)
    assert 0 < full.usage.completion_tokens <= limit
