"""Parsing real documents into elements: every format, OCR, encodings, broken and hostile files.

Real files throughout: the shared sample documents, and small documents written here by the
libraries that make them (tests/parse_samples.py). Nothing is mocked; the network is blocked.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import sys
import zipfile
from pathlib import Path

import parse_samples
import pytest
import pypdfium2 as pdfium
from conftest import REPO, SAMPLES, SHARED_DOCS, UNSTRUCTURED_DOCS

from chatchat.errors import FileTooLarge, ParseError, UnsupportedFile
from chatchat.ingest import offline_nlp
from chatchat.ingest import pdf as pdf_module
from chatchat.ingest.encoding import decode_text
from chatchat.ingest.garbled import looks_garbled
from chatchat.ingest.ocr import ocr_image
from chatchat.ingest.sniff import MAX_MARKUP_BYTES
from chatchat.ingest.parse import MAX_FILE_BYTES, MAX_TEXT_BYTES, SUPPORTED_EXTENSIONS, looks_like_heading, parse_file, table_rows

needs_shared = pytest.mark.skipif(not SHARED_DOCS.is_dir(), reason="shared documents not present")
HAS_LIBREOFFICE = shutil.which("soffice") is not None


def joined(elements) -> str:
    return "\n".join(e.text for e in elements)


# --- the shared real documents ---------------------------------------------------------------

# file → (words that must come out, the page numbers the parse must report or None)
REAL_DOCS: dict[str, tuple[list[str], set[int] | None]] = {
    "chatchat-samples/langchain.pdf": (["LangChain", "Large Language Model"], set(range(1, 9))),
    "chatchat-samples/langchain-ChatGLM_closed.csv": (["title: 加油~以及一些建议", "url: https://github.com/"], None),
    "chatchat-samples/langchain-ChatGLM_open.csv": (["title: 效果如何优化"], None),
    "chatchat-samples/langchain-ChatGLM_closed.xlsx": (["title: 加油~以及一些建议"], {1}),
    "chatchat-samples/langchain-ChatGLM_open.xlsx": (["title: 效果如何优化"], {1}),
    "chatchat-samples/test.txt": (["如何向 ChatGPT 提问以获得高质量答案", "Prompt 工程"], None),
    "chatchat-samples/分布式训练技术原理.md": (["分布式训练技术原理", "数据并行"], None),
    "chatchat-samples/大模型应用技术原理.md": (["大模型应用技术原理", "向量数据库"], None),
    "chatchat-samples/大模型技术栈-实战与应用.md": (["大模型技术栈-实战与应用", "deepspeed"], None),
    "chatchat-samples/大模型技术栈-算法与原理.md": (["tokenizer"], None),
    "chatchat-samples/大模型指令对齐训练原理.md": (["RLHF", "SFT"], None),
    "chatchat-samples/大模型推理优化策略.md": (["PagedAttention", "显存优化"], None),
    "unstructured/eng_spa_mult.epub": (["All human beings are born free", "Todos los seres humanos"], None),
    "unstructured/eng_spa_mult.md": (["All human beings are born free", "Todos los seres humanos"], None),
    "unstructured/eng_spa_mult.rst": (["All human beings are born free", "Todos los seres humanos"], None),
    "unstructured/eng_spa_mult.rtf": (["All human beings are born free", "Todos los seres humanos"], None),
    "unstructured/eng_spa_mult.xml": (["All human beings are born free", "Todos los seres humanos"], None),
    "unstructured/fake-email-with-cc-and-bcc.msg": (["Fake email with cc and bcc recipients", "This is a test email"], None),
    "unstructured/family-day.eml": (["Family Day", "first annual family day"], None),
    "unstructured/fake-html.html": (["My First Heading", "Row 1, Cell 1"], None),
    "unstructured/fake-html-cp1252.html": (["Die schöne Frau", "köstlich"], None),
    "unstructured/fake-incomplete-json.txt": (['"name": "John Doe"'], None),  # as text it is fine
    "unstructured/fake-memo.pdf": (["20,000 bottles of water"], {1}),
    "unstructured/fake-power-point-malformed.pptx": (["Test Slide"], {1}),
    "unstructured/fake-text-utf-16.txt": (["This is a test document to use for unit tests"], None),
    "unstructured/fake-text.txt": (["This is a test document to use for unit tests"], None),
    "unstructured/fake.docx": (["Lorem ipsum dolor sit amet"], None),
    "unstructured/fake.odt": (["Lorem ipsum dolor sit amet", "Mon: Blue"], None),
    "unstructured/layout-parser-paper-fast.pdf": (["LayoutParser", "Document Image Analysis"], {1, 2}),
    "unstructured/multi-column-2p.pdf": (["Dense Passage Retrieval"], {1, 2}),
    "unstructured/page-breaks.docx": (["First page", "Text on second page"], {1, 2, 3, 5, 6}),
    "unstructured/semicolon-delimited.csv": (["Lorem, ipsum", "magna aliqua"], None),
    "unstructured/simple.json": (["Parrots", "This is my first thought"], None),
    "unstructured/simple.ndjson": (["Parrots", "This is my first thought"], None),
    "unstructured/simple.pptx": (["Title Slide", "Things to think about"], {1, 2}),
    "unstructured/stanley-cups.csv": (["Team: Blues", "Stanley Cups: 13"], None),
    "unstructured/stanley-cups.tsv": (["Team: Blues", "Stanley Cups: 13"], None),
    "unstructured/stanley-cups.xlsx": (["Team: Maple Leafs", "Stanley Cups Since 67"], {1, 2}),
}
LIBREOFFICE_DOCS = {
    "unstructured/fake.doc": (["Lorem ipsum dolor sit amet"], None),
    "unstructured/fake-power-point.ppt": (["Adding a Bullet Slide", "Find the bullet slide layout"], {1}),
}
# OCR is slow on 2 cores: each of these is OCR'd once, here.
OCR_DOCS = {
    "chatchat-samples/ocr_test.jpg": (["横向文本框", "竖向文本框"], None),
    "chatchat-samples/ocr_test.docx": (["我是文字", "我是表格1: 我是表格3", "横向文本框"], None),
    "chatchat-samples/ocr_test.pptx": (["我是文字", "横向文本框"], {1}),
    "chatchat-samples/ocr_test.pdf": (["我是文字", "横向文本框"], {1}),  # the text layer, and the picture on the page
    "unstructured/chi_sim_image.jpeg": (["甘草", "清道夫", "适用人群"], None),
    "unstructured/pdf-with-ocr-text.pdf": (["SUGAR", "FOUNDATION"], {1}),
}
BROKEN_DOCS = {
    "unstructured/password.pdf": (ParseError, "password-protected"),
    "unstructured/simple.zip": (UnsupportedFile, "unpack the archive"),
    "unstructured/empty.xlsx": (ParseError, "No text found"),
    "unstructured/fake-text-all-whitespace.txt": (ParseError, "only whitespace"),
    "unstructured/example.jpg": (ParseError, "No text found"),  # a photo of a flower
}


@needs_shared
def test_every_shared_document_has_an_expectation() -> None:
    listed = set(REAL_DOCS) | set(LIBREOFFICE_DOCS) | set(OCR_DOCS) | set(BROKEN_DOCS)
    present = {str(p.relative_to(SHARED_DOCS)) for p in SHARED_DOCS.rglob("*") if p.is_file() and p.name != "README.md"}
    assert present == listed


def _check(relative: str, words: list[str], pages: set[int] | None) -> None:
    elements = parse_file(SHARED_DOCS / relative)
    text = joined(elements)
    for word in words:
        assert word in text, f"{word!r} not found in {relative}"
    if pages is None:
        assert all(e.page is None for e in elements)
    else:
        assert {e.page for e in elements} == pages


@needs_shared
@pytest.mark.parametrize("relative", sorted(REAL_DOCS))
def test_real_document(relative: str) -> None:
    _check(relative, *REAL_DOCS[relative])


@needs_shared
@pytest.mark.skipif(not HAS_LIBREOFFICE, reason="LibreOffice (soffice) not installed")
@pytest.mark.parametrize("relative", sorted(LIBREOFFICE_DOCS))
def test_real_legacy_office_document(relative: str) -> None:
    _check(relative, *LIBREOFFICE_DOCS[relative])


@needs_shared
def test_legacy_office_without_libreoffice_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without LibreOffice
    with pytest.raises(UnsupportedFile, match=r"fake\.doc is a Word 97-2003 document .*needs LibreOffice"):
        parse_file(UNSTRUCTURED_DOCS / "fake.doc")


@needs_shared
@pytest.mark.parametrize("relative", sorted(OCR_DOCS))
def test_real_document_with_ocr(relative: str) -> None:
    _check(relative, *OCR_DOCS[relative])


@needs_shared
@pytest.mark.parametrize("relative", sorted(BROKEN_DOCS))
def test_broken_real_document(relative: str) -> None:
    error, reason = BROKEN_DOCS[relative]
    with pytest.raises(error) as caught:
        parse_file(SHARED_DOCS / relative)
    assert Path(relative).name in caught.value.message
    assert reason in caught.value.message


@needs_shared
def test_markdown_headings_become_sections() -> None:
    elements = parse_file(SAMPLES / "分布式训练技术原理.md")
    assert elements[0].category == "Title" and elements[0].text == "分布式训练技术原理"
    assert all(e.section == "分布式训练技术原理" for e in elements)


@needs_shared
def test_pdf_keeps_text_per_page() -> None:
    elements = parse_file(SAMPLES / "langchain.pdf")
    assert [e.page for e in elements if e.category == "Text"] == list(range(1, 9))  # pictures add "Image" elements
    assert "Creating Large Language Model Applications" in elements[0].text


# --- every supported extension, from files written here -------------------------------------


def test_every_supported_extension_has_a_sample() -> None:
    assert set(parse_samples.MAKERS) == SUPPORTED_EXTENSIONS


@needs_shared
@pytest.mark.parametrize("ext", sorted(SUPPORTED_EXTENSIONS))
def test_generated_document(ext: str, tmp_path: Path) -> None:
    if ext in parse_samples.NEEDS_LIBREOFFICE and not HAS_LIBREOFFICE:
        pytest.skip("LibreOffice (soffice) not installed")
    path, words = parse_samples.MAKERS[ext](tmp_path)
    elements = parse_file(path)
    text = joined(elements)
    for word in words:
        assert word in text, f"{word!r} not found in {path.name}: {text[:300]!r}"


def test_headings_and_sections_from_markup_and_styles(tmp_path: Path) -> None:
    heading, sub = parse_samples.HEADING, parse_samples.SUBHEADING
    for maker in (parse_samples.markdown, parse_samples.html, parse_samples.word):
        path, _ = maker(tmp_path)
        elements = parse_file(path)
        titles = [e.text for e in elements if e.category == "Title"]
        assert titles[:2] == [heading, sub], path.name
        body = next(e for e in elements if "数据并行" in e.text)
        assert body.section == heading, path.name


def test_slides_have_page_numbers_and_titles(tmp_path: Path) -> None:
    path, _ = parse_samples.powerpoint(tmp_path)
    elements = parse_file(path)
    assert {e.page for e in elements} == {1, 2}
    second = [e for e in elements if e.page == 2]
    assert second[0].category == "Title" and all(e.section == parse_samples.SUBHEADING for e in second)


def test_sheets_are_pages_and_rows_keep_their_headers(tmp_path: Path) -> None:
    path, _ = parse_samples.excel(tmp_path)
    elements = parse_file(path)
    rows = {e.text: (e.page, e.section) for e in elements if e.category == "Table"}
    assert rows["问题: 什么是知识库 | 答案: 一组可检索的文档"] == (1, "问题")
    assert rows["Team: Blues | Cups: 1"] == (2, "Teams")


def test_two_page_pdf(tmp_path: Path) -> None:
    path, _ = parse_samples.pdf(tmp_path)
    assert [(e.page, e.text.strip()) for e in parse_file(path)] == [
        (1, "Knowledge base page 1"),
        (2, "Knowledge base page 2"),
    ]


@needs_shared
def test_scanned_pdf_page_is_ocrd_and_needs_ocr(tmp_path: Path) -> None:
    path, _ = parse_samples.scanned_pdf(tmp_path)
    elements = parse_file(path)
    assert elements[0].page == 1 and elements[0].category == "Image"
    assert "横向文本框" in elements[0].text
    with pytest.raises(ParseError, match=r"scan\.pdf has no text layer.*OCR"):
        parse_file(path, ocr=False)


@needs_shared
def test_garbled_text_layer_is_replaced_by_ocr(tmp_path: Path) -> None:
    path, words, garbage = parse_samples.garbled_pdf(tmp_path)
    elements = parse_file(path)
    assert {e.page for e in elements} == {1, 2, 3}
    for page in (1, 2, 3):
        text = joined(e for e in elements if e.page == page)
        assert all(word in text for word in words), (page, text)
        assert not any(junk in text for junk in garbage), (page, text)
    with pytest.raises(ParseError, match="unreadable text layer"):
        parse_file(path, ocr=False)


def test_mojibake_is_told_from_real_text() -> None:
    for pdf in sorted(SHARED_DOCS.rglob("*.pdf")):
        if pdf.name != "password.pdf":
            for number, page in enumerate(pdfium.PdfDocument(pdf), start=1):
                assert not looks_garbled(page.get_textpage().get_text_bounded(), lambda: True), (pdf.name, number)
    for source in ("chatchat/ingest/parse.py", "pyproject.toml"):  # code and config: many symbols
        assert not looks_garbled((REPO / source).read_text(encoding="utf-8"), lambda: False)
    assert not looks_garbled("目录 ........................ 1\n第一章 ..................... 5", lambda: True)
    assert not looks_garbled("Retrieval-augmented generation answers from documents", lambda: True)
    assert looks_garbled('图 ! !"#$ 基因外显子 %、&、’、( 图 ! "#', lambda: False)  # the reported page
    assert looks_garbled("ÖªÊ¶¿âÖÜ±¨ ¸÷Î»Í¬ÊÂ£º±¾ÖÜ", lambda: False)
    assert looks_garbled("ABCDEFGHIJKLMNOPQRS TUVWXYZabcdefghij", lambda: True)
    assert not looks_garbled("ABCDEFGHIJKLMNOPQRS TUVWXYZabcdefghij", lambda: False)


def test_pictures_inside_a_text_pdf_are_read_once_within_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, words = parse_samples.pictured_text_pdf(tmp_path)
    elements = parse_file(path)
    text = joined(elements)
    assert all(word in text for word in words), text
    # the same picture on page 2 (a logo, a letterhead) is read on its first page only
    assert [(e.page, e.category) for e in elements] == [(1, "Text"), (1, "Image"), (2, "Text")]
    monkeypatch.setattr(pdf_module, "IMAGE_OCR_BUDGET_S", 0.0)
    assert [(e.page, e.category) for e in parse_file(path)] == [(1, "Text"), (2, "Text")]


def test_image_without_ocr_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile, match=r"ocr_test\.jpg.*OCR"):
        parse_file(SAMPLES / "ocr_test.jpg", ocr=False)


@needs_shared
def test_missing_ocr_engine_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hide the installed package the way an install without the extra lacks it.
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    with pytest.raises(UnsupportedFile, match=r"ocr_test\.jpg.*chatchat\[ocr\]"):
        parse_file(SAMPLES / "ocr_test.jpg")
    # A document with text still parses; only its pictures go unread.
    assert "我是文字" in joined(parse_file(SAMPLES / "ocr_test.docx"))


def test_hairline_picture_is_not_blown_up_for_ocr() -> None:
    # RapidOCR alone scales a 3 x 2000 px rule line to 736 x 490,000 px and runs out of memory.
    from PIL import Image

    assert ocr_image(Image.new("RGB", (3, 2000), "white"), "rule.png") == []


def test_user_facing_name_gives_the_type_of_a_stored_copy(tmp_path: Path) -> None:
    path, _ = parse_samples.word(tmp_path)
    stored = path.rename(tmp_path / "4f2a9c")
    assert parse_samples.HEADING in joined(parse_file(stored, filename="报告.docx"))
    with pytest.raises(UnsupportedFile, match=r"报告\.txt has the extension \.txt.*Word document"):
        parse_file(stored, filename="报告.txt")


# --- encodings ---------------------------------------------------------------------------------

ZH = "分布式训练技术原理：数据并行是最常见的并行方式，模型复制到每张显卡上。"
ZH_TW = "分散式訓練技術原理：資料平行是最常見的平行方式，模型複製到每張顯示卡上。"
LATIN = "Die schöne Frau hat einen Kaffee getrunken. Sie sagte: “Das war köstlich!” – naïve café"


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        (ZH, "utf-8"),
        (ZH, "utf-8-sig"),
        (ZH, "utf-16"),
        (ZH, "utf-16-be"),
        (ZH, "utf-32"),
        (ZH, "gbk"),
        (ZH, "gb18030"),
        ("中文测试", "gbk"),
        (ZH_TW, "big5"),
        (LATIN, "cp1252"),
    ],
)
def test_text_encodings(content: str, encoding: str) -> None:
    data = content.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data  # BOM-marked big-endian, as Windows tools write it
    assert decode_text(data, "x.txt") == content


def test_gbk_text_file(tmp_path: Path) -> None:
    path = tmp_path / "笔记.txt"
    path.write_bytes(f"{ZH}\n\n第二段：流水线并行把模型按层切分。\n".encode("gbk"))
    text = joined(parse_file(path))
    assert "数据并行是最常见的并行方式" in text and "流水线并行" in text


SUBJECT, BODY = 0x0037, 0x1000
MSG_BODY = "各位同事：本周知识库新增了分布式训练的资料，请大家查阅并补充。数据并行把模型复制到每张显卡上。"
MSG_BODY_TW = "各位同事：本週知識庫新增了分散式訓練的資料，請大家查閱並補充。資料平行把模型複製到每張顯示卡上。"
HTML_BODY = f"<html><head><meta charset='gbk'></head><body><p>{MSG_BODY}</p></body></html>"


@pytest.mark.parametrize(
    ("strings", "encoding", "numbers", "html", "words"),
    [
        # 8-bit strings with only the body's code page declared (the subject has none of its own)
        ({SUBJECT: "周报：知识库", BODY: MSG_BODY}, "gbk", {0x3FDE: 936}, None, ["周报：知识库", "数据并行"]),
        # Big5, no code page at all, the charset only in the transport headers
        ({SUBJECT: "MSG 格式測試", BODY: MSG_BODY_TW, 0x007D: "Content-Type: text/plain; charset=big5\r\n"},
         "big5", None, None, ["MSG 格式測試", "資料平行"]),
        # GBK with nothing declared: detected
        ({SUBJECT: "知识库周报", BODY: MSG_BODY}, "gbk", None, None, ["知识库周报", "数据并行"]),
        # both code pages declared, GB18030-only characters
        ({SUBJECT: "会议纪要 𠀀", BODY: MSG_BODY}, "gb18030", {0x3FFD: 54936, 0x3FDE: 54936}, None, ["会议纪要 𠀀"]),
        # Unicode properties (what Outlook 2003 and later write)
        ({SUBJECT: "知识库周报", BODY: MSG_BODY}, None, None, None, ["知识库周报", "数据并行"]),
        # an HTML body in bytes that names its charset, 8-bit subject without a code page
        ({SUBJECT: "知识库周报"}, "gbk", None, HTML_BODY.encode("gbk"), ["知识库周报", "数据并行"]),
    ],
    ids=["internet-cpid", "big5-headers", "gbk-detected", "gb18030-declared", "unicode", "html-bytes"],
)
def test_chinese_outlook_message(strings, encoding, numbers, html, words, tmp_path: Path) -> None:
    path = parse_samples.outlook_msg(tmp_path / "周报.msg", strings, encoding, numbers, html)
    elements = parse_file(path)
    text = joined(elements)
    for word in words:
        assert word in text, text
    assert elements[0].category == "Title" and elements[0].text == words[0]
    assert not set(text) & set("®æŠ¡ŽúžÕ²âÊÔÖª"), text  # Latin-9/1252 reading of the bytes


def test_binary_bytes_are_not_text() -> None:
    with pytest.raises(ParseError, match="blob.txt does not look like a text file"):
        decode_text(bytes(range(256)) * 8, "blob.txt")


# --- broken and hostile files -----------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "空.docx"
    path.touch()
    with pytest.raises(ParseError, match=r"空\.docx is empty \(0 bytes\)"):
        parse_file(path)


def test_zip_bomb_in_docx_is_refused_unopened(tmp_path: Path) -> None:
    path = parse_samples.zip_bomb_docx(tmp_path)
    with pytest.raises(ParseError, match=r"report\.docx.*zip bomb"):
        parse_file(path)


def test_password_protected_docx(tmp_path: Path) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    path, _ = parse_samples.word(tmp_path)
    locked = tmp_path / "机密.docx"
    with path.open("rb") as plain_file, locked.open("wb") as out:
        OOXMLFile(plain_file).encrypt("secret", out)  # what Word's "Encrypt with password" writes
    with pytest.raises(ParseError, match=r"机密\.docx is password-protected"):
        parse_file(locked)


def test_damaged_docx(tmp_path: Path) -> None:
    path, _ = parse_samples.word(tmp_path)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(ParseError, match=r"report\.docx is damaged"):
        parse_file(path)


@needs_shared
def test_truncated_pdf(tmp_path: Path) -> None:
    data = (SAMPLES / "langchain.pdf").read_bytes()
    path = tmp_path / "half.pdf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError, match=r"half\.pdf is damaged or truncated"):
        parse_file(path)


@needs_shared
def test_pdf_renamed_docx_names_both_types(tmp_path: Path) -> None:
    path = Path(shutil.copy(SAMPLES / "langchain.pdf", tmp_path / "paper.docx"))
    with pytest.raises(UnsupportedFile, match=r"paper\.docx has the extension \.docx.*Word.*PDF"):
        parse_file(path)


@needs_shared
def test_zip_renamed_xlsx(tmp_path: Path) -> None:
    path = Path(shutil.copy(UNSTRUCTURED_DOCS / "simple.zip", tmp_path / "data.xlsx"))
    with pytest.raises(UnsupportedFile, match=r"data\.xlsx.*zip archive"):
        parse_file(path)


@needs_shared
def test_incomplete_json(tmp_path: Path) -> None:
    path = Path(shutil.copy(UNSTRUCTURED_DOCS / "fake-incomplete-json.txt", tmp_path / "person.json"))
    with pytest.raises(ParseError, match=r"person\.json is not valid JSON.*truncated"):
        parse_file(path)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "movie.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    with pytest.raises(UnsupportedFile, match=r"movie\.mp4: files of type \.mp4 are not supported"):
        parse_file(path)


@pytest.mark.parametrize(("name", "size", "limit"), [("huge.txt", MAX_TEXT_BYTES + 1, 20), ("huge.pdf", MAX_FILE_BYTES + 1, 200)])
def test_oversized_file_is_refused_before_reading(name: str, size: int, limit: int, tmp_path: Path) -> None:
    path = tmp_path / name
    with path.open("wb") as f:
        f.truncate(size)  # sparse: no disk or memory used
    with pytest.raises(FileTooLarge, match=rf"{name} is .* MB, over the {limit} MB limit"):
        parse_file(path)


def test_spreadsheet_with_too_much_markup_is_refused(tmp_path: Path) -> None:
    path, _ = parse_samples.excel(tmp_path)
    # Varied numbers compress about as well as a real sheet does: big, but no zip bomb. A 1 MB
    # block repeated still deflates like unique data (deflate looks back only 32 KB).
    rng = random.Random(7)
    block = b"".join(b"<row><c><v>%d</v></c></row>" % rng.getrandbits(64) for _ in range(30_000))
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("xl/worksheets/sheet9.xml", "w", force_zip64=True) as member:
            for _ in range(MAX_MARKUP_BYTES // len(block) + 1):
                member.write(block)
    try:
        with pytest.raises(FileTooLarge, match=r"book\.xlsx holds .* MB of document text"):
            parse_file(path)
    finally:
        path.unlink()  # pytest keeps the tmp dirs of recent runs


# --- titles, tables -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "heading"),
    [
        ("分布式训练", True),
        ("第一章：Prompt 工程技术简介", True),
        ("7.1 显存优化", True),
        ("Important Points", True),
        ("ChatGPT是OpenAI开发的一个大型语言模型，可以提供各种主题的信息，", False),
        ("生成客户服务响应：**", False),
        ("什么是 Prompt 工程？", False),
        ("它允许用户控制模型的输出。并生成文本", False),
        ("This is a test document to use for unit tests.", False),
        ("2023", False),
        ('<div style="page-break-after:always;"></div>', False),
        ("这是一个很长的句子没有标点符号但是也不是标题因为它真的太长了而且还在继续说下去", False),
    ],
)
def test_heuristic_title_check(text: str, heading: bool) -> None:
    assert looks_like_heading(text) is heading


def test_table_rows_label_cells_with_headers() -> None:
    html = (
        "<table><tr><td>Stanley Cups</td><td/><td/></tr><tr><td>Team</td><td>City</td><td>Cups</td></tr>"
        "<tr><td>Blues</td><td>STL</td><td>1</td></tr><tr><td>Flyers</td><td></td><td>2</td></tr></table>"
    )
    assert table_rows(html) == ["Stanley Cups", "Team: Blues | City: STL | Cups: 1", "Team: Flyers | Cups: 2"]
    assert table_rows("<table><tr><td>1</td><td>2</td></tr><tr><td>3</td><td>4</td></tr></table>") == ["1 | 2", "3 | 4"]


# --- offline ----------------------------------------------------------------------------------


@pytest.fixture
def lookups(no_network, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name anything tried to resolve (no_network refuses all but loopback)."""
    tried: list[str] = []
    blocked = socket.getaddrinfo

    def record(host, *args, **kwargs):
        tried.append(str(host))
        return blocked(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", record)
    return tried


@needs_shared
def test_parsing_never_touches_the_network(lookups: list[str], tmp_path: Path) -> None:
    # These partitioners all run unstructured's text classifier, which would fetch a spaCy
    # model from GitHub, and unstructured's telemetry, which would call home.
    assert os.environ["DO_NOT_TRACK"] == "1"
    for maker in (parse_samples.text, parse_samples.markdown, parse_samples.html, parse_samples.word,
                  parse_samples.powerpoint, parse_samples.email_message, parse_samples.excel):
        path, words = maker(tmp_path)
        assert words[0] in joined(parse_file(path))
    assert parse_file(UNSTRUCTURED_DOCS / "fake-text.txt")
    assert [h for h in lookups if h not in ("localhost", "127.0.0.1", "::1")] == []


def test_offline_pipeline_replaces_the_model_download() -> None:
    import spacy.util
    from unstructured.nlp import tokenize

    if spacy.util.is_package("en_core_web_sm"):
        assert offline_nlp.install() is False
        pytest.skip("the real en_core_web_sm is installed; unstructured uses it")
    assert offline_nlp.install() is True
    assert tokenize.sent_tokenize("第一句。第二句！Third one. Fourth?") == ["第一句。", "第二句！", "Third one.", "Fourth?"]


def test_a_names_middle_dot_does_not_break_a_text_files_sentence(tmp_path: Path) -> None:
    # 约翰·埃尔维 is one name; a "·" at a line's start is still a bullet
    path = tmp_path / "names.txt"
    path.write_text("约翰·埃尔维是一位科学家，他在1950年发表了论文。之后他去了美国·纽约工作。\n\n"
                    "第二段：玛丽·居里发现了镭。\n\n· 第一项\n· 第二项\n", encoding="utf-8")
    texts = [element.text for element in parse_file(path)]
    assert texts[:2] == ["约翰·埃尔维是一位科学家，他在1950年发表了论文。之后他去了美国·纽约工作。", "第二段：玛丽·居里发现了镭。"]
    assert texts[2:] == ["第一项", "第二项"]
