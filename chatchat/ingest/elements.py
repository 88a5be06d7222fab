"""What a parser yields: pieces of text with where they came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class TextBox(NamedTuple):
    """One line OCR read on a page: where it stands, as fractions of the page as displayed (0..1 from its
    top-left corner, so any rendering of the page maps it by its size), and its text."""

    left: float
    top: float
    right: float
    bottom: float
    text: str


@dataclass(frozen=True)
class Element:
    text: str
    page: int | None = None  # 1-based page, slide or sheet number; None where the format has none
    category: str = "Text"  # "Title" for headings; otherwise unstructured's category name
    section: str | None = None  # the heading this element sits under, if known
    boxes: tuple[TextBox, ...] = ()  # text OCR read on a PDF page: its lines' boxes (chatchat.ingest.ocr_boxes)
