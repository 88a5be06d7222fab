"""Follow-up questions rewritten into a standalone search query (chatchat.answer.followup) by the real demo chat model
(SmolLM2 135M through llama.cpp), in a real knowledge base with the packaged MiniLM embedder. SmolLM2 is too small
to rewrite well (it mostly echoes), which is exactly the case the fallback is for; bench/bench_context.py reports
retrieval with and without rewriting."""

from __future__ import annotations

import time

import pytest

from chatchat.config import load_settings
from chatchat.answer.followup import clean, standalone_query
from chatchat.service import Services
from conftest import UNSTRUCTURED_DOCS

HISTORY = [
    {"role": "user", "content": "What are the two weaknesses of ICT pretraining?"},
    {"role": "assistant", "content": "It is computationally expensive, and the index goes stale as the encoder changes."},
]
FOLLOWUP = "Why is the second one a problem?"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    settings = load_settings(tmp_path_factory.mktemp("followup-home"), llm_threads=1)
    services = Services.open(settings)
    services.create_kb("papers")
    assert [r.status for r in services.add_files("papers", [UNSTRUCTURED_DOCS / "multi-column-2p.pdf"])] == ["added"]
    yield services, services  # the second: what answers (Services.answer)
    services.llms.unload_all()


def test_the_model_reply_is_cleaned_or_refused():
    assert clean('Rewritten: "Why is a stale index a problem?"', FOLLOWUP, HISTORY) == "Why is a stale index a problem?"
    assert clean("改写：KV cache 量化有什么作用？", "那第二种呢？") == "KV cache 量化有什么作用？"
    assert clean("\n\nStandalone question: Why is ICT slow?\nBecause…", FOLLOWUP) == "Why is ICT slow?"
    assert clean("", FOLLOWUP) is None
    assert clean("为什么第二个是问题？", FOLLOWUP) is None  # another language than the question's
    assert clean("User: What are the two weaknesses of ICT pretraining?", FOLLOWUP, HISTORY) is None  # an echo
    assert clean("用户：记忆分为哪两种？", "那第二种呢？") is None  # the prompt's own example
    assert clean("word " * 200, FOLLOWUP) is None


def test_without_history_the_question_is_searched_as_asked_and_the_model_is_not_asked(world):
    services, answerer = world
    model = services.llms.get(None)
    start = time.perf_counter()
    assert standalone_query(model, FOLLOWUP, []) == FOLLOWUP
    assert time.perf_counter() - start < 0.05  # no generation
    events = list(answerer.answer(FOLLOWUP, kb="papers", temperature=0, max_tokens=4))
    assert "query" not in [e.kind for e in events]


def test_a_follow_up_is_searched_as_a_standalone_query_shown_as_an_event(world):
    services, answerer = world
    events = list(answerer.answer(FOLLOWUP, kb="papers", history=HISTORY, temperature=0, max_tokens=4))
    kinds = [e.kind for e in events]
    assert kinds[0] == "query" and kinds[-2:] == ["sources", "done"]
    query = events[0].text
    assert query != FOLLOWUP and (FOLLOWUP in query or "ICT" in query)  # a rewrite, or the fallback's join
    [sources] = [e.sources for e in events if e.kind == "sources"]
    searched = services.search_many(["papers"], query, top_k=services.settings.top_k)
    found = [h.chunk_index for h in searched]
    assert sources[0].chunk_index == found[0] and {s.chunk_index for s in sources} <= set(found)  # neighbours collapse
    # the follow-up alone would be searched differently: rewriting is what found the weaknesses passage
    assert "weakness" in " ".join(h.text for h in searched).lower()
    plain = list(answerer.answer(FOLLOWUP, kb="papers", history=HISTORY, temperature=0, max_tokens=4, rewrite=False))
    assert "query" not in [e.kind for e in plain]
