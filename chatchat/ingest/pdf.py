"""PDF → one element per page from the text layer, plus OCR where the text layer falls short.

pypdfium2 reads the text layer about 25x faster than pdfminer.six (bench/bench_parse.py) and
needs none of unstructured's [pdf] extra (CUDA torch). A page is rendered and OCR'd when it has
no text layer, when images cover more than PAGE_OCR_IMAGE_FRACTION of it (a scan, or a slide
exported as a picture), as Langchain-Chatchat did, or when its text layer is mojibake (garbled.py),
which is then dropped. On other pages each embedded image of a meaningful size (a screenshot, a
scanned table) is OCR'd on its own, within IMAGE_OCR_BUDGET_S per document. Recognised lines the
text layer already holds are dropped, so a scan that carries its own OCR layer is not read twice.
OCR'd text keeps where each line stands on its page (Element.boxes, kept by chatchat.ingest.ocr_boxes)
for the source viewer's highlight.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import re
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from chatchat.errors import ParseError
from chatchat.ingest import ocr
from chatchat.ingest.elements import Element, TextBox
from chatchat.ingest.garbled import is_cjk_font, looks_garbled

log = logging.getLogger(__name__)

PAGE_OCR_IMAGE_FRACTION = 0.6
# An embedded image is worth reading when it covers this share of its page (a logo or an icon
# covers less), and at most this many per page, largest first.
MIN_IMAGE_FRACTION = 0.02
MAX_IMAGES_PER_PAGE = 8
IMAGE_OCR_BUDGET_S = 120.0  # RapidOCR takes ~0.5-2 s an image on 2 cores
# 144 dpi: body text of the sample scans reads well at this size and not at 72 dpi; OCR time
# grows with the pixel count.
OCR_RENDER_SCALE = 2.0
# pages whose OCR runs at once: one page's detector (one thread) beside another's recogniser, so both cores
# stay busy on a scan (bench/bench_ocr.py)
PAGES_AT_ONCE = 2
SCAN_COVER = 0.9  # a picture covering this share of a page that holds nothing else is a scan of it

# PDFium is not thread-safe: no two calls into it may run at once, on any document.
_pdfium_lock = threading.Lock()
_SPACE = re.compile(r"\s+")
# where an image stands on its page: left, top, right, bottom as fractions of the page as displayed
Place = tuple[float, float, float, float]
WHOLE_PAGE: Place = (0.0, 0.0, 1.0, 1.0)


class _Page:
    """What one page gives: its text layer (dropped when garbled) and the images to OCR, each with where it
    stands on the page (None where it is not placed upright, so its boxes could not be drawn on the page)."""

    def __init__(self, text: str, garbled: bool, images: list[tuple[Image.Image, Place | None]]):
        self.text, self.garbled, self.images = text, garbled, images


def parse_pdf(path: Path, name: str, use_ocr: bool) -> list[Element]:
    can_ocr = use_ocr and ocr.available()
    with _pdfium_lock:
        pdf = _open(path, name)
    elements: list[Element] = []
    page_count = garbled = 0
    seen_images: set[str] = set()
    deadline = time.monotonic() + IMAGE_OCR_BUDGET_S
    readers = ThreadPoolExecutor(PAGES_AT_ONCE, thread_name_prefix="pdf-ocr")
    pending: deque[tuple[int, _Page, Future]] = deque()  # pages read from the PDF, their OCR running
    try:
        with _pdfium_lock:
            page_count = len(pdf)
        for index in range(page_count):
            embedded = can_ocr and time.monotonic() < deadline
            if can_ocr and not embedded and deadline:
                log.warning("%s: pictures from page %d on are not read: the %.0f s OCR budget is spent", name, index + 1, IMAGE_OCR_BUDGET_S)
                deadline = 0.0
            with _pdfium_lock:
                page = _read_page(pdf, index, can_ocr, embedded, seen_images, name)
            garbled += page.garbled
            pending.append((index, page, readers.submit(_ocr_page, page, name)))
            while len(pending) > PAGES_AT_ONCE:
                elements += _page_elements(*pending.popleft())
        while pending:
            elements += _page_elements(*pending.popleft())
    finally:
        readers.shutdown(wait=True, cancel_futures=True)
        with _pdfium_lock:
            pdf.close()
    if not elements and page_count and not can_ocr:
        if use_ocr:
            raise ocr.unavailable(name)
        if garbled:
            raise ParseError(f"{name} has an unreadable text layer (fonts without a Unicode map). Turn OCR on to read "
                             "it as images.", key="ingest_pdf_garbled", name=name)
        raise ParseError(f"{name} has no text layer (it looks like a scan). Turn OCR on to read it as images.",
                         key="ingest_pdf_scan", name=name)
    return elements


def _ocr_page(page: _Page, name: str) -> list[tuple[list[ocr.Line], Place | None]]:
    """The lines OCR finds in each of the page's images that its text layer (or an earlier image) does not
    already hold, with where the image stands."""
    seen = _SPACE.sub("", page.text)
    found = []
    for image, place in page.images:
        lines = [ln for ln in ocr.read_lines(image, name) if _SPACE.sub("", ln.text) not in seen]
        if lines:
            seen += "".join(_SPACE.sub("", ln.text) for ln in lines)
            found.append((lines, place))
    return found


def _page_elements(index: int, page: _Page, read: Future) -> list[Element]:
    elements = [Element(text=page.text, page=index + 1)] if page.text.strip() else []
    for lines, place in read.result():
        # A garbled page's OCR text is the page's text, not a picture on it.
        elements.append(Element(text="\n".join(ln.text for ln in lines), page=index + 1,
                                category="Text" if page.garbled else "Image", boxes=_on_page(lines, place)))
    return elements


def _open(path: Path, name: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            raise ParseError(
                f"{name} is password-protected. Remove the password (e.g. print it to a new PDF) "
                "and add it again.", key="ingest_pdf_password", name=name
            ) from exc
        raise ParseError(
            f"{name} is damaged or truncated and cannot be opened as a PDF ({exc}). "
            "Download or export it again and add the complete file.", key="ingest_pdf_damaged", name=name, detail=str(exc)
        ) from exc


def _read_page(
    pdf: pdfium.PdfDocument, index: int, use_ocr: bool, embedded: bool, seen_images: set[str], name: str
) -> _Page:
    """The page's text layer and images to OCR. Caller holds the PDFium lock."""
    try:
        page = pdf[index]
        textpage = page.get_textpage()
        # PDFium ends lines with CRLF and marks soft hyphens at line ends with U+FFFE.
        text = textpage.get_text_bounded().replace("\r\n", "\n").replace("\ufffe", "")
        textpage.close()
        garbled = looks_garbled(text, lambda: _has_cjk_font(page))
        if garbled:
            log.info("%s: page %d has a garbled text layer; %s", name, index + 1, "OCR reads it" if use_ocr else "left out")
            text = ""
        images: list[tuple[Image.Image, Place | None]] = []
        if use_ocr and (not text.strip() or _image_fraction(page) > PAGE_OCR_IMAGE_FRACTION):
            # Capped: a poster-sized page at 144 dpi would take gigabytes, and OCR shrinks it anyway.
            images.append(_scan(page) or _rendered(page))
        elif embedded:
            images = _embedded_images(page, seen_images)
        page.close()
    except pdfium.PdfiumError as exc:
        raise ParseError(f"Page {index + 1} of {name} is damaged and cannot be read ({exc}).",
                         key="ingest_pdf_page_damaged", name=name, page=index + 1, detail=str(exc)) from exc
    return _Page(text, garbled, images)


def _rendered(page: pdfium.PdfPage) -> tuple[Image.Image, Place]:
    # Capped: a poster-sized page at 144 dpi would take gigabytes, and OCR shrinks it anyway.
    scale = min(OCR_RENDER_SCALE, ocr.MAX_SIDE / max(1.0, *page.get_size()))
    return page.render(scale=scale, fill_color=(255, 255, 255, 255)).to_pil(), WHOLE_PAGE


def _scan(page: pdfium.PdfPage) -> tuple[Image.Image, Place] | None:
    """A scanned page, one upright picture covering it and nothing else: that picture at its own resolution
    (the scanner's pixels, no resampling; OCR reads it better than a rendering of the page, for no more work)."""
    objects = list(page.get_objects(max_depth=3))
    pictures = [o for o in objects if o.type == pdfium_c.FPDF_PAGEOBJ_IMAGE]
    if len(pictures) != 1 or any(o.type not in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM) for o in objects):
        return None
    place = _place(page, pictures[0])
    if place is None or (place[2] - place[0]) * (place[3] - place[1]) < SCAN_COVER:
        return None
    if max(pictures[0].get_px_size()) > ocr.MAX_SIDE:  # OCR reads at most that: the page rendered to that size
        scale = ocr.MAX_SIDE / max(1.0, *page.get_size())
        return page.render(scale=scale, fill_color=(255, 255, 255, 255)).to_pil(), WHOLE_PAGE
    try:
        return pictures[0].get_bitmap(render=True).to_pil(), place
    except pdfium.PdfiumError:
        return None


def _has_cjk_font(page: pdfium.PdfPage) -> bool:
    buffer = ctypes.create_string_buffer(256)
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT], max_depth=2):
        font = pdfium_c.FPDFTextObj_GetFont(obj.raw)
        if font and pdfium_c.FPDFFont_GetBaseFontName(font, buffer, len(buffer)):
            if is_cjk_font(buffer.value.decode("utf-8", "replace")):
                return True
    return False


def _embedded_images(page: pdfium.PdfPage, seen: set[str]) -> list[tuple[Image.Image, Place | None]]:
    """The page's images that cover a meaningful share of it, largest first, each with where it stands;
    each picture once per document (a logo repeated on every page is read on the first)."""
    width, height = page.get_size()
    candidates = []
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        area = max(0.0, right - left) * max(0.0, top - bottom)
        if width * height and area / (width * height) >= MIN_IMAGE_FRACTION:
            candidates.append((area, obj))
    images = []
    for _, obj in sorted(candidates, key=lambda c: -c[0])[:MAX_IMAGES_PER_PAGE]:
        digest = hashlib.sha1(obj.get_data(decode_simple=False)).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        try:
            image = obj.get_bitmap(render=True).to_pil()
        except pdfium.PdfiumError:
            continue
        image.thumbnail((ocr.MAX_SIDE, ocr.MAX_SIDE))
        images.append((image, _place(page, obj)))
    return images


def _place(page: pdfium.PdfPage, obj: pdfium.PdfImage) -> Place | None:
    """Where an image stands on the page as displayed, when it is drawn upright and unmirrored (its pixels'
    axes are the page's); else None."""
    matrix = obj.get_matrix()  # (in a form, its matrix and bounds are the form's: not placed here)
    if obj.level or page.get_rotation() or abs(matrix.b) > 1e-6 or abs(matrix.c) > 1e-6 or matrix.a <= 0 or matrix.d <= 0:
        return None
    left, bottom, right, top = obj.get_bounds()
    size = 100_000  # device units of the page: fractions to 1e-5
    corners = []
    x, y = ctypes.c_int(), ctypes.c_int()
    for px, py in ((left, top), (right, bottom)):
        pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, size, size, 0, px, py, x, y)
        corners.append((min(max(x.value / size, 0.0), 1.0), min(max(y.value / size, 0.0), 1.0)))
    (x0, y0), (x1, y1) = corners
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _on_page(lines: list[ocr.Line], place: Place | None) -> tuple[TextBox, ...]:
    """The lines' boxes in page fractions (an image's fractions mapped through where it stands)."""
    if place is None:
        return ()
    left, top, right, bottom = place
    w, h = right - left, bottom - top
    return tuple(TextBox(left + w * ln.box[0], top + h * ln.box[1], left + w * ln.box[2], top + h * ln.box[3], ln.text)
                 for ln in lines)


def _image_fraction(page: pdfium.PdfPage) -> float:
    """Share of the page's area that images cover (overlaps counted twice, capped at 1)."""
    width, height = page.get_size()
    covered = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
        left, bottom, right, top = obj.get_bounds()
        covered += max(0.0, min(right, width) - max(left, 0.0)) * max(0.0, min(top, height) - max(bottom, 0.0))
    return min(1.0, covered / (width * height)) if width * height else 0.0
