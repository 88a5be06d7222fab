"""What a parser yields: pieces of text with where they came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Element:
    text: str
    page: int | None = None  # 1-based page, slide or sheet number; None where the format has none
    category: str = "Text"  # "Title" for headings; otherwise unstructured's category name
    section: str | None = None  # the heading this element sits under, if known
