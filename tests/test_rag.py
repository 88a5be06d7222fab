"""Grounded answers end to end: real documents in a real knowledge base, the packaged MiniLM
embedder, the packaged SmolLM2 through llama.cpp; prompt budgeting with real tokenizers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from chatchat.models.catalog import load_catalog
from chatchat.config import load_settings
from chatchat.errors import ModelError
from chatchat.llm.openai_engine import OpenAIChatModel
from chatchat.answer.answerer import build_prompt
from chatchat.service import Services
from chatchat.retrieval.chunks import Hit

from conftest import SAMPLES, UNSTRUCTURED_DOCS

DOCS = [UNSTRUCTURED_DOCS / "fake-memo.pdf", UNSTRUCTURED_DOCS / "multi-column-2p.pdf", SAMPLES / "大模型推理优化策略.md"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    settings = load_settings(tmp_path_factory.mktemp("rag-home"), llm_threads=1)
    services = Services.open(settings)
    services.create_kb("docs")
    results = services.add_files("docs", DOCS)
    assert [r.status for r in results] == ["added"] * len(DOCS), results
    llms = services.llms
    yield settings, services, llms, services  # the last: what answers (Services.answer, Services.reply)
    llms.unload_all()


def run(events) -> tuple[str, list, list[str], list]:
    events = list(events)
    deltas = "".join(e.text for e in events if e.kind == "delta")
    sources = [s for e in events if e.kind == "sources" for s in e.sources]
    return deltas, sources, [e.kind for e in events], events


def test_kb_answer_streams_then_cites_the_right_file_and_page(world):
    *_, answerer = world
    text, sources, kinds, events = run(
        answerer.answer("What are the two weaknesses of ICT pretraining?", kb="docs", temperature=0, max_tokens=24)
    )
    assert kinds[:2] == ["delta", "delta"] and kinds[-2:] == ["sources", "done"]
    assert text.strip() and events[-1].text == text and not events[-1].cancelled
    assert (sources[0].file, sources[0].page, sources[0].index) == ("multi-column-2p.pdf", 2, 1)
    assert "two weaknesses" in sources[0].snippet and sources[0].kb == "docs" and 0 < sources[0].score <= 1
    assert [s.index for s in sources] == list(range(1, len(sources) + 1))


def test_chinese_question_cites_the_chinese_document(world):
    *_, answerer = world
    text, sources, kinds, _ = run(answerer.answer("PagedAttention 如何管理显存？", kb="docs", top_k=1, temperature=0, max_tokens=8))
    assert kinds[-1] == "done" and text.strip()
    assert sources[0].file == "大模型推理优化策略.md" and sources[0].page is None


def test_nothing_relevant_says_so_instead_of_inventing(world):
    *_, answerer = world
    # multilingual-e5 (the default model) scores unrelated text 0.7–0.85, hence the high thresholds
    text, sources, kinds, _ = run(answerer.answer("How do I bake sourdough bread?", kb="docs", score_threshold=0.9, max_tokens=8))
    assert kinds == ["delta", "sources", "done"] and sources == []
    assert "found nothing in the knowledge base “docs”" in text
    text, _, _, _ = run(answerer.answer("怎么烤酸面包？", kb="docs", score_threshold=0.95, max_tokens=8))
    assert "知识库「docs」中没有找到" in text
    text, sources, kinds, _ = run(
        answerer.answer("How do I bake bread?", kb="docs", score_threshold=0.9, refuse_when_empty=False, temperature=0, max_tokens=8)
    )
    assert kinds[-1] == "done" and "found nothing" not in text and text.strip() and sources == []


def test_a_question_the_knowledge_base_does_not_cover_is_refused_with_the_nearest_passages(world, monkeypatch):
    settings, services, llms, answerer = world
    assert settings.relevance_gate == "balanced" and services.gate_minimum("docs") is not None
    text, sources, kinds, _ = run(answerer.answer("How do I bake sourdough bread at home?", kb="docs", max_tokens=8))
    assert kinds == ["delta", "sources", "done"]  # the model was not asked
    assert text.startswith("The knowledge base does not cover this") and "“docs”" in text
    assert sources and all(s.kb == "docs" for s in sources)  # the nearest passages, offered
    text, sources, _, _ = run(answerer.answer("怎么在家烤酸面包？", kb="docs", max_tokens=8))
    assert text.startswith("知识库中没有涉及这个问题的内容") and sources
    covered, _, kinds, _ = run(answerer.answer("What are the two weaknesses of ICT pretraining?", kb="docs",
                                               temperature=0, max_tokens=8))
    assert "does not cover" not in covered and kinds.count("delta") > 1
    monkeypatch.setattr(settings, "relevance_gate", "off")
    text, _, kinds, _ = run(answerer.answer("How do I bake sourdough bread at home?", kb="docs", temperature=0, max_tokens=8))
    assert "does not cover" not in text and kinds.count("delta") > 1


def test_bad_requests_end_in_one_error_event(world):
    *_, answerer = world
    for question, options, code in [
        ("   ", {}, "chatchat_error"),
        ("Hi", {"model": "no-such-model"}, "not_found"),
        ("Hi", {"kb": "no-such-kb"}, "not_found"),
    ]:
        events = list(answerer.answer(question, max_tokens=8, **options))
        assert [e.kind for e in events] == ["error"], events
        assert events[0].error.code == code and events[0].to_dict()["code"] == code


def test_reply_saves_the_exchange_and_a_failed_answer_changes_nothing(world):
    settings, services, llms, answerer = world
    store = services.conversations
    conversation = store.create(mode="kb", kb="docs")
    text, sources, kinds, _ = run(
        answerer.reply(conversation.id, "How many laptops were delivered?", top_k=1, temperature=0, max_tokens=16)
    )
    assert kinds[-1] == "done"
    saved = store.get(conversation.id)
    assert [m.content for m in saved.messages] == ["How many laptops were delivered?", text]
    assert saved.messages[1].sources[0]["file"] == "fake-memo.pdf" and saved.messages[1].model == settings.default_llm
    path = settings.conversations_dir / f"{conversation.id}.json"
    before = path.read_bytes()
    _, _, kinds, _ = run(answerer.reply(conversation.id, "And blankets?", model="no-such-model"))
    assert kinds == ["error"] and path.read_bytes() == before
    # history goes into the next prompt: a follow-up is answered in the same conversation
    _, _, kinds, _ = run(answerer.reply(conversation.id, "And how many trucks?", top_k=1, temperature=0, max_tokens=8))
    assert kinds[-1] == "done" and len(store.get(conversation.id).messages) == 4


def test_cancel_ends_with_a_cancelled_done_and_keeps_the_partial_answer(world):
    settings, services, _, answerer = world
    store = services.conversations
    conversation = store.create()
    cancel = threading.Event()
    events = []
    for event in answerer.reply(conversation.id, "Tell me a long story about dragons.", cancel=cancel, max_tokens=300):
        events.append(event)
        if sum(e.kind == "delta" for e in events) == 3:
            cancel.set()
    kinds = [e.kind for e in events if e.kind != "stage"]  # reply() announces its stages
    assert kinds == ["delta"] * 3 + ["sources", "done"] and events[-1].cancelled
    assert store.get(conversation.id).messages[1].cancelled


def hit(text: str, file: str = "a.pdf", page: int | None = 1, score: float = 0.5) -> Hit:
    return Hit(text=text, file=file, page=page, section=None, score=score, doc_id="d", chunk_index=0, kb="kb")


@pytest.fixture
def small_model():
    """A real model object with a 500-token context; building prompts makes no request."""
    provider = load_catalog().provider("custom")
    return OpenAIChatModel("custom/small", provider, "small", None, context=500)


def test_prompt_keeps_the_best_passages_and_newest_history_that_fit(small_model):
    hits = [hit("alpha " * 40, score=0.9), hit("beta " * 40, score=0.8), hit("gamma " * 200, score=0.7), hit("delta " * 10, score=0.6)]
    history = []
    for i in range(6):
        history += [{"role": "user", "content": f"question {i} " * 3}, {"role": "assistant", "content": f"answer {i} " * 3}]
    prompt = build_prompt(small_model, "What is alpha?", hits, history, max_tokens=100, kb_chat=True)
    assert [h.text.split()[0] for h in prompt.passages] == ["alpha", "beta", "delta"]  # gamma does not fit
    user = prompt.messages[-1]["content"]
    assert user.startswith("Passages:") and "[3] (a.pdf, page 1)\ndelta" in user and user.endswith("Question: What is alpha?")
    kept = [m["content"] for m in prompt.messages[1:-1]]
    assert kept and kept[-1].startswith("answer 5") and len(kept) % 2 == 0 and len(kept) < len(history)
    used = sum(small_model.count_tokens(m["content"]) + 8 for m in prompt.messages)
    assert used + prompt.max_tokens <= small_model.context and prompt.max_tokens == 100


def test_prompt_language_follows_the_question(small_model):
    prompt = build_prompt(small_model, "显存如何优化？", [hit("显存优化", page=None)], [], max_tokens=50, kb_chat=True)
    assert "已知信息" in prompt.messages[-1]["content"] and "中文" in prompt.messages[0]["content"]
    plain = build_prompt(small_model, "Hello there", [], [], max_tokens=50, kb_chat=False)
    assert plain.messages == [{"role": "system", "content": plain.messages[0]["content"]}, {"role": "user", "content": "Hello there"}]


def test_prompt_longer_than_the_context_is_refused(small_model, world):
    with pytest.raises(ModelError, match="question is about \\d+ tokens long"):
        build_prompt(small_model, "why " * 500, [], [], max_tokens=50, kb_chat=False)
    with pytest.raises(ModelError, match="None of the 1 retrieved passages fits"):
        build_prompt(small_model, "why?", [hit("long " * 2000)], [], max_tokens=50, kb_chat=True)
    *_, answerer = world
    events = list(answerer.answer("why " * 9000, max_tokens=8))  # SmolLM2: 8192 tokens, counted by its own tokenizer
    assert events[-1].kind == "error" and "question is about" in events[-1].text


def test_cli_ask_streams_cites_and_exits_with_codes_scripts_can_trust(world, capsys, monkeypatch):
    from chatchat.cli import main

    settings, services, _, _ = world
    monkeypatch.setenv("CHATCHAT_LLM_THREADS", "1")
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    home = ["--home", str(settings.home)]
    question = "How many laptops were delivered?"
    assert main([*home, "ask", "--kb", "docs", "--top-k", "1", "--max-tokens", "8", "--temperature", "0", question]) == 0
    out = capsys.readouterr().out
    assert "Sources:\n  [1] fake-memo.pdf, page 1 (score " in out
    files = [str(UNSTRUCTURED_DOCS / "fake-memo.pdf")]
    assert main([*home, "ask", "--files", *files, "--top-k", "1", "--max-tokens", "8", question]) == 0
    assert "[1] fake-memo.pdf, page 1" in capsys.readouterr().out
    assert not [kb.name for kb in services.list_kbs() if kb.name.startswith("_ask-")]  # the temporary KB is gone
    for argv, code, message in [
        ([], 2, "no question given"),
        (["  "], 2, "The question is empty"),
        (["--model", "no-such-model", "Hi"], 2, "Unknown model 'no-such-model'"),
        (["--kb", "no-such-kb", "Hi"], 2, "no-such-kb"),
        (["--model", "deepseek/deepseek-chat", "Hi"], 1, "No API key for DeepSeek"),
        (["--files", str(UNSTRUCTURED_DOCS / "password.pdf"), "Hi"], 1, "none of the files could be read"),
    ]:
        assert main([*home, "ask", *argv]) == code, argv
        assert message in capsys.readouterr().err


# --- context: neighbouring chunks (chatchat.retrieval.context) ---------------------------------------------------


def chunk(index: int, text: str = "", doc: str = "d", kb: str = "kb", page: int | None = 1) -> Hit:
    return Hit(text=text or f"chunk {index}", file=f"{doc}.pdf", page=page, section=None, score=0.5, doc_id=doc,
               chunk_index=index, kb=kb)


def test_hits_of_one_document_merge_and_duplicates_collapse():
    from chatchat.retrieval.context import _spans, merge_texts

    # 5 is the best hit; 6 is inside its window (a duplicate); 7 touches it and merges; 20 stands alone;
    # chunk 5 of another knowledge base is another passage
    hits = [chunk(5), chunk(6), chunk(7), chunk(20), chunk(5, kb="other"), chunk(0, doc="e")]
    spans = [(h.kb, h.doc_id, h.chunk_index, first, last) for h, first, last in _spans(hits, 1, 5)]
    assert spans == [("kb", "d", 5, 4, 8), ("kb", "d", 20, 19, 21), ("other", "d", 5, 4, 6), ("kb", "e", 0, 0, 1)]
    # a hit whose merge would pass the span limit gets its own passage, without the chunks others hold
    assert [(f, l) for _, f, l in _spans([chunk(5), chunk(8)], 1, 4)] == [(4, 6), (7, 9)]
    # the splitter's overlap is kept once; chunks without one are joined on a new line
    assert merge_texts(["The cat sat on the mat.", "sat on the mat. Then it slept."]) == "The cat sat on the mat. Then it slept."
    assert merge_texts(["First part.", "Second part."]) == "First part.\nSecond part."
    assert merge_texts(["ends with e", "e starts it"]) == "ends with e\ne starts it"  # 1 character is no overlap


@pytest.fixture(scope="module")
def small_chunks(tmp_path_factory: pytest.TempPathFactory):
    settings = load_settings(tmp_path_factory.mktemp("ctx-home"), llm_threads=1)
    services = Services.open(settings)
    # MiniLM: Chinese questions rank by full text alone, whose best hit here has a chunk on each side (with
    # the multilingual default the best hit is the section heading, chunk 0)
    # 120/30 tokens: the 160/40 characters of Chinese this test was written against
    services.create_kb("small", embedding="minilm-l6-v2-int8", chunk_size=120, chunk_overlap=30)
    [result] = services.add_files("small", [SAMPLES / "大模型推理优化策略.md"])
    assert result.status == "added" and result.chunks > 10
    return services


# its best hit is a chunk in the middle of the PagedAttention section (at 400-token chunks the section's first
# question, "如何管理显存", ranks the heading chunk 0 first, which has no left neighbour)
NEIGHBOURS_QUESTION = "PagedAttention 受什么思想启发？"


def test_the_model_reads_each_hit_with_its_neighbours_and_the_citation_names_the_hit(small_chunks, world, monkeypatch):
    from chatchat.retrieval.context import _overlap, expand, merge_texts

    services = small_chunks
    chunks = services.chunks("small", "大模型推理优化策略.md")
    hits = services.search("small", NEIGHBOURS_QUESTION, top_k=3)
    passages = expand(hits, services.chunk_spans)
    best = passages[0]
    assert best.hit == hits[0] and best.first < hits[0].chunk_index < best.last  # a chunk on each side
    for neighbour in chunks[best.first : best.last + 1]:
        assert neighbour.text in best.text
    # the splitter's overlap of two real chunks is given once
    overlapping = [(a.text, b.text, size) for a, b in zip(chunks, chunks[1:]) if (size := _overlap(a.text, b.text))]
    assert overlapping
    for left, right, size in overlapping:
        assert merge_texts([left, right]) == left + right[size:] and size < len(right)
    indexed = {(p.hit.doc_id, i) for p in passages for i in range(p.first, p.last + 1)}
    assert len(indexed) == sum(p.last - p.first + 1 for p in passages)  # no chunk twice

    *_, llms, _ = world
    monkeypatch.setattr(services.settings, "relevance_gate", "off")  # a refusal offers hits alone, not passages
    monkeypatch.setattr(services, "llms", llms)  # the model the other tests loaded
    answerer_small = services
    events = list(answerer_small.answer(NEIGHBOURS_QUESTION, kb="small", top_k=3, temperature=0, max_tokens=4))
    [sources] = [e.sources for e in events if e.kind == "sources"]
    first = sources[0]
    assert (first.kb, first.file, first.chunk_index) == ("small", "大模型推理优化策略.md", hits[0].chunk_index)
    assert first.span == (best.first, best.last) and first.snippet in " ".join(hits[0].text.split())
    bare = list(answerer_small.answer(NEIGHBOURS_QUESTION, kb="small", top_k=3, temperature=0, max_tokens=4,
                                      neighbours=False))
    [plain] = [e.sources for e in bare if e.kind == "sources"]
    assert plain[0].span == (hits[0].chunk_index, hits[0].chunk_index)
