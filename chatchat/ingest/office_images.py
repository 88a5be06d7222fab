"""OCR of the pictures inside Word and PowerPoint files, which unstructured leaves unread.

Text in a screenshot or a scanned page pasted into a document is often the part people ask
about (Langchain-Chatchat OCR'd these too). One picture that cannot be decoded (EMF, WMF) is
skipped rather than failing the whole document.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import docx
import pptx
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph

from chatchat.errors import ParseError
from chatchat.ingest import ocr
from chatchat.ingest.elements import Element

log = logging.getLogger(__name__)

_R_EMBED = qn("r:embed")
_R_ID = qn("r:id")
_VML_IMAGEDATA = "{urn:schemas-microsoft-com:vml}imagedata"  # pictures in pre-2010 .docx


def docx_image_elements(path: Path, name: str) -> list[Element]:
    """OCR text of each picture in a .docx, in document order, under its nearest heading."""
    document = docx.Document(str(path))
    related = document.part.related_parts
    elements: list[Element] = []
    seen: set[str] = set()
    section = None
    for p in document.element.body.iter(qn("w:p")):
        paragraph = Paragraph(p, document)
        style = paragraph.style.name if paragraph.style is not None else ""
        if (style.startswith("Heading") or style == "Title") and paragraph.text.strip():
            section = paragraph.text.strip()
        for blip in p.iter(qn("a:blip"), _VML_IMAGEDATA):
            rid = blip.get(_R_EMBED) or blip.get(_R_ID)
            part = related.get(rid) if rid else None
            if part is None or str(part.partname) in seen:
                continue
            seen.add(str(part.partname))
            text = _ocr_text(part.blob, name)
            if text:
                elements.append(Element(text=text, category="Image", section=section))
    return elements


def pptx_image_elements(path: Path, name: str) -> list[Element]:
    """OCR text of each picture in a .pptx, with its slide number."""
    elements = []
    for number, slide in enumerate(pptx.Presentation(str(path)).slides, start=1):
        for blob in _picture_blobs(slide.shapes):
            text = _ocr_text(blob, name)
            if text:
                elements.append(Element(text=text, page=number, category="Image"))
    return elements


def _picture_blobs(shapes) -> Iterator[bytes]:
    for shape in shapes:
        if hasattr(shape, "shapes"):  # a group
            yield from _picture_blobs(shape.shapes)
            continue
        try:
            image = shape.image  # pictures and filled picture placeholders
        except (AttributeError, KeyError, ValueError):  # no picture, or a linked/missing one
            continue
        yield image.blob


def _ocr_text(blob: bytes, name: str) -> str:
    try:
        return "\n".join(ocr.ocr_image(blob, name))
    except ParseError as exc:
        log.warning("skipped a picture: %s", exc.message)
        return ""
