"""A file on disk → list[Element] (text, page, category, section).

unstructured 0.27 reads most formats; pypdfium2 reads PDFs (pdf.py); RapidOCR reads images
(ocr.py, office_images.py); small readers cover what unstructured does not (plain.py). The
file's bytes are checked first (sniff.py): a wrong extension raises UnsupportedFile naming
both types, rather than being parsed as the real type, because a mislabelled file is more
often a mistake (or hostile) than a convenience. Everything a user can act on comes back as
UnsupportedFile / ParseError / FileTooLarge with the file's name in the message.
"""

from __future__ import annotations

import chatchat  # noqa: F401  (sets DO_NOT_TRACK before unstructured is imported)

import dataclasses
import importlib
import io
import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lxml import html as lxml_html

from chatchat import cjk
from chatchat.errors import ChatchatError, FileTooLarge, ParseError, UnsupportedFile
from chatchat.ingest import offline_nlp, plain, sniff
from chatchat.ingest.elements import Element
from chatchat.ingest.encoding import decode_text
from chatchat.ingest.msg import read_msg
from chatchat.ingest.ocr import available as ocr_available
from chatchat.ingest.ocr import ocr_image
from chatchat.ingest.office_images import docx_image_elements, pptx_image_elements
from chatchat.ingest.pdf import parse_pdf

# unstructured prints an advertisement for its paid service on every import.
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")

MAX_FILE_BYTES = 200 * 2**20
# unstructured holds a text document whole, with an element object per paragraph or table
# row: peak memory measured at ~25x the file (10 MB of text or CSV → +250 MB), and ~10 s/MB.
MAX_TEXT_BYTES = 20 * 2**20
_PURE_TEXT = frozenset(
    {".txt", ".md", ".html", ".htm", ".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".xml", ".rst", ".srt", ".toml", ".py"}
)
_IMAGES = frozenset({".png", ".jpg", ".jpeg", ".bmp"})
MAX_HEADING_UNITS = 15  # words, or pairs of CJK characters

Reader = Callable[[Path, str, bool], list[Element]]

# Where unstructured's "Title" comes from, so how far to trust it. Markup and styles: real
# headings. Slides: depth 0 is the title placeholder, deeper "titles" are body text it guessed
# at. Text, mail, spreadsheets: all guesses, and poor ones with the offline NLP pipeline, so
# each must pass looks_like_heading.
MARKUP, SLIDES, GUESSED = "markup", "slides", "guessed"


def _text(path: Path, name: str) -> str:
    text = decode_text(path.read_bytes(), name)
    if not text.strip():
        raise ParseError(f"{name} contains only whitespace: there is no text to add.", key="ingest_whitespace", name=name)
    return text


def _unstructured(kind: str, **kwargs: Any) -> list[Any]:
    offline_nlp.install()
    module = importlib.import_module(f"unstructured.partition.{kind}")
    # languages=[""] skips language detection, which we do not use: on a document mixing Chinese
    # and English, langdetect runs once per element and takes ~90% of the time (0.2 s/paragraph).
    return getattr(module, f"partition_{kind}")(languages=[""], **kwargs)


def _partition(kind: str, titles: str, section: str | None = None, **kwargs: Any) -> list[Element]:
    return _convert(_unstructured(kind, **kwargs), titles, section)


def _convert(items: Iterable[Any], titles: str, section: str | None) -> list[Element]:
    """unstructured elements → Elements, with checked titles and the section they sit under."""
    out: list[Element] = []
    sheet = None
    items = [item for item in items if (item.text or "").strip()]
    for position, item in enumerate(items):
        text = item.text.strip()
        meta = item.metadata
        page = meta.page_number
        if meta.page_name and meta.page_name != sheet:  # a new worksheet starts a new section
            sheet = section = meta.page_name
        category = item.category
        if category == "Table" and meta.text_as_html:
            out.extend(Element(row, page, "Table", section) for row in table_rows(meta.text_as_html))
            continue
        if category == "Title":
            # A guessed title with no text under it is a short line of text ("hello world", a list).
            followed = position + 1 < len(items) and items[position + 1].category != "Title"
            if (titles != GUESSED or followed) and _is_heading(titles, meta.category_depth or 0, text):
                section = text
            else:
                category = "Text"
        out.append(Element(text, page, category, section))
    return out


def _is_heading(titles: str, depth: int, text: str) -> bool:
    if titles == MARKUP:
        return True
    if titles == SLIDES:
        return depth == 0
    return looks_like_heading(text)


_SENTENCE_END = tuple("。．.！!？?；;，,、：:…")
_EMPHASIS = "*_#`~ \t"  # Markdown marks around a line in a .txt
_INNER_BREAK = re.compile(r"[。！？!?；;]\s*\S")
_MARKUP = re.compile(r"[<>{}=|\\]")


def looks_like_heading(text: str) -> bool:
    """Chinese/English-aware check of a guessed title: short, one line, not a sentence, not numbers."""
    text = text.strip().rstrip(_EMPHASIS)
    if not text or "\n" in text or text.endswith(_SENTENCE_END) or _INNER_BREAK.search(text):
        return False
    if _MARKUP.search(text):
        return False
    visible = text.replace(" ", "")
    letters = sum(ch.isalpha() for ch in visible)
    if letters * 2 < len(visible):
        return False
    units = len(cjk.LETTER.findall(text)) / 2 + len(cjk.LETTER.sub(" ", text).split())
    return units <= MAX_HEADING_UNITS


def table_rows(html: str) -> list[str]:
    """A table as one line per row, cells labelled with their column header when it has one.

    "Team: Blues | Location: STL" keeps each row meaningful on its own once the table is
    split into chunks; unstructured's own table text runs every cell together.
    """
    table = lxml_html.fragment_fromstring(html, create_parent="div")
    rows = []
    for tr in table.iter("tr"):
        cells = [" ".join(cell.text_content().split()) for cell in tr.xpath("./td|./th")]
        if any(cells):
            rows.append(cells)
    lines = []
    header: list[str] | None = None
    for index, row in enumerate(rows):
        if header is None and index <= 1 and index < len(rows) - 1 and _is_header(row):
            header = row
            continue
        if header is None:
            lines.append(" | ".join(c for c in row if c))
        else:
            pairs = itertools.zip_longest(header, row, fillvalue="")
            lines.append(" | ".join(f"{h}: {c}" if h else c for h, c in pairs if c))
    return lines


def _is_header(row: list[str]) -> bool:
    filled = [c for c in row if c]
    return len(filled) * 2 >= len(row) and not any(_is_number(c) for c in filled)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


# --- readers, one per format -------------------------------------------------------------


def _read_html(path: Path, name: str, use_ocr: bool) -> list[Element]:
    return _partition("html", MARKUP, text=_text(path, name))


def _read_mhtml(path: Path, name: str, use_ocr: bool) -> list[Element]:
    elements = []
    for ctype, text in plain.mhtml_parts(path.read_bytes(), name):
        kind, titles = ("html", MARKUP) if ctype == "text/html" else ("text", GUESSED)
        if text.strip():
            elements += _partition(kind, titles, text=text)
    return elements


def _read_markdown(path: Path, name: str, use_ocr: bool) -> list[Element]:
    return _partition("md", MARKUP, text=_text(path, name))


def _read_notebook(path: Path, name: str, use_ocr: bool) -> list[Element]:
    return _partition("md", MARKUP, text=plain.notebook_markdown(_text(path, name), name))


# "·" inside a word (约翰·埃尔维, Jean·Paul) is a name's middle dot, but unstructured's paragraph grouper takes
# it for a bullet and breaks the sentence there, dropping the dot; a dot at a line's start stays a bullet.
_NAME_DOT = re.compile(r"(?<=\S)·(?=\S)")
_KEPT_DOT = "\ue0b7"  # a private-use character, for the grouper's pass only


def _group_paragraphs(text: str) -> str:
    from unstructured.cleaners.core import auto_paragraph_grouper

    return auto_paragraph_grouper(_NAME_DOT.sub(_KEPT_DOT, text)).replace(_KEPT_DOT, "·")


def _read_text(path: Path, name: str, use_ocr: bool) -> list[Element]:
    return _partition("text", GUESSED, text=_text(path, name), paragraph_grouper=_group_paragraphs)


def _read_code(path: Path, name: str, use_ocr: bool) -> list[Element]:
    return [Element(_text(path, name), category="CodeSnippet")]


def _read_subtitles(path: Path, name: str, use_ocr: bool) -> list[Element]:
    return plain.subtitle_elements(_text(path, name))


def _json_elements(value: Any) -> list[Element]:
    # A list of element dicts is unstructured's own serialisation (partition_json's input).
    if isinstance(value, list) and value and all(isinstance(v, dict) and {"type", "text"} <= v.keys() for v in value):
        from unstructured.staging.base import elements_from_dicts

        return _convert(elements_from_dicts(value), GUESSED, None)
    return plain.structured_elements(value)


def _read_json(path: Path, name: str, use_ocr: bool) -> list[Element]:
    return _json_elements(plain.json_value(_text(path, name), name))


def _read_jsonl(path: Path, name: str, use_ocr: bool) -> list[Element]:
    return _json_elements(plain.jsonl_values(_text(path, name), name))


def _read_toml(path: Path, name: str, use_ocr: bool) -> list[Element]:
    return plain.structured_elements(plain.toml_value(_text(path, name), name))


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _read_evernote(path: Path, name: str, use_ocr: bool) -> list[Element]:
    elements = []
    for title, body in plain.evernote_notes(_text(path, name), name):
        if title:
            elements.append(Element(title, category="Title", section=title))
        if body.strip():
            body = _XML_DECLARATION.sub("", body)  # lxml refuses a str that declares an encoding
            elements += _partition("html", MARKUP, section=title or None, text=body)
    return elements


def _as_utf8(kind: str, titles: str) -> Reader:
    """For partitioners that take bytes and would guess a legacy encoding wrongly (pandoc falls
    back to Latin-1): decode here, hand them UTF-8."""

    def read(path: Path, name: str, use_ocr: bool) -> list[Element]:
        return _partition(kind, titles, file=io.BytesIO(_text(path, name).encode("utf-8")))

    return read


def _by_file(kind: str, titles: str) -> Reader:
    def read(path: Path, name: str, use_ocr: bool) -> list[Element]:
        return _partition(kind, titles, filename=str(path))

    return read


def _needs_libreoffice(kind: str, titles: str) -> Reader:
    def read(path: Path, name: str, use_ocr: bool) -> list[Element]:
        if shutil.which("soffice") is None:
            raise UnsupportedFile(
                f"{name} is {sniff.KIND_NAMES[kind]}: reading it needs LibreOffice, which is not "
                "installed. Install LibreOffice (Debian/Ubuntu: `apt install libreoffice-writer-nogui "
                "libreoffice-impress-nogui`), or save the file in the newer format "
                f"(.{kind}x) and add that.", key="ingest_needs_libreoffice", name=name, old=f".{kind}", newer=f".{kind}x"
            )
        return _partition(kind, titles, filename=str(path))

    return read


def _read_mail(kind: str) -> Reader:
    def read(path: Path, name: str, use_ocr: bool) -> list[Element]:
        items = _unstructured(kind, filename=str(path))
        subject = (items[0].metadata.subject or "").strip() if items else ""
        heading = [Element(subject, category="Title", section=subject)] if subject else []
        return heading + _convert(items, GUESSED, subject or None)

    return read


def _read_msg(path: Path, name: str, use_ocr: bool) -> list[Element]:
    message = read_msg(path, name)
    subject = message.subject
    heading = [Element(subject, category="Title", section=subject)] if subject else []
    if not message.body.strip():
        return heading
    kind, titles = ("html", MARKUP) if message.html else ("text", GUESSED)
    return heading + _partition(kind, titles, section=subject or None, text=message.body)


def _read_docx(path: Path, name: str, use_ocr: bool) -> list[Element]:
    elements = _partition("docx", MARKUP, filename=str(path))
    if use_ocr and ocr_available():
        elements += docx_image_elements(path, name)
    return elements


def _read_pptx(path: Path, name: str, use_ocr: bool) -> list[Element]:
    elements = _partition("pptx", SLIDES, filename=str(path))
    if not (use_ocr and ocr_available()):
        return elements
    # A stable sort puts each slide's picture text right after that slide's own text.
    merged: list[Element] = []
    for element in sorted(elements + pptx_image_elements(path, name), key=lambda e: e.page or 0):
        if element.section is None and merged and merged[-1].page == element.page:
            element = dataclasses.replace(element, section=merged[-1].section)
        merged.append(element)
    return merged


def _read_image(path: Path, name: str, use_ocr: bool) -> list[Element]:
    if not use_ocr:
        raise UnsupportedFile(f"{name} is an image: its text can only be read with OCR, which is turned off.",
                              key="ingest_image_ocr_off", name=name)
    lines = ocr_image(path.read_bytes(), name)
    return [Element("\n".join(lines), category="Image")] if lines else []


_READERS: dict[str, Reader] = {
    ".html": _read_html,
    ".htm": _read_html,
    ".mhtml": _read_mhtml,
    ".md": _read_markdown,
    ".ipynb": _read_notebook,
    ".txt": _read_text,
    ".py": _read_code,
    ".srt": _read_subtitles,
    ".json": _read_json,
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".toml": _read_toml,
    ".enex": _read_evernote,
    ".csv": _as_utf8("csv", GUESSED),
    ".tsv": _as_utf8("tsv", GUESSED),
    ".xml": _by_file("xml", GUESSED),
    ".eml": _read_mail("email"),
    ".msg": _read_msg,
    ".rst": _as_utf8("rst", MARKUP),
    ".rtf": _by_file("rtf", MARKUP),
    ".epub": _by_file("epub", MARKUP),
    ".odt": _by_file("odt", MARKUP),
    ".xlsx": _by_file("xlsx", GUESSED),
    ".xls": _by_file("xlsx", GUESSED),  # partition_xlsx reads both (openpyxl / xlrd)
    ".docx": _read_docx,
    ".pptx": _read_pptx,
    ".doc": _needs_libreoffice("doc", MARKUP),
    ".ppt": _needs_libreoffice("ppt", SLIDES),
    ".pdf": parse_pdf,
    **dict.fromkeys(_IMAGES, _read_image),
}

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_READERS)

# What the bytes must be for each extension; every other extension must be text.
_EXPECTED_KINDS: dict[str, frozenset[str]] = {
    **{ext: frozenset({ext[1:]}) for ext in (".pdf", ".docx", ".pptx", ".xlsx", ".epub", ".odt", ".doc", ".ppt", ".xls", ".msg", ".rtf")},
    **dict.fromkeys(_IMAGES, frozenset({"png", "jpeg", "bmp"})),
}
_ZIP_KINDS = frozenset({"docx", "pptx", "xlsx", "epub", "odt", "zip"})


def parse_file(path: Path, filename: str | None = None, ocr: bool = True) -> list[Element]:
    """Read a document into elements.

    `filename` is the name the user knows the file by (for messages and for its extension when
    `path` is a stored copy). `ocr` turns off OCR of images and scanned pages.
    Raises UnsupportedFile, ParseError or FileTooLarge, each naming the file.
    """
    path = Path(path)
    name = filename or path.name
    ext = supported_extension(name)
    try:
        size = path.stat().st_size
    except OSError as exc:
        detail = exc.strerror or str(exc)
        raise ParseError(f"{name} cannot be read: {detail}.", key="ingest_unreadable", name=name, detail=detail) from exc
    if size == 0:
        raise ParseError(f"{name} is empty (0 bytes): there is nothing to add. Check that it was saved or uploaded "
                         "completely.", key="ingest_empty", name=name)
    limit = MAX_TEXT_BYTES if ext in _PURE_TEXT else MAX_FILE_BYTES
    if size > limit:
        mb, most = f"{size / 2**20:,.0f}", limit // 2**20
        raise FileTooLarge(f"{name} is {mb} MB, over the {most} MB limit for one {ext} document. Split it into smaller "
                           "files and add those.", key="ingest_over_type_limit", name=name, mb=mb, limit=most, ext=ext)
    _check_content(path, name, ext)
    try:
        elements = _READERS[ext](path, name, ocr)
    except ChatchatError:
        raise
    except Exception as exc:  # a library failing on bad input: say so in the user's terms
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ParseError(
            f"{name} could not be read ({reason}). It may be damaged or not really a {ext} file: "
            "check that it opens in its own application, re-save it there and add it again.",
            key="ingest_damaged", name=name, reason=reason, ext=ext,
        ) from exc
    elements = [e for e in elements if e.text.strip()]
    if not elements:
        if ocr:
            raise ParseError(f"No text found in {name}: it is empty, or holds only pictures without readable text.",
                             key="ingest_no_text", name=name)
        raise ParseError(f"No text found in {name}: it is empty, or holds only pictures without readable text (OCR is "
                         "turned off).", key="ingest_no_text_ocr_off", name=name)
    return elements


def supported_extension(name: str) -> str:
    """The extension of document `name`, lower-cased; UnsupportedFile when no reader takes it."""
    ext = Path(name).suffix.lower()
    if ext in SUPPORTED_EXTENSIONS:
        return ext
    supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    if not ext:
        raise UnsupportedFile(f"{name}: files without an extension are not supported. Supported types: {supported}.",
                              key="ingest_no_extension", name=name, supported=supported)
    if ext == ".zip":
        raise UnsupportedFile(f"{name}: files of type .zip are not supported (unpack the archive and add the files "
                              f"inside). Supported types: {supported}.", key="ingest_zip", name=name, supported=supported)
    raise UnsupportedFile(f"{name}: files of type {ext} are not supported. Supported types: {supported}.",
                          key="ingest_unsupported_type", name=name, ext=ext, supported=supported)


def _check_content(path: Path, name: str, ext: str) -> None:
    kind = sniff.sniff(path)
    if kind == "encrypted-office":
        raise ParseError(f"{name} is password-protected. Remove the password in its application and add it again.",
                         key="ingest_office_password", name=name)
    if kind in _ZIP_KINDS:
        sniff.check_zip(path, name)
    expected = _EXPECTED_KINDS.get(ext, frozenset({"text"}))
    if kind not in expected:
        wanted = "image" if ext in _IMAGES else next(iter(expected))
        raise sniff.mismatch_error(name, ext, kind, wanted)
