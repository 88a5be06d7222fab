from pathlib import Path

from chatchat.ingest.elements import Element
from chatchat.ingest.split import enhance, measure, split_elements, split_text

from conftest import SAMPLES


def test_chinese_text_is_cut_at_sentence_ends_within_size():
    text = Path(SAMPLES / "大模型推理优化策略.md").read_text(encoding="utf-8")
    chunks = split_text(text, 250, 50)
    assert len(chunks) > 5
    assert all(measure(chunk) <= 250 for chunk in chunks)
    # sentences keep their full stop: most chunks end at a sentence or line end, not mid-word
    ends = sum(chunk[-1] in "。！？；.!?)）\"”" or chunk.endswith(("：", ":")) for chunk in chunks)
    assert ends >= len(chunks) // 2
    assert "".join(chunks).count("PagedAttention") >= text.count("PagedAttention")


def test_long_sentences_fall_back_to_commas_then_characters():
    sentence = "这是一个很长的句子，" * 30
    chunks = split_text(sentence, 60, 10)
    assert all(measure(c) <= 60 for c in chunks)
    assert all(c.endswith("，") for c in chunks[:-1])
    unbroken = "字" * 130
    assert [len(c) for c in split_text(unbroken, 50, 10)] == [66, 64]  # 66 characters are 49.5 tokens
    assert [len(c) for c in split_text("x" * 130, 30, 10)] == [120, 10]


def test_overlap_repeats_the_end_of_the_previous_chunk():
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    chunks = split_text(text, 30, 10)  # 120 and 40 characters
    assert len(chunks) > 3
    for first, second in zip(chunks, chunks[1:]):
        assert second.split(".")[0] in first  # the next chunk starts inside the previous one


def test_sizes_count_tokens_so_a_chunk_holds_about_three_times_the_characters_in_english():
    assert measure("向量检索") == 3.0 and measure("word") == 1.0 and measure("ab 字") == 1.5
    chinese = "检索增强生成先从知识库里找出相关的段落，再把它们交给模型回答问题。" * 40
    english = "Retrieval first finds the passages that matter, then the model answers from them. " * 40
    zh, en = split_text(chinese, 400, 80), split_text(english, 400, 80)
    assert all(measure(c) <= 400 for c in zh + en)
    assert 500 <= len(zh[0]) <= 534 and 1500 <= len(en[0]) <= 1600  # 400 tokens: ~530 Chinese, ~1600 other


def test_chunks_keep_page_and_section_and_title_enhancement():
    elements = [
        Element("Intro", page=1, category="Title", section="Intro"),
        Element("First page text. " * 5, page=1, section="Intro"),
        Element("Second page text.", page=2, section="Intro"),
        Element("方法", page=2, category="Title", section="方法"),
        Element("我们使用检索增强生成。", page=2, section="方法"),
    ]
    chunks = split_elements(elements, 250, 50)
    assert [(c.page, c.section) for c in chunks] == [(1, "Intro"), (2, "Intro"), (2, "方法")]
    assert [c.index for c in chunks] == [0, 1, 2]
    assert "Intro" not in chunks[0].text.split("\n")[0] or chunks[0].text.startswith("First")
    assert enhance(chunks[2]) == "方法\n我们使用检索增强生成。"
