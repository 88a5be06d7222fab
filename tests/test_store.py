"""The LanceDB store on its own: knowledge bases, registry, search, crash cleanup."""

import numpy as np
import pytest
from s3_server import s3  # noqa: F401  (the session's S3 server, started only for the "s3" runs)

from chatchat.config import Settings
from chatchat.errors import AlreadyExists, InvalidName, NotFound
from chatchat.retrieval.chunks import ChunkRow
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
