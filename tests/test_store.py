"""The LanceDB store on its own: knowledge bases, registry, search, crash cleanup."""

import numpy as np
import pyarrow as pa
import pytest
from s3_server import s3  # noqa: F401  (the session's S3 server, started only for the "s3" runs)

from chatchat.config import Settings
from chatchat.errors import AlreadyExists, InvalidName, NotFound
from chatchat.retrieval.chunks import BIGRAM_COLUMN, ChunkRow, chunk_schema
from chatchat.retrieval.fusion import fuse
from chatchat.retrieval.kb_info import check_kb_name
from chatchat.retrieval.location import locate
from chatchat.retrieval.registry import DocumentRecord
from chatchat.retrieval.store import Store


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(8, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


@pytest.fixture
def local_store(tmp_path):
    return Store(tmp_path / "kbs", tmp_path / "db", index_threshold=1000)


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """The knowledge-base group runs on the local data dir and on a real S3 server (tests/s3_server.py)."""
    if request.param == "local":
        return Store(tmp_path / "kbs", tmp_path / "db", index_threshold=1000)
    server = request.getfixturevalue("s3")
    settings = Settings(home=tmp_path / "home", db_uri=server.uri(), db_storage_options=server.options())
    return Store(settings.kb_dir, settings.db_dir, 1000, locate(settings))


def add_document(kb, file, texts, vectors, status="ready"):
    """Write a document through the store's writer; status 'ingesting' leaves what a crash in the middle
    of the writer's block leaves: the registry row and chunks, written by the writer's own parts."""
    record = DocumentRecord.new(file, "0" * 64, 10, 1, doc_id=f"doc-{file}")
    rows = [ChunkRow(text=t, content=t, page=1, section=None, index=i, vector=v) for i, (t, v) in enumerate(zip(texts, vectors))]
    if status == "ready":
        with kb.document_writer(record) as writer:
            writer.add_chunks(rows)
    else:
        kb._registry.add(record)
        kb._chunks.add(record.doc_id, file, rows)
    kb.optimize()
    return record.doc_id


def test_names_any_script_but_no_paths_or_control_characters():
    assert check_kb_name(" 知识库-1 ") == "知识库-1"
    for bad in ["", "../x", "a/b", ".hidden", "x" * 65, "a\x00b", "tab\there", "C:\\x"]:
        with pytest.raises(InvalidName):
            check_kb_name(bad)


def test_create_list_get_delete(store):
    store.create("手册", embedding="e", dim=8, description="产品手册")
    store.create("notes", embedding="e", dim=8)
    assert store.names() == ["notes", "手册"]
    assert store.get("手册").info.description == "产品手册"
    with pytest.raises(AlreadyExists):
        store.create("notes", embedding="e", dim=8)
    store.delete("notes")
    assert store.names() == ["手册"]
    with pytest.raises(NotFound, match="手册"):
        store.get("notes")


def test_hybrid_search_fuses_vector_and_fulltext_and_scores_are_cosine(store):
    store.create("kb", embedding="e", dim=8)
    kb = store.get("kb")
    add_document(kb, "a.txt", ["大模型推理优化包括量化", "the quick brown fox", "分布式训练的数据并行"],
                 [unit(1, 0), unit(0, 1), unit(0, 0, 1)])
    hits = kb.search(unit(1, 0.1), "量化", top_k=3)
    assert hits[0].text == "大模型推理优化包括量化"
    assert hits[0].score == pytest.approx(float(unit(1, 0) @ unit(1, 0.1)), abs=1e-3)
    fulltext = kb.search(None, "fox", top_k=3, mode="fulltext")
    assert [h.text for h in fulltext] == ["the quick brown fox"]
    vector_only = kb.search(unit(0, 0, 1), "", top_k=1, mode="vector")
    assert vector_only[0].text == "分布式训练的数据并行"
    assert kb.search(unit(1, 0), "nothing", top_k=3, score_threshold=0.99)[0].score >= 0.99


def test_search_filters_by_document_and_hostile_queries_are_plain_text(store):
    store.create("kb", embedding="e", dim=8)
    kb = store.get("kb")
    add_document(kb, "one.txt", ["alpha text"], [unit(1)])
    add_document(kb, "two's.txt", ["alpha text too"], [unit(1, 0.2)])
    assert {h.file for h in kb.search(unit(1), "alpha", top_k=5, files=["two's.txt"])} == {"two's.txt"}
    for query in ["' OR 1=1 --", 'alpha"', "alpha AND (", "*", "\x00"]:
        kb.search(unit(1), query, top_k=3)  # must not raise


def test_replacing_a_file_retires_the_old_version(store):
    store.create("kb", embedding="e", dim=8)
    kb = store.get("kb")
    add_document(kb, "f.txt", ["old text"], [unit(1)])
    with kb.document_writer(DocumentRecord.new("f.txt", "1" * 64, 10, 1, doc_id="new")) as writer:
        writer.add_chunks([ChunkRow("new text", "new text", 1, None, 0, unit(1))])
    assert [d.doc_id for d in kb.documents()] == ["new"]
    assert [h.text for h in kb.search(unit(1), "text", top_k=5)] == ["new text"]


def test_the_writer_hides_the_document_until_a_clean_exit_makes_it_ready(store):
    store.create("kb", embedding="e", dim=8)
    kb = store.get("kb")
    add_document(kb, "f.txt", ["old text"], [unit(1)])
    kb.optimize()
    with kb.document_writer(DocumentRecord.new("f.txt", "1" * 64, 10, 2)) as writer:
        assert writer.add_chunks([ChunkRow("new text", "new text", 1, None, 0, unit(1)),
                                  ChunkRow("more text", "more text", 2, None, 1, unit(1, 0.1))]) == 2
        assert [h.text for h in kb.search(unit(1), "text", top_k=5)] == ["old text"]  # not yet
        assert {d.status for d in kb.documents()} == {"ready", "ingesting"}
    [record] = kb.documents()
    assert (record.file, record.status, record.chunks, record.pages) == ("f.txt", "ready", 2, 2)
    assert {h.text for h in kb.search(unit(1), "text", top_k=5)} == {"new text", "more text"}


@pytest.mark.parametrize("error", [RuntimeError("parser bug"), KeyboardInterrupt()])
def test_any_exception_in_the_writer_forgets_the_new_version_and_keeps_the_old(store, error):
    store.create("kb", embedding="e", dim=8)
    kb = store.get("kb")
    old = add_document(kb, "f.txt", ["old text"], [unit(1)])
    with pytest.raises(type(error)):
        with kb.document_writer(DocumentRecord.new("f.txt", "1" * 64, 10, 1)) as writer:
            writer.add_chunks([ChunkRow("new text", "new text", 1, None, 0, unit(1))])
            raise error
    assert [(d.doc_id, d.status) for d in kb.documents()] == [(old, "ready")]
    assert kb.count_chunks() == 1
    assert [h.text for h in kb.search(unit(1), "text", top_k=5)] == ["old text"]


def test_cleanup_rolls_back_interrupted_ingests_and_orphans(store):
    store.create("kb", embedding="e", dim=8)
    kb = store.get("kb")
    add_document(kb, "done.txt", ["kept"], [unit(1)])
    add_document(kb, "half.txt", ["half written"], [unit(0, 1)], status="ingesting")
    kb._chunks.add("orphan", "gone.txt", [ChunkRow("orphan", "orphan", 1, None, 0, unit(0, 0, 1))])
    assert kb.cleanup() == ["half.txt"]
    texts = {h.text for h in kb.search(unit(1, 1, 1), "kept half orphan", top_k=10)}
    assert texts == {"kept"}
    status = {d.file: (d.status, d.chunks) for d in kb.documents()}
    assert status == {"done.txt": ("ready", 1), "half.txt": ("failed", 0)}


def test_vector_index_is_built_past_the_threshold_and_search_still_finds(local_store):
    store = local_store
    store.create("big", embedding="e", dim=8)
    kb = store.get("big")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(1200, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    add_document(kb, "big.txt", [f"row {i}" for i in range(1200)], list(vectors))
    assert kb._chunks.has_vector_index()
    hits = kb.search(vectors[42], "", top_k=1, mode="vector")
    assert hits[0].text == "row 42"


def test_relevance_matches_the_order_and_score_stays_the_cosine(local_store):
    store = local_store
    store.create("kb", embedding="e", dim=8)
    kb = store.get("kb")
    # "b" is found by both retrievers, "a" only by its vector: the fused order and the cosine disagree
    add_document(kb, "a.txt", ["量化 的 一种 方法", "向量 检索", "量化 量化 模型 压缩"],
                 [unit(1, 0.05), unit(0.2, 1), unit(0.8, 0.6)])
    query = unit(1, 0.1)
    for mode in ("hybrid", "vector", "fulltext"):
        hits = kb.search(None if mode == "fulltext" else query, "量化 压缩", top_k=3, mode=mode)
        relevance = [h.relevance for h in hits]
        assert relevance == sorted(relevance, reverse=True) and relevance[0] > 0, mode
    hybrid = kb.search(query, "量化 压缩", top_k=3)
    for hit in hybrid:
        stored = {"量化 的 一种 方法": unit(1, 0.05), "向量 检索": unit(0.2, 1), "量化 量化 模型 压缩": unit(0.8, 0.6)}[hit.text]
        assert hit.score == pytest.approx(float(stored @ query), abs=1e-3)
    assert hybrid[0].relevance <= 1.0


def test_search_logs_no_lance_deprecation_warning(local_store, capfd):
    store = local_store
    store.create("kb", embedding="e", dim=8)
    kb = store.get("kb")
    add_document(kb, "a.txt", ["alpha text", "beta text"], [unit(1), unit(0, 1)])
    capfd.readouterr()
    for mode in ("hybrid", "vector", "fulltext"):
        kb.search(unit(1), "alpha", top_k=2, mode=mode)
    assert "Deprecation warning" not in capfd.readouterr().err


def test_originals_are_kept_beside_the_tables_and_go_with_their_document(store, tmp_path):
    store.create("kb", embedding="e", dim=8)
    kb = store.get("kb")
    source = tmp_path / "source.md"
    source.write_text("# 原文\n", encoding="utf-8")
    add_document(kb, "wiki/原文.md", ["原文"], [unit(1)])
    kb.keep_original(source, "wiki/原文.md")
    assert kb.kept_files() == ["wiki/原文.md"]
    assert kb.original("wiki/原文.md").read_text(encoding="utf-8") == "# 原文\n"
    with pytest.raises(InvalidName):
        kb.original("../kb.json")
    kb.remove_file("wiki/原文.md")
    assert kb.kept_files() == [] and kb.original("wiki/原文.md") is None and kb.documents() == []
    kb.keep_original(source, "again.md")
    store.delete("kb")
    assert store.names() == [] and not store.exists("kb")
    store.create("kb", embedding="e", dim=8)
    assert store.get("kb").kept_files() == []  # nothing of the deleted one is left


def test_orphan_sweep_in_another_process_never_takes_a_new_knowledge_base_s_tables(local_store, tmp_path):
    """A server starting up sweeps orphan tables while `chatchat kb create` (another process) makes a knowledge
    base: its tables exist a moment before its kb.json. The sweep must not take them in that moment."""
    import subprocess
    import sys

    sweeper = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from chatchat.retrieval.store import Store\n"
        "store = Store(Path(sys.argv[1]) / 'kbs', Path(sys.argv[1]) / 'db')\n"
        "end = time.monotonic() + 60\n"
        "while not (Path(sys.argv[1]) / 'stop').exists() and time.monotonic() < end:\n"
        "    store.drop_orphan_tables()\n"), str(tmp_path)])
    try:
        for n in range(40):
            local_store.create(f"kb{n}", embedding="e", dim=8)
    finally:
        (tmp_path / "stop").touch()
        sweeper.wait(timeout=60)
    tables = set(local_store.db.list_tables().tables)
    lost = [info.name for info in local_store.list() if f"{info.table_id}_chunks" not in tables]
    assert not lost, f"tables swept from under knowledge bases {lost}"


# A Chinese question whose answer hinges on a rare bigram: only the long-stalked species' chunk holds 长柄;
# the other species' chunk holds more of the question's common words, and ICU ranks it first
SPECIES_QUESTION = "长柄艾纳香的叶子有什么特点？"
SPECIES = ["长柄艾纳香是菊科的植物，叶片倒卵形，有细长的叶柄。",
           "狭叶艾纳香是菊科艾纳香属的植物，叶子线形，叶子的特点是粗糙。",
           "这种鱼有什么特点？它生活在湖里。", "菊科植物的种类很多。", "秋天的叶子会变黄。"]


def old_schema_kb(store):
    """A knowledge base whose chunk table has the columns of tables made before the bigram column."""
    info = store.create("old", embedding="e", dim=8)
    name = f"{info.table_id}_chunks"
    store.db.drop_table(name)
    store.db.create_table(name, schema=pa.schema([f for f in chunk_schema(8) if f.name != BIGRAM_COLUMN]))
    return store.get("old")


def test_a_chinese_question_is_ranked_by_bigrams_too_and_the_rare_bigram_wins(local_store):
    kb = local_store.get(local_store.create("kb", embedding="e", dim=8).name)
    add_document(kb, "species.txt", SPECIES, [unit(1)] * len(SPECIES))  # one vector: the full text decides
    found = kb.candidates(unit(1), SPECIES_QUESTION, 20)
    assert found.rows[found.bm25[0][0]]["text"] == SPECIES[1]  # ICU alone: the wrong species
    by_bigrams = [found.rows[cid]["text"] for cid, _ in found.bigrams]
    assert by_bigrams.index(SPECIES[0]) < by_bigrams.index(SPECIES[1])  # the bigrams put 长柄 ahead
    for mode in ("hybrid", "fulltext"):
        hits = kb.search(None if mode == "fulltext" else unit(1), SPECIES_QUESTION, top_k=3, mode=mode)
        assert hits[0].text == SPECIES[0], mode
        assert [h.relevance for h in hits] == sorted((h.relevance for h in hits), reverse=True)
    assert kb.candidates(unit(1), "what leaves", 20).bigrams == []  # no CJK: ICU only


def test_a_table_without_the_bigram_column_still_writes_and_searches_as_before(local_store):
    kb = old_schema_kb(local_store)
    add_document(kb, "species.txt", SPECIES, [unit(1, 0.1 * i) for i in range(len(SPECIES))])
    assert [index.columns for index in kb.chunks_table.list_indices() if str(index.index_type) == "FTS"] == [["content"]]
    query = unit(1, 0.2)
    found = kb.candidates(query, SPECIES_QUESTION, 20)
    assert found.bigrams == [] and found.bm25
    hits = kb.search(query, SPECIES_QUESTION, top_k=5)
    assert [h.text for h in hits] == [found.rows[cid]["text"] for cid, _ in fuse(found.cosine, found.bm25)][:5]
    assert kb.search(None, SPECIES_QUESTION, top_k=1, mode="fulltext")[0].text == SPECIES[1]  # ICU, as before
    kb.update_chunk("doc-species.txt:4", "长柄艾纳香的花期在秋季。", unit(0, 0, 1))
    kb.optimize()
    assert kb.search(None, "花期", top_k=1, mode="fulltext")[0].text == "长柄艾纳香的花期在秋季。"


def test_optimize_keeps_the_bigram_index_and_indexes_new_and_edited_chunks(local_store):
    kb = local_store.get(local_store.create("kb", embedding="e", dim=8).name)
    add_document(kb, "one.txt", SPECIES[1:], [unit(1)] * 4)
    add_document(kb, "two.txt", SPECIES[:1], [unit(1)])  # a second batch, optimized again
    fts = [index.columns for index in kb.chunks_table.list_indices() if str(index.index_type) == "FTS"]
    assert sorted(fts) == [[BIGRAM_COLUMN], ["content"]]
    assert kb.chunks_table.index_stats(f"{BIGRAM_COLUMN}_idx").num_unindexed_rows == 0
    assert kb.search(unit(1), SPECIES_QUESTION, top_k=1)[0].file == "two.txt"
    [edited] = kb.chunks_of("one.txt")[-1:]
    kb.update_chunk(f"{edited.doc_id}:{edited.chunk_index}", "短柄艾纳香的叶子有什么特点？叶柄很短。", unit(1))
    kb.optimize()
    found = kb.candidates(unit(1), "短柄", 20)
    assert found.rows[found.bigrams[0][0]]["text"] == "短柄艾纳香的叶子有什么特点？叶柄很短。"
