"""What a file really is, from its real bytes: programs, archives, media and databases renamed as documents
are named for what they are (issue 11, item 9). Every file here is a real one: system programs, setuptools'
Windows launcher, and files written by the standard library or Pillow."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import tarfile
import wave
import zipfile
from pathlib import Path

import pytest
import setuptools

from chatchat.errors import UnsupportedFile
from chatchat.ingest.parse import parse_file
from chatchat.ingest.sniff import is_hidden_or_system, mismatch_error, sniff
from chatchat.ui.i18n import error_text

WINDOWS_EXE = Path(setuptools.__file__).parent / "cli-64.exe"


def test_linux_program_renamed_pdf_is_reported_as_an_executable(tmp_path: Path) -> None:
    fake = Path(shutil.copy("/bin/ls", tmp_path / "report.pdf"))
    assert sniff(fake) == "elf"
    with pytest.raises(UnsupportedFile) as caught:
        parse_file(fake)
    message = caught.value.message
    assert "report.pdf is an executable program (Linux ELF), not a PDF document" in message
    assert "Programs cannot be added" in message
    chinese = error_text(caught.value, "zh")
    assert "可执行程序" in chinese and "不是PDF 文档" in chinese
    assert "content is text" not in message


@pytest.mark.skipif(not WINDOWS_EXE.is_file(), reason="setuptools ships no Windows launcher here")
def test_windows_program_renamed_docx(tmp_path: Path) -> None:
    fake = Path(shutil.copy(WINDOWS_EXE, tmp_path / "minutes.docx"))
    assert sniff(fake) == "pe"
    with pytest.raises(UnsupportedFile, match=r"minutes\.docx is an executable program \(Windows"):
        parse_file(fake)


def test_archives_media_and_databases_are_named(tmp_path: Path) -> None:
    PIL = pytest.importorskip("PIL.Image")
    made: dict[str, Path] = {}
    made["gzip"] = tmp_path / "a.gz"
    made["gzip"].write_bytes(gzip.compress("正文 text".encode() * 50))
    made["tar"] = tmp_path / "a.tar"
    with tarfile.open(made["tar"], "w") as tar:
        tar.add("/etc/hostname" if Path("/etc/hostname").exists() else __file__, arcname="x")
    made["jar"] = tmp_path / "a.jar"
    with zipfile.ZipFile(made["jar"], "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        z.writestr("Main.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x34")
    made["sqlite"] = tmp_path / "a.db"
    with sqlite3.connect(made["sqlite"]) as db:
        db.execute("create table t (x)")
    made["wav"] = tmp_path / "a.wav"
    with wave.open(str(made["wav"]), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\x00\x00" * 800)
    for kind, fmt in (("webp", "WEBP"), ("tiff", "TIFF")):
        made[kind] = tmp_path / f"a.{kind}"
        PIL.new("RGB", (8, 8), "white").save(made[kind], fmt)
    assert {kind: sniff(path) for kind, path in made.items()} == {kind: kind for kind in made}

    renamed = Path(shutil.copy(made["gzip"], tmp_path / "notes.md"))
    with pytest.raises(UnsupportedFile, match=r"notes\.md is a gzip archive, not text.*Unpack it") as caught:
        parse_file(renamed)
    assert "请先解压" in error_text(caught.value, "zh")


def test_text_that_starts_like_a_magic_number_stays_text(tmp_path: Path) -> None:
    """Short magic numbers (MZ, ID3, BZh) begin ordinary sentences too: only the full signature counts."""
    for i, text in enumerate(["MZ is where the file starts.", "ID3 tags name the song.", "BZh is a prefix.",
                              "RIFF files hold chunks."]):
        path = tmp_path / f"t{i}.txt"
        path.write_text(text * 40, encoding="utf-8")
        assert sniff(path) == "text", text
        assert parse_file(path)


def test_document_mismatch_keeps_naming_both_kinds() -> None:
    error = mismatch_error("报告.txt", ".txt", "docx", "text")
    assert error.message.startswith("报告.txt has the extension .txt, which means text, but its content is a Word document")
    assert error_text(error, "zh").startswith(
        "报告.txt 的扩展名 .txt 表示文本，但内容是Word 文档（.docx）。")
    program = mismatch_error("setup.pdf", ".pdf", "pe", "pdf")
    assert error_text(program, "en") == program.message
    assert error_text(program, "zh") == (
        "setup.pdf 实际是可执行程序（Windows .exe/.dll），不是PDF 文档（扩展名为 .pdf）。程序不能加入知识库，请添加文档本身。")


def test_hidden_and_system_files_of_a_folder() -> None:
    hidden = [".DS_Store", ".git/config", "sub/.hidden/notes.md", "._report.pdf", "~$report.docx",
              "__MACOSX/a.txt", "Thumbs.db", "sub/desktop.ini", "win\\.svn\\entries"]
    kept = ["test.txt", "sub/README.md", "a.b/c.md", "报告 2024.docx", "x~.txt"]
    assert [name for name in hidden + kept if not is_hidden_or_system(name)] == kept
