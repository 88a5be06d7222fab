"""A PDF page as a PNG with a passage's text highlighted, from the character boxes of the text layer.

The passage is found in the page's characters with whitespace left out on both sides (the chunk's line
breaks and the text layer's do not agree); when the whole passage is not there (it runs on to the next
page, or the splitter's cleaning changed a character) its first and last HEAD characters mark where it
starts and ends, else each of its lines found on the page is. Text that came from OCR (a scanned page, a
picture on a page) is not in the text layer: it is found the same way in the lines OCR read there, whose
boxes the ingest kept (chatchat.ingest.ocr_boxes), a line's characters taken as evenly spread over its box.
A passage neither holds is shown on its page without a highlight, and the result says so (`note`).
"""

from __future__ import annotations

import ctypes
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageDraw

from chatchat.errors import NotFound, ParseError
from chatchat.ingest.elements import TextBox
from chatchat.ingest.pdf import _pdfium_lock  # PDFium is one per process: the ingest's lock guards every call

RENDER_SCALE = 2.0  # 144 dpi: an A4 page is 1190 px wide, body text reads well
MAX_SIDE = 2000  # pixels: a poster-sized page is scaled down to this
HEAD = 40  # characters of a passage's start and end that locate it when the whole is not found
MIN_HEAD = 12
MIN_LINE = 4  # a shorter line of a passage is found anywhere by chance
HIGHLIGHT = (255, 214, 0, 96)  # translucent yellow
OUTLINE = (214, 150, 0, 255)

Note = Literal["found", "start", "partial", "scanned", "not_found"]


@dataclass(frozen=True)
class PagePreview:
    png: bytes
    page: int  # 1-based
    boxes: tuple[tuple[int, int, int, int], ...]  # highlighted rectangles in pixels: left, top, right, bottom
    # found: the whole passage; start: from its start to the page's end (it goes on on the next page);
    # partial: some of its lines; scanned: the page has no text layer and OCR's boxes do not hold it either;
    # not_found: in neither
    note: Note


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _page_chars(textpage: pdfium.PdfTextPage) -> tuple[str, list[int]]:
    """The page's characters without whitespace, each with its index in the text page."""
    chars: list[str] = []
    indices: list[int] = []
    for index in range(textpage.count_chars()):
        char = chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, index) or 32)
        for piece in _normal(char):
            if not piece.isspace() and piece not in "\ufffe\ufeff\x02":
                chars.append(piece)
                indices.append(index)
    return "".join(chars), indices


def _squeeze(text: str) -> str:
    return "".join(ch for ch in _normal(text) if not ch.isspace())


def locate(page_text: str, passage: str) -> tuple[list[tuple[int, int]], Note]:
    """(first, last) positions of `passage` in `page_text` (whitespace-free and normalised), and how it
    was found: whole, from its start on (it goes on on the next page), or only some of its lines (the
    others came from OCR of a picture on the page)."""
    needle = _squeeze(passage)
    start = page_text.find(needle) if needle else -1
    if start >= 0:
        return [(start, start + len(needle) - 1)], "found"
    for size in (HEAD, MIN_HEAD):
        start = page_text.find(needle[:size]) if len(needle) > size else -1
        if start < 0:
            continue
        end = page_text.find(needle[-size:], start)
        if end >= 0:
            return [(start, end + size - 1)], "found"
        return [(start, min(len(page_text), start + len(needle)) - 1)], "start"
    ranges = []
    for line in filter(None, (_squeeze(line) for line in passage.splitlines())):
        at = page_text.find(line) if len(line) >= MIN_LINE else -1
        if at >= 0:
            ranges.append((at, at + len(line) - 1))
    return ranges, "partial" if ranges else "not_found"


def _boxes(page: pdfium.PdfPage, textpage: pdfium.PdfTextPage, first: int, last: int,
           width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Rectangles (pixels) of text-page characters first..last, one per line run (PDFium's text rects)."""
    found = []
    device_x, device_y = ctypes.c_int(), ctypes.c_int()
    for i in range(textpage.count_rects(first, last - first + 1)):
        left, bottom, right, top = textpage.get_rect(i)
        corners = []
        for x, y in ((left, top), (right, bottom)):
            pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, width, height, 0, x, y, device_x, device_y)
            corners.append((device_x.value, device_y.value))
        (x0, y0), (x1, y1) = corners
        found.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    return found


def _draw(image: Image.Image, boxes: list[tuple[int, int, int, int]]) -> Image.Image:
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for left, top, right, bottom in boxes:
        draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=HIGHLIGHT, outline=OUTLINE, width=2)
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def _ocr_text(boxes: list[TextBox]) -> tuple[str, list[tuple[int, int]]]:
    """The OCR lines' text (normalised, whitespace-free) and each line's span in it."""
    spans, parts, at = [], [], 0
    for box in boxes:
        line = _squeeze(box.text)
        parts.append(line)
        spans.append((at, at + len(line)))
        at += len(line)
    return "".join(parts), spans


def _ocr_rects(boxes: list[TextBox], spans: list[tuple[int, int]], first: int, last: int,
               width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Rectangles (pixels) of OCR characters first..last: the part of each line's box they cover."""
    found = []
    for box, (start, end) in zip(boxes, spans):
        if end <= first or start > last or end == start:
            continue
        a, b = max(first, start) - start, min(last + 1, end) - start
        left = box.left + (box.right - box.left) * a / (end - start)
        right = box.left + (box.right - box.left) * b / (end - start)
        found.append((round(left * width), round(box.top * height), round(right * width), round(box.bottom * height)))
    return found


def render_page(path: Path, page_number: int, passage: str, ocr_boxes: list[TextBox] | None = None) -> PagePreview:
    """Page `page_number` (1-based) of the PDF at `path` as a PNG, with `passage` highlighted where the
    text layer holds it, else where the lines OCR read on the page (`ocr_boxes`) do. A page the document
    does not have is NotFound."""
    with _pdfium_lock:
        try:
            pdf = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as exc:
            raise ParseError(f"{path.name} cannot be opened as a PDF ({exc}).") from exc
        try:
            if not 1 <= page_number <= len(pdf):
                raise NotFound(f"{path.name} has no page {page_number}: it has {len(pdf)}.")
            page = pdf[page_number - 1]
            scale = min(RENDER_SCALE, MAX_SIDE / max(1.0, *page.get_size()))
            image = page.render(scale=scale, fill_color=(255, 255, 255, 255)).to_pil()
            textpage = page.get_textpage()
            page_text, indices = _page_chars(textpage)
            # the ingest wrote a page's text layer first, then what OCR read there: the passage is looked for
            # in both, in that order
            ocr_text, spans = _ocr_text(ocr_boxes or [])
            ranges, note = locate(page_text + ocr_text, passage) if page_text or ocr_text else ([], "scanned")
            boxes = []
            for first, last in ranges:
                if first < len(page_text):
                    boxes += _boxes(page, textpage, indices[first], indices[min(last, len(page_text) - 1)], *image.size)
                if last >= len(page_text):
                    boxes += _ocr_rects(ocr_boxes or [], spans, max(0, first - len(page_text)), last - len(page_text),
                                        *image.size)
            if not boxes and not page_text:
                note = "scanned"
            textpage.close()
            page.close()
        finally:
            pdf.close()
    buffer = io.BytesIO()
    _draw(image, boxes).save(buffer, format="PNG", optimize=False)
    return PagePreview(buffer.getvalue(), page_number, tuple(boxes), note)
