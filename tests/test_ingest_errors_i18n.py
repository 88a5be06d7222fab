"""A file that cannot be added says why in the UI's language: the Chinese UI reads Chinese, the English one
the server's message (real files through a real ingest into a real knowledge base)."""

from __future__ import annotations

import re
from pathlib import Path

from chatchat.ingest.parse import SUPPORTED_EXTENSIONS
from chatchat.retrieval.registry import INTERRUPTED, DocumentRecord
from chatchat.ui.i18n import document_error_text, message_text
from chatchat.ui.progress import IngestView

from conftest import SAMPLES

HAN = re.compile(r"[\u4e00-\u9fff]")


def bad_files(folder: Path) -> dict[str, Path]:
    """A file of each kind of fault, by the key its error must carry."""
    pdf = (SAMPLES / "langchain.pdf").read_bytes()
    files = {
        "ingest_empty": ("空文件.txt", b""),
        "ingest_whitespace": ("blank.md", "  \n\u3000\n".encode()),
        "ingest_unsupported_type": ("setup.exe", b"MZ" + bytes(62)),
        "ingest_no_extension": ("README", b"plain words"),
        "ingest_pdf_damaged": ("截断的.pdf", pdf[: len(pdf) // 3][:4096]),
        "ingest_json_invalid": ("config.json", b'{"a": 1,'),
        "ingest_notebook_no_cells": ("notebook.ipynb", b'{"metadata": {}}'),
        "ingest_jsonl_line_invalid": ("rows.jsonl", b'{"a": 1}\n{"b": \n'),
    }
    paths = {}
    for key, (name, data) in files.items():
        path = folder / name
        path.write_bytes(data)
        paths[key] = path
    return paths


def test_each_refused_file_carries_a_key_whose_text_names_the_file_in_both_languages(services, tmp_path):
    services.create_kb("errors", embedding="minilm-l6-v2-int8")
    files = bad_files(tmp_path)
    results = services.add_files("errors", list(files.values()))
    assert [r.status for r in results] == ["failed"] * len(files)
    for (key, path), result in zip(files.items(), results):
        assert result.error_key == key, (path.name, result.error)
        english = message_text(result.error, result.error_key, result.error_params, "en")
        chinese = message_text(result.error, result.error_key, result.error_params, "zh")
        assert path.name in english and path.name in chinese
        assert english.replace("'", "") == result.error.replace("'", "")  # the English text is the server's message
        assert HAN.search(chinese.replace(path.name, "")), chinese  # Chinese beyond the file's own name
    assert services.documents("errors") == []  # nothing was registered for any of them
    unsupported = results[2].error_params
    assert unsupported["ext"] == ".exe" and ".pdf" in unsupported["supported"]
    assert set(unsupported["supported"].split(", ")) == SUPPORTED_EXTENSIONS


def test_the_progress_panel_shows_a_refused_file_in_the_sessions_language(services, tmp_path):
    services.create_kb("panel", embedding="minilm-l6-v2-int8")
    empty = tmp_path / "报告.txt"
    empty.write_bytes(b"")
    good = tmp_path / "test.txt"
    good.write_bytes((SAMPLES / "test.txt").read_bytes())
    results = services.add_files("panel", [empty, good])
    assert [r.status for r in results] == ["failed", "added"]
    view = IngestView([empty.name, good.name])
    view.finish(results)
    zh, en = view.render("zh"), view.render("en")
    assert "报告.txt 是空文件（0 字节），没有可添加的内容。" in zh and "is empty (0 bytes)" not in zh
    assert "报告.txt is empty (0 bytes)" in en


def test_a_library_error_and_a_cancel_are_shown_in_chinese_too():
    from chatchat.errors import Cancelled
    from chatchat.ingest.job import FileResult

    broken = FileResult.stopped("a.docx", KeyError("word/document.xml"))
    assert broken.status == "failed" and broken.error == "KeyError: 'word/document.xml'"
    assert message_text(broken.error, broken.error_key, broken.error_params, "zh").startswith(
        "读取失败：KeyError: 'word/document.xml'。")
    cancelled = FileResult.stopped("a.md", Cancelled("cancelled; nothing of this file was stored", key="ingest_cancelled"))
    assert cancelled.status == "cancelled"
    assert message_text(cancelled.error, cancelled.error_key, cancelled.error_params, "zh") == "已取消，此文件的内容都没有存入"


def test_an_interrupted_ingest_reads_in_chinese_in_the_documents_table():
    record = DocumentRecord("d1", "a.md", "0" * 64, 1, None, 0, "failed", INTERRUPTED, "2026-12-03T00:00:00+00:00")
    assert document_error_text(record, "zh") == "已中断：入库过程中应用停止了，请重新添加该文件"
    assert document_error_text(record, "en") == INTERRUPTED
    assert document_error_text(DocumentRecord.new("b.md", "0" * 64, 1, None), "zh") == ""
