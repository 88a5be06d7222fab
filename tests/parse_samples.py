"""Small but real documents of every supported type, written by the libraries that make them.

Each maker writes one file into a folder and returns (path, words that parsing must find).
Outlook .msg files are written with tests/cfb_writer.py. Where no Python writer exists (.doc,
.ppt) the tests use the shared real documents;
.xls is converted from .xlsx by LibreOffice when it is installed.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import docx
import openpyxl
import pikepdf
import pptx
import pypandoc
from cfb_writer import write_cfb
from PIL import Image

SHARED_DOCS = Path(__file__).resolve().parents[1].parent / "shared" / "docs"
OCR_JPG = SHARED_DOCS / "chatchat-samples" / "ocr_test.jpg"

HEADING = "分布式训练"
BODY = "数据并行把模型复制到每张显卡上 Data parallelism copies the model"
SUBHEADING = "流水线并行"
MARKDOWN = f"# {HEADING}\n\n{BODY}。\n\n## {SUBHEADING}\n\n模型按层切分到多张显卡。\n"

Maker = Callable[[Path], tuple[Path, list[str]]]


def _write(folder: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = folder / name
    if isinstance(content, str):
        content = content.encode(encoding)
    path.write_bytes(content)
    return path


def html(folder: Path, ext: str = ".html") -> tuple[Path, list[str]]:
    page = (
        f"<html><head><meta charset='utf-8'><title>t</title></head><body><h1>{HEADING}</h1>"
        f"<p>{BODY}。</p><h2>{SUBHEADING}</h2><p>模型按层切分到多张显卡。</p></body></html>"
    )
    return _write(folder, "page" + ext, page), [HEADING, "数据并行", SUBHEADING]


def mhtml(folder: Path) -> tuple[Path, list[str]]:
    message = MIMEMultipart("related")
    message["Subject"] = "saved page"
    message["Snapshot-Content-Location"] = "https://example.com/page"
    message.attach(MIMEText(f"<html><body><h1>{HEADING}</h1><p>{BODY}</p></body></html>", "html", "utf-8"))
    message.attach(MIMEImage(OCR_JPG.read_bytes(), "jpeg"))
    return _write(folder, "page.mhtml", message.as_bytes()), [HEADING, "数据并行"]


def markdown(folder: Path) -> tuple[Path, list[str]]:
    return _write(folder, "note.md", MARKDOWN), [HEADING, "数据并行", SUBHEADING]


def notebook(folder: Path) -> tuple[Path, list[str]]:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": [f"# {HEADING}\n", BODY]},
        {"cell_type": "code", "metadata": {}, "source": ["print('张量并行')"], "outputs": [], "execution_count": 1},
    ]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return _write(folder, "analysis.ipynb", json.dumps(nb, ensure_ascii=False)), [HEADING, "数据并行", "张量并行"]


def text(folder: Path) -> tuple[Path, list[str]]:
    return _write(folder, "notes.txt", f"{BODY}。\n\n第二段：流水线并行。\n"), ["数据并行", "流水线并行"]


def python(folder: Path) -> tuple[Path, list[str]]:
    source = 'def greet():\n    """返回问候语。"""\n    return "你好，知识库"\n'
    return _write(folder, "tool.py", source), ["def greet", "你好，知识库"]


def subtitles(folder: Path) -> tuple[Path, list[str]]:
    srt = "1\n00:00:01,000 --> 00:00:03,000\n欢迎使用知识库\n\n2\n00:00:04,000 --> 00:00:06,500\nWelcome to the knowledge base\n"
    return _write(folder, "talk.srt", srt), ["欢迎使用知识库", "Welcome to the knowledge base"]


def json_doc(folder: Path) -> tuple[Path, list[str]]:
    data = {"问题": "什么是知识库？", "答案": {"正文": "一组可检索的文档", "标签": ["RAG", "检索"]}}
    return _write(folder, "faq.json", json.dumps(data, ensure_ascii=False, indent=2)), ["问题: 什么是知识库？", "答案.正文: 一组可检索的文档", "RAG, 检索"]


def json_lines(folder: Path, ext: str = ".jsonl") -> tuple[Path, list[str]]:
    lines = [{"q": "什么是向量数据库", "a": "存向量的数据库"}, {"q": "What is RAG", "a": "retrieval augmented generation"}]
    content = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n"
    return _write(folder, "qa" + ext, content), ["q: 什么是向量数据库", "a: retrieval augmented generation"]


def toml_doc(folder: Path) -> tuple[Path, list[str]]:
    content = '["数据库"]\n"名称" = "知识库"\n"端口" = 8080\n\n[server]\nhost = "127.0.0.1"\n'
    return _write(folder, "config.toml", content), ["名称: 知识库", "端口: 8080", "server.host: 127.0.0.1"]


def evernote(folder: Path) -> tuple[Path, list[str]]:
    enex = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE en-export SYSTEM "http://xml.evernote.com/pub/evernote-export3.dtd">\n'
        '<en-export><note><title>会议记录</title><content><![CDATA[<?xml version="1.0" encoding="UTF-8"?>'
        '<!DOCTYPE en-note SYSTEM "http://xml.evernote.com/pub/enml2.dtd">'
        f"<en-note><div>{BODY}</div><div>下周讨论检索增强生成。</div></en-note>]]></content></note></en-export>"
    )
    return _write(folder, "notes.enex", enex), ["会议记录", "数据并行", "检索增强生成"]


def csv_gbk(folder: Path) -> tuple[Path, list[str]]:
    # Excel in Chinese Windows saves CSV as GBK.
    content = "问题,答案\n什么是知识库,一组可检索的文档\n如何提问,用完整的句子\n"
    return _write(folder, "faq.csv", content, "gbk"), ["问题: 什么是知识库", "答案: 用完整的句子"]


def tsv(folder: Path) -> tuple[Path, list[str]]:
    content = "Team\tLocation\tCups\n北京队\tBJ\t3\nBlues\tSTL\t1\n"
    return _write(folder, "cups.tsv", content), ["Team: 北京队", "Location: STL"]


def xml(folder: Path) -> tuple[Path, list[str]]:
    content = f"<?xml version='1.0' encoding='GBK'?>\n<doc><title>{HEADING}</title><p>{BODY}</p></doc>\n"
    return _write(folder, "doc.xml", content, "gbk"), [HEADING, "数据并行"]


def email_message(folder: Path) -> tuple[Path, list[str]]:
    message = EmailMessage()
    message["Subject"] = "知识库周报"
    message["From"] = "a@example.com"
    message["To"] = "b@example.com"
    message.set_content(f"大家好，\n\n{BODY}。\n")
    return _write(folder, "weekly.eml", message.as_bytes()), ["知识库周报", "数据并行"]


_PT_LONG, _PT_STRING8, _PT_UNICODE, _PT_BINARY = 0x0003, 0x001E, 0x001F, 0x0102
_MESSAGE_CODEPAGE, _INTERNET_CPID = 0x3FFD, 0x3FDE


def outlook_msg(
    path: Path,
    strings: dict[int, str],
    encoding: str | None,
    numbers: dict[int, int] | None = None,
    html: bytes | None = None,
) -> Path:
    """An Outlook .msg (a compound file of property streams), as Outlook writes it.

    `strings` ({property id: text}) are stored as 8-bit strings in `encoding`, or as Unicode
    (UTF-16LE) where `encoding` is None; `numbers` are 32-bit properties such as the code pages;
    `html` is the HTML body as bytes (PR_HTML).
    """
    ptyp = _PT_UNICODE if encoding is None else _PT_STRING8
    streams = {"__substg1.0_001A" + f"{ptyp:04X}": _msg_string("IPM.Note", encoding)}
    streams |= {f"__substg1.0_{pid:04X}{ptyp:04X}": _msg_string(text, encoding) for pid, text in strings.items()}
    if html is not None:
        streams[f"__substg1.0_1013{_PT_BINARY:04X}"] = html
    entries = b""
    for name, data in streams.items():  # variable-size properties list their size
        tag = int(name[-8:], 16)
        entries += struct.pack("<IIII", tag, 0x6, len(data), 0)
    for pid, value in (numbers or {}).items():
        entries += struct.pack("<IIiI", (pid << 16) | _PT_LONG, 0x6, value, 0)
    streams["__properties_version1.0"] = b"\0" * 8 + struct.pack("<4I", 0, 0, 0, 0) + b"\0" * 8 + entries
    streams |= {f"__nameid_version1.0/__substg1.0_{n}0102": b"" for n in ("0002", "0003", "0004")}
    return write_cfb(path, streams)


def outlook_message(folder: Path) -> tuple[Path, list[str]]:
    strings = {0x0037: "知识库周报", 0x1000: f"大家好，\n\n{BODY}。\n"}
    return outlook_msg(folder / "周报.msg", strings, "gbk", {_MESSAGE_CODEPAGE: 936}), ["知识库周报", "数据并行"]


def _msg_string(text: str, encoding: str | None) -> bytes:
    return text.encode("utf-16-le") if encoding is None else text.encode(encoding) + b"\0"


def pandoc(ext: str) -> Maker:
    def make(folder: Path) -> tuple[Path, list[str]]:
        path = folder / f"book{ext}"
        fmt = {".epub": "epub", ".odt": "odt", ".rtf": "rtf", ".rst": "rst"}[ext]
        args = ["--standalone", "--metadata=title:知识库"] if fmt in ("epub", "rtf") else []
        if fmt == "rst":  # saved by a Chinese Windows editor
            path.write_text(pypandoc.convert_text(MARKDOWN, fmt, format="md"), encoding="gbk")
        else:
            pypandoc.convert_text(MARKDOWN, fmt, format="md", outputfile=str(path), extra_args=args)
        return path, [HEADING, "数据并行", SUBHEADING]

    return make


def word(folder: Path) -> tuple[Path, list[str]]:
    document = docx.Document()
    document.add_heading(HEADING, 1)
    document.add_paragraph(BODY + "。")
    document.add_heading(SUBHEADING, 2)
    table = document.add_table(rows=2, cols=2)
    for cell, value in zip(table._cells, ["方法", "显存", "张量并行", "低"]):
        cell.text = value
    path = folder / "report.docx"
    document.save(str(path))
    return path, [HEADING, "数据并行", "方法: 张量并行", "显存: 低"]


def powerpoint(folder: Path) -> tuple[Path, list[str]]:
    deck = pptx.Presentation()
    for title, bullet in ((HEADING, BODY), (SUBHEADING, "模型按层切分到多张显卡")):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = bullet
    path = folder / "deck.pptx"
    deck.save(str(path))
    return path, [HEADING, "数据并行", SUBHEADING, "按层切分"]


def excel(folder: Path) -> tuple[Path, list[str]]:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "问题"
    first.append(["问题", "答案"])
    first.append(["什么是知识库", "一组可检索的文档"])
    second = book.create_sheet("Teams")
    second.append(["Team", "Cups"])
    second.append(["Blues", "1"])
    path = folder / "book.xlsx"
    book.save(str(path))
    return path, ["问题: 什么是知识库", "Team: Blues"]


def excel97(folder: Path) -> tuple[Path, list[str]]:
    source, words = excel(folder)
    subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{folder}/lo-profile",
         "--convert-to", "xls", "--outdir", str(folder), str(source)],
        check=True, capture_output=True, timeout=120,
    )
    return folder / "book.xls", words


def pdf(folder: Path) -> tuple[Path, list[str]]:
    document = pikepdf.new()
    font = document.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))
    for number in (1, 2):
        page = document.add_blank_page(page_size=(595, 842))
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        stream = f"BT /F1 14 Tf 72 760 Td (Knowledge base page {number}) Tj ET".encode()
        page.Contents = document.make_stream(stream)
    path = folder / "two-pages.pdf"
    document.save(path)
    return path, ["Knowledge base page 1", "Knowledge base page 2"]


def scanned_pdf(folder: Path) -> tuple[Path, list[str]]:
    """A page that is one JPEG and no text layer, as a scanner makes."""
    width, height = Image.open(OCR_JPG).size
    document = pikepdf.new()
    page = document.add_blank_page(page_size=(width, height))
    image = document.make_stream(
        OCR_JPG.read_bytes(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=width, Height=height,
        ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode,
    )
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = document.make_stream(f"q {width} 0 0 {height} 0 0 cm /Im0 Do Q".encode())
    path = folder / "scan.pdf"
    document.save(path)
    return path, ["横向文本框"]


CHI_SIM_JPG = SHARED_DOCS / "unstructured" / "chi_sim_image.jpeg"
CHI_SIM_WORDS = ["甘草", "适用人群"]  # what OCR reads in that picture


def _pictured_pdf(path: Path, pages: list[bytes], fonts: dict[str, pikepdf.Dictionary], picture: tuple[int, int, int]) -> Path:
    """A PDF whose pages each show chi_sim_image.jpeg (at x, y, width in points) under the content in `pages`."""
    width, height = Image.open(CHI_SIM_JPG).size
    document = pikepdf.new()
    image = document.make_stream(
        CHI_SIM_JPG.read_bytes(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=width, Height=height,
        ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode,
    )
    x, y, shown = picture
    for content in pages:
        page = document.add_blank_page(page_size=(595, 842))
        page.Resources = pikepdf.Dictionary(
            Font=pikepdf.Dictionary({f"/{key}": document.make_indirect(font) for key, font in fonts.items()}),
            XObject=pikepdf.Dictionary(Im0=image),
        )
        picture_ops = f"q {shown} 0 0 {shown * height / width:.1f} {x} {y} cm /Im0 Do Q ".encode()
        page.Contents = document.make_stream(picture_ops + content)
    document.save(path)
    return path


def _cid_font(document_name: str) -> pikepdf.Dictionary:
    """A CJK font as subsetting tools write it, less the ToUnicode map: glyph codes are all a reader gets."""
    descendant = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.CIDFontType2, BaseFont=pikepdf.Name(f"/{document_name}"),
        CIDSystemInfo=pikepdf.Dictionary(Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"), Supplement=0),
        FontDescriptor=pikepdf.Dictionary(
            Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name(f"/{document_name}"), Flags=4,
            FontBBox=[0, -120, 1000, 880], ItalicAngle=0, Ascent=880, Descent=-120, CapHeight=700, StemV=80,
        ),
        DW=1000,
    )
    return pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0, BaseFont=pikepdf.Name(f"/{document_name}"),
        Encoding=pikepdf.Name("/Identity-H"), DescendantFonts=[descendant],
    )


def garbled_pdf(folder: Path) -> tuple[Path, list[str], list[str]]:
    """Pages whose text layer is mojibake over a picture of the real text.

    Page 1 and 2: a subset CJK font without ToUnicode (codes 0x21… read as `!"#$%`, 0x41… as
    `ABCD`); page 3: GBK bytes shown through a WinAnsi font (`ÖªÊ¶¿â`). The text is drawn
    invisibly (render mode 3, as an OCR layer is) so that a reader, and OCR, sees the picture.
    Returns (path, words OCR must find, garbage that must not come out).
    """
    helvetica = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica, Encoding=pikepdf.Name.WinAnsiEncoding
    )
    fonts = {"F1": _cid_font("ABCDEF+SimSun"), "F2": helvetica}

    def cids(first: int, count: int) -> str:
        return "".join(f"{code:04X}" for code in range(first, first + count))

    latin = "甘草清道夫适用人群".encode("gbk").hex()
    pages = [
        f"BT /F1 20 Tf 3 Tr 72 700 Td <{cids(0x21, 6)}> Tj 0 -30 Td <{cids(0x27, 8)}> Tj ET".encode(),
        f"BT /F1 20 Tf 3 Tr 72 700 Td <{cids(0x41, 16)}> Tj 0 -30 Td <{cids(0x51, 9)}> Tj ET".encode(),
        f"BT /F2 20 Tf 3 Tr 72 700 Td <{latin}> Tj ET".encode(),
    ]
    path = _pictured_pdf(folder / "garbled.pdf", pages, fonts, picture=(72, 420, 400))
    return path, CHI_SIM_WORDS, ['!"#$', "ABCDEFGHIJ", "¸Ê²Ý"]


def pictured_text_pdf(folder: Path) -> tuple[Path, list[str]]:
    """Two text pages, each with the same small picture of Chinese text (8% of the page)."""
    helvetica = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    pages = [f"BT /F1 14 Tf 72 760 Td (Knowledge base page {n} with a picture) Tj ET".encode() for n in (1, 2)]
    path = _pictured_pdf(folder / "pictured.pdf", pages, {"F1": helvetica}, picture=(72, 500, 300))
    return path, ["Knowledge base page 1 with a picture", *CHI_SIM_WORDS]


def image(fmt: str, ext: str) -> Maker:
    def make(folder: Path) -> tuple[Path, list[str]]:
        path = folder / f"picture{ext}"
        Image.open(OCR_JPG).convert("RGB").save(path, fmt)
        return path, ["横向文本框"]

    return make


def copy_shared(relative: str, words: list[str]) -> Maker:
    def make(folder: Path) -> tuple[Path, list[str]]:
        return Path(shutil.copy(SHARED_DOCS / relative, folder)), words

    return make


def zip_bomb_docx(folder: Path) -> Path:
    """A valid .docx carrying a 40 MB part of zeros that deflates to about 40 KB."""
    path, _ = word(folder)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("word/media/padding.bin", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(40):
                member.write(chunk)
    return path


MAKERS: dict[str, Maker] = {
    ".html": html,
    ".htm": lambda folder: html(folder, ".htm"),
    ".mhtml": mhtml,
    ".md": markdown,
    ".ipynb": notebook,
    ".txt": text,
    ".py": python,
    ".srt": subtitles,
    ".json": json_doc,
    ".jsonl": json_lines,
    ".ndjson": lambda folder: json_lines(folder, ".ndjson"),
    ".toml": toml_doc,
    ".enex": evernote,
    ".csv": csv_gbk,
    ".tsv": tsv,
    ".xml": xml,
    ".eml": email_message,
    ".msg": outlook_message,
    ".rst": pandoc(".rst"),
    ".rtf": pandoc(".rtf"),
    ".epub": pandoc(".epub"),
    ".odt": pandoc(".odt"),
    ".xlsx": excel,
    ".xls": excel97,
    ".docx": word,
    ".pptx": powerpoint,
    ".doc": copy_shared("unstructured/fake.doc", ["Lorem ipsum dolor sit amet"]),
    ".ppt": copy_shared("unstructured/fake-power-point.ppt", ["Adding a Bullet Slide"]),
    ".pdf": pdf,
    ".png": image("PNG", ".png"),
    ".jpg": image("JPEG", ".jpg"),
    ".jpeg": image("JPEG", ".jpeg"),
    ".bmp": image("BMP", ".bmp"),
}
NEEDS_LIBREOFFICE = {".doc", ".ppt", ".xls"}
