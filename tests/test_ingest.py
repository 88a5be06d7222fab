"""Ingest through the real services: real documents, the packaged MiniLM model, real LanceDB."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from chatchat.errors import InvalidName, NotFound
from chatchat.ingest.job import collect_files, safe_file_name

from conftest import REPO, SAMPLES, UNSTRUCTURED_DOCS

MIXED = [
    SAMPLES / "大模型推理优化策略.md",
    SAMPLES / "分布式训练技术原理.md",
    UNSTRUCTURED_DOCS / "fake-text.txt",
    UNSTRUCTURED_DOCS / "fake-html.html",
    UNSTRUCTURED_DOCS / "stanley-cups.csv",
]


def test_mixed_batch_ingests_and_is_searchable_in_chinese_and_english(services):
    services.create_kb("docs")
    seen = []
    results = services.add_files("docs", MIXED, progress=seen.append)
    assert [r.status for r in results] == ["added"] * len(MIXED), results
    assert all(r.chunks > 0 for r in results)
    assert seen[-1].stage == "done" and {p.stage for p in seen} >= {"parse", "embed", "store", "done"}
    hits = services.search("docs", "PagedAttention 显存", top_k=3)
    assert hits[0].file == "大模型推理优化策略.md"
    hits = services.search("docs", "数据并行", top_k=3, mode="fulltext")
    assert hits and hits[0].file == "分布式训练技术原理.md"
    assert services.search("docs", "Stanley Cup", top_k=1)[0].file == "stanley-cups.csv"
    docs = {d.file: d for d in services.documents("docs")}
    assert docs["fake-text.txt"].status == "ready" and docs["fake-text.txt"].sha256
    assert (services.store.get("docs").files_dir / "大模型推理优化策略.md").is_file()


def test_hybrid_ranks_by_full_text_where_the_embedding_model_lacks_the_language(services):
    """MiniLM knows English only: for a Chinese question its vectors would only add noise."""
    services.create_kb("docs", embedding="minilm-l6-v2-int8")  # no longer the default (multilingual-e5 is)
    services.add_files("docs", MIXED)

    def ranking(query: str, mode: str) -> list[tuple[str, int]]:
        return [(h.file, h.chunk_index) for h in services.search("docs", query, top_k=5, mode=mode, score_threshold=-1)]

    chinese = "模型并行与数据并行的通信开销"
    assert ranking(chinese, "hybrid") == ranking(chinese, "fulltext")
    english = "Stanley Cup winners by year"
    assert ranking(english, "hybrid") != ranking(english, "fulltext")


def test_pdf_pages_are_kept_in_hits(services):
    services.create_kb("pdf")
    [result] = services.add_files("pdf", [UNSTRUCTURED_DOCS / "layout-parser-paper-fast.pdf"])
    assert result.status == "added" and result.pages == 2
    hits = services.search("pdf", "LayoutParser library", top_k=5)
    assert hits and all(h.page in (1, 2) for h in hits)
    chunks = services.chunks("pdf", "layout-parser-paper-fast.pdf")
    assert {c.page for c in chunks} == {1, 2}


def test_unchanged_file_is_skipped_and_changed_file_replaces(services, tmp_path):
    services.create_kb("kb")
    note = tmp_path / "note.md"
    note.write_text("# 标题\n\n第一版的内容：苹果。\n", encoding="utf-8")
    assert services.add_files("kb", [note])[0].status == "added"
    assert services.add_files("kb", [note])[0].status == "unchanged"
    note.write_text("# 标题\n\n第二版的内容：香蕉。\n", encoding="utf-8")
    assert services.add_files("kb", [note])[0].status == "replaced"
    texts = " ".join(h.text for h in services.search("kb", "内容", top_k=5))
    assert "香蕉" in texts and "苹果" not in texts
    assert len(services.documents("kb")) == 1


def test_bad_files_fail_one_by_one_and_nothing_stored_changes(services, tmp_path):
    services.create_kb("kb")
    good = tmp_path / "good.md"
    good.write_text("Chatchat keeps every good document.", encoding="utf-8")
    services.add_files("kb", [good])
    before = [h.text for h in services.search("kb", "good document", top_k=5)]
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "program.exe"
    binary.write_bytes(b"MZ\x90\x00")
    no_ext = tmp_path / "README"
    no_ext.write_text("text", encoding="utf-8")
    broken = tmp_path / "good.md.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj <<")  # truncated
    replacement = tmp_path / "good.md"
    results = services.add_files(
        "kb",
        [empty, binary, no_ext, broken, UNSTRUCTURED_DOCS / "password.pdf", replacement],
        names=["empty.txt", "program.exe", "README", "broken.pdf", "password.pdf", "good.md"],
    )
    by_file = {r.file: r for r in results}
    assert by_file["good.md"].status == "unchanged"
    for name in ["empty.txt", "program.exe", "README", "broken.pdf", "password.pdf"]:
        assert by_file[name].status == "failed", by_file[name]
        assert name in by_file[name].error
    assert "password" in by_file["password.pdf"].error.lower()
    assert [h.text for h in services.search("kb", "good document", top_k=5)] == before


def test_hostile_names_are_reduced_to_a_base_name(services, tmp_path):
    assert safe_file_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_file_name("C:\\Users\\x\\报告.md") == "报告.md"
    assert safe_file_name("a\x00b\x1f.txt") == "ab.txt"
    with pytest.raises(InvalidName):
        safe_file_name("../..")
    services.create_kb("kb")
    source = tmp_path / "x.md"
    source.write_text("hostile names stay inside the knowledge base", encoding="utf-8")
    [result] = services.add_files("kb", [source], names=["../../../outside.md"])
    assert result.status == "added" and result.file == "outside.md"
    assert (services.store.get("kb").files_dir / "outside.md").is_file()
    assert not (services.settings.home / "outside.md").exists()


def test_oversized_file_is_refused_before_reading(services, tmp_path):
    services.settings.max_upload_mb = 1
    services.create_kb("kb")
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (2 * 2**20))
    [result] = services.add_files("kb", [big])
    assert result.status == "failed" and "limit" in result.error


def test_cancel_stores_nothing_of_the_cancelled_file(services, tmp_path):
    services.create_kb("kb")
    cancel = threading.Event()

    def stop_when_embedding(progress):
        if progress.stage == "embed":
            cancel.set()

    results = services.add_files("kb", MIXED[:2], progress=stop_when_embedding, cancel=cancel)
    assert [r.status for r in results] == ["cancelled", "cancelled"]
    assert services.documents("kb") == []
    assert services.search("kb", "显存", top_k=3) == []


def test_remove_reingest_rebuild_and_delete(services):
    services.create_kb("kb")
    services.add_files("kb", MIXED[:2])
    services.remove_document("kb", "分布式训练技术原理.md")
    assert all(h.file != "分布式训练技术原理.md" for h in services.search("kb", "数据并行", top_k=5))
    with pytest.raises(NotFound):
        services.remove_document("kb", "分布式训练技术原理.md")
    assert services.reingest("kb", "大模型推理优化策略.md").status == "replaced"
    assert [r.status for r in services.rebuild_kb("kb")] == ["replaced"]
    services.delete_kb("kb")
    assert services.list_kbs() == []


def test_collect_files_walks_folders_and_skips_hidden(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("a")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "b.md").write_text("b")
    (tmp_path / "c.txt").write_text("c")
    (tmp_path / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tmp_path / "sub" / "Thumbs.db").write_bytes(b"\xd0\xcf")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.md").write_text("another a")
    assert [name for _, name in collect_files([tmp_path])] == ["c.txt", "other/a.md", "sub/a.md"]
    assert [name for _, name in collect_files([tmp_path / "sub" / "a.md"])] == ["a.md"]


def test_cli_folder_add_keeps_sub_paths_and_skips_hidden_files(services, settings, tmp_path):
    """Two README.md in different sub-folders are two documents, named as in the folder."""
    folder = tmp_path / "wiki"
    for sub in ("en", "zh"):
        (folder / sub).mkdir(parents=True)
        (folder / sub / "README.md").write_text(f"# {sub}\n\nThe {sub} readme.\n", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    services.create_kb("kb")
    out = subprocess.run(
        [sys.executable, "-m", "chatchat", "--home", str(settings.home), "kb", "add", "kb", str(folder), "--json"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    assert sorted(d.file for d in services.documents("kb")) == ["en/README.md", "zh/README.md"]


def test_short_text_without_sentence_punctuation_indexes(services, tmp_path):
    """A line or a list with no full stop is still text (unstructured guesses each line a title)."""
    services.create_kb("kb")
    files = {
        "hello.txt": "hello world\n",
        "fox.txt": "The quick brown fox jumps over the lazy dog",
        "shopping.txt": "milk\neggs\nbread\n",
        "heading-only.md": "# 会议纪要\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    results = services.add_files("kb", [tmp_path / name for name in files])
    assert [r.status for r in results] == ["added"] * len(files), results
    assert services.search("kb", "lazy dog", top_k=1, mode="fulltext")[0].file == "fox.txt"
    [list_chunk] = services.chunks("kb", "shopping.txt")
    assert list_chunk.text.split() == ["milk", "eggs", "bread"]
    assert services.chunks("kb", "heading-only.md")[0].text == "会议纪要"
    assert services.search("kb", "hello", top_k=1, mode="fulltext")[0].file == "hello.txt"


def test_links_out_of_an_added_folder_or_the_kb_folder_are_not_followed(services, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the secret lies outside the folder", encoding="utf-8")
    (outside / "deep").mkdir()
    (outside / "deep" / "more.txt").write_text("more secrets", encoding="utf-8")
    folder = tmp_path / "added"
    folder.mkdir()
    (folder / "note.txt").write_text("a note inside the folder", encoding="utf-8")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "secret.txt").symlink_to(outside / "secret.txt")
    (folder / "linked-dir").symlink_to(outside, target_is_directory=True)
    (folder / "alias.txt").symlink_to(folder / "note.txt")  # a link within the folder is fine
    found = collect_files([folder])
    assert [name for _, name in found] == ["alias.txt", "note.txt"]

    services.create_kb("kb")
    services.add_files("kb", [path for path, _ in found], [name for _, name in found])
    files_dir = services.store.get("kb").files_dir
    (files_dir / "passwd.txt").symlink_to("/etc/passwd")
    results = {r.file: r for r in services.rebuild_kb("kb")}
    assert results["passwd.txt"].status == "failed" and "link" in results["passwd.txt"].error
    assert {r.status for name, r in results.items() if name != "passwd.txt"} == {"replaced"}
    assert "passwd.txt" not in {d.file for d in services.documents("kb")}
    assert services.search("kb", "root", top_k=3, mode="fulltext") == []


def test_ingest_and_search_work_with_the_network_blocked(services, no_network):
    services.create_kb("offline")
    results = services.add_files("offline", [SAMPLES / "大模型指令对齐训练原理.md", UNSTRUCTURED_DOCS / "fake.docx"])
    assert [r.status for r in results] == ["added", "added"], results
    assert services.search("offline", "指令对齐", top_k=1)


def test_kb_info_json_prints_the_kb_and_its_documents(services, settings):
    services.create_kb("kb", "说明 notes")
    services.add_files("kb", [SAMPLES / "test.txt"])
    out = subprocess.run(
        [sys.executable, "-m", "chatchat", "--home", str(settings.home), "kb", "info", "kb", "--json"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["kb"]["name"] == "kb" and info["kb"]["description"] == "说明 notes" and info["kb"]["dim"] == 384
    assert [(d["file"], d["status"]) for d in info["documents"]] == [("test.txt", "ready")]
