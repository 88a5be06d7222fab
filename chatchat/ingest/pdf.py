"""PDF → one element per page from the text layer, plus OCR of scanned pages.

pypdfium2 reads the text layer about 25x faster than pdfminer.six (bench/bench_parse.py) and
needs none of unstructured's [pdf] extra (CUDA torch). A page is rendered and OCR'd when it has
no text layer, or when images cover more than PAGE_OCR_IMAGE_FRACTION of it (a scan, or a
slide exported as a picture), as Langchain-Chatchat did; recognised lines the text layer
already holds are dropped, so a scan that carries its own OCR layer is not read twice over.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from chatchat.errors import ParseError
from chatchat.ingest import ocr
from chatchat.ingest.elements import Element

PAGE_OCR_IMAGE_FRACTION = 0.6
# 144 dpi: body text of the sample scans reads well at this size and not at 72 dpi; OCR time
# grows with the pixel count.
OCR_RENDER_SCALE = 2.0

# PDFium is not thread-safe: no two calls into it may run at once, on any document.
_pdfium_lock = threading.Lock()
_SPACE = re.compile(r"\s+")


def parse_pdf(path: Path, name: str, use_ocr: bool) -> list[Element]:
    can_ocr = use_ocr and ocr.available()
    with _pdfium_lock:
        pdf = _open(path, name)
    elements: list[Element] = []
    page_count = 0
    try:
        with _pdfium_lock:
            page_count = len(pdf)
        for index in range(page_count):
            with _pdfium_lock:
                text, image = _read_page(pdf, index, can_ocr, name)
            if text.strip():
                elements.append(Element(text=text, page=index + 1))
            if image is not None:
                seen = _SPACE.sub("", text)
                lines = [ln for ln in ocr.ocr_image(image, name) if _SPACE.sub("", ln) not in seen]
                if lines:
                    elements.append(Element(text="\n".join(lines), page=index + 1, category="Image"))
    finally:
        with _pdfium_lock:
            pdf.close()
    if not elements and page_count and not can_ocr:
        if use_ocr:
            raise ocr.unavailable(name)
        raise ParseError(
            f"{name} has no text layer (it looks like a scan). Turn OCR on to read it as images."
        )
    return elements


def _open(path: Path, name: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            raise ParseError(
                f"{name} is password-protected. Remove the password (e.g. print it to a new PDF) "
                "and add it again."
            ) from exc
        raise ParseError(
            f"{name} is damaged or truncated and cannot be opened as a PDF ({exc}). "
            "Download or export it again and add the complete file."
        ) from exc


def _read_page(pdf: pdfium.PdfDocument, index: int, use_ocr: bool, name: str) -> tuple[str, Image.Image | None]:
    """(text layer, rendered page image or None). Caller holds the PDFium lock."""
    try:
        page = pdf[index]
        textpage = page.get_textpage()
        text = textpage.get_text_bounded()
        textpage.close()
        image = None
        if use_ocr and (not text.strip() or _image_fraction(page) > PAGE_OCR_IMAGE_FRACTION):
            # Capped: a poster-sized page at 144 dpi would take gigabytes, and OCR shrinks it anyway.
            scale = min(OCR_RENDER_SCALE, ocr.MAX_SIDE / max(1.0, *page.get_size()))
            image = page.render(scale=scale).to_pil()
        page.close()
    except pdfium.PdfiumError as exc:
        raise ParseError(f"Page {index + 1} of {name} is damaged and cannot be read ({exc}).") from exc
    # PDFium ends lines with CRLF and marks soft hyphens at line ends with U+FFFE.
    return text.replace("\r\n", "\n").replace("\ufffe", ""), image


def _image_fraction(page: pdfium.PdfPage) -> float:
    """Share of the page's area that images cover (overlaps counted twice, capped at 1)."""
    width, height = page.get_size()
    covered = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
        left, bottom, right, top = obj.get_bounds()
        covered += max(0.0, min(right, width) - max(left, 0.0)) * max(0.0, min(top, height) - max(bottom, 0.0))
    return min(1.0, covered / (width * height)) if width * height else 0.0
