"""Inline citation markers on real passages from the shared documents (Chinese Markdown notes, the
English LangChain paper): the model's markers checked, the app's attached where the model wrote none."""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import pytest

from chatchat.answer.citations import Marker, attach, best_passage, cite, grams, sentences
from conftest import SAMPLES


def _paragraphs(name: str) -> list[str]:
    text = (SAMPLES / name).read_text(encoding="utf-8")
    return [line.strip(" -") for line in text.splitlines() if len(line.strip(" -")) > 80]


@pytest.fixture(scope="module")
def zh() -> list[str]:
    """Paragraphs of the inference-optimisation notes (PagedAttention, KV cache, …)."""
    return _paragraphs("大模型推理优化策略.md")


@pytest.fixture(scope="module")
def en() -> list[str]:
    """Pages of the LangChain paper's text layer."""
    pdf = pdfium.PdfDocument(SAMPLES / "langchain.pdf")
    try:
        return [" ".join(pdf[i].get_textpage().get_text_bounded().split()) for i in range(len(pdf))]
    finally:
        pdf.close()


def test_sentences_split_chinese_and_english_at_their_punctuation():
    text = "KV cache 显存占用大。因此挑战较大！It costs 3.5 GB. Does it fit? Yes\n- 第一项\n- second item"
    assert [text[a:b] for a, b in sentences(text)] == [
        "KV cache 显存占用大。", "因此挑战较大！", "It costs 3.5 GB.", "Does it fit?", "Yes", "- 第一项", "- second item"]
    assert sentences("  \n ") == []


def test_grams_read_han_as_bigrams_and_latin_as_letter_4grams():
    assert grams("显存占用") == {"显存", "存占", "占用"}
    assert grams("Key-Value") == {"keyv", "eyva", "yval", "valu", "alue"}
    assert grams("KV 缓存") == {"kv", "缓存"}  # a run shorter than n counts whole


def test_the_app_attaches_markers_to_sentences_a_given_passage_holds(zh, en):
    paged = next(i for i, p in enumerate(zh) if "PagedAttention 将每个序列的 KV cache 划分为块" in p)
    stuff = next(i for i, p in enumerate(en) if "The most used method is the stuff method" in p)
    passages = [en[0], zh[paged], en[stuff]]
    answer = ("PagedAttention 把每个序列的 KV cache 划分为块，每个块包含固定数量 token 的键和值。"
              "The stuff method is the most used method, and it works well if the text chunks fit into the "
              "context size of the LLM. 希望对你有帮助！")
    cited = cite(answer, passages)
    assert cited.attached
    assert [(m.index, m.by) for m in cited.markers] == [(2, "app"), (3, "app")]
    assert "的键和值[2]。" in cited.text and "context size of the LLM[3]." in cited.text
    assert cited.text.endswith("希望对你有帮助！")  # a sentence no passage holds gets no marker
    assert all(cited.text[m.start:m.end] == f"[{m.index}]" for m in cited.markers)
    assert "".join(p if isinstance(p, str) else cited.text[p.start:p.end] for p in cited.segments()) == cited.text
    assert cited.cited == [2, 3] and all(m.score and m.score >= 0.5 for m in cited.markers)


def test_a_sentence_from_a_passage_the_model_was_not_given_gets_no_marker(zh, en):
    kv = next(p for p in zh if "显存占用大" in p)
    answer = "KV cache 显存占用大，14b级别的模型每个token需要约0.7M-1M的显存。"
    assert cite(answer, [kv]).markers[0].index == 1
    assert cite(answer, en).markers == ()  # the same sentence against the English paper only
    assert best_passage(answer, [grams(p) for p in en]) is None


def test_the_models_markers_are_kept_and_those_outside_the_passages_dropped(zh):
    passages = zh[:3]
    cited = cite("显存占用大 [1]。另见 [4] 和 [0]。三者 [1, 3] 与【2】有关。", passages)
    assert cited.text == "显存占用大 [1]。另见 和。三者 [1][3] 与[2]有关。"
    assert [(m.index, m.by) for m in cited.markers] == [(1, "model"), (1, "model"), (3, "model"), (2, "model")]
    assert not cited.attached


def test_markers_only_outside_the_passages_are_dropped_and_the_app_attaches_its_own(zh):
    sentence = zh[1][:60]
    cited = cite(sentence + " [7]", zh[:3])
    assert "[7]" not in cited.text
    assert [(m.index, m.by) for m in cited.markers] == [(2, "app")]


def test_without_passages_no_marker_survives():
    assert cite("没有资料 [1]，所以 [2] 不能引用。", []).text == "没有资料，所以 不能引用。"
    assert cite("Nothing to cite.", []).markers == ()


def test_no_marker_ever_points_past_the_passages_given(zh, en):
    passages = zh[:2]
    for text in [*zh, *en[:4]]:  # every passage of both documents as an answer, against two of them
        for marker in cite(text[:400] + " [3] [12]", passages).markers:
            assert 1 <= marker.index <= len(passages)
            assert isinstance(marker, Marker)


def test_short_sentences_get_no_marker(zh):
    assert attach("是的。好！", zh).markers == ()
    assert re.fullmatch(r"[^\[]*", attach("综上所述：", zh).text)
