"""Chinese-aware recursive splitting and title enhancement.

Text is cut at the coarsest boundary that makes pieces fit: paragraphs, lines, sentence ends
(。！？ . ! ?), clause ends (；; …), commas (，, 、), and finally characters. Pieces are then
packed into chunks of at most `chunk_size` tokens that overlap by up to `chunk_overlap`.
Separators stay with the text before them, so sentences keep their punctuation.

Sizes are in tokens as the models count them, estimated without a tokenizer (`measure`): a Chinese,
Japanese or Korean character is about 3/4 of a token, four other characters about one (multilingual-e5
on the dev sets: 1.35 Chinese and 4.1 English characters a token). Counted in characters, an English chunk
held a third of the tokens of a Chinese one, often too little to hold a question's answer with the words it
is asked by (bench/RESULTS.md, "Retrieval decisions").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import groupby
from typing import Iterable

from chatchat.cjk import WIDE
from chatchat.ingest.elements import Element

SEPARATORS = [
    r"\n\s*\n",
    r"\n",
    r"[。！？!?]+[”’」』\"')）]*|\.(?=\s)",
    r"[；;…]+",
    r"[，,、：:]",
    r"\s+",
]


@dataclass(frozen=True)
class Chunk:
    text: str
    page: int | None
    section: str | None
    index: int


def _cut(text: str, pattern: str) -> list[str]:
    """Split after each match of pattern, keeping the separator on the left piece."""
    pieces, start = [], 0
    for match in re.finditer(pattern, text):
        if match.end() > start:
            pieces.append(text[start : match.end()])
            start = match.end()
    pieces.append(text[start:])
    return [piece for piece in pieces if piece]


CJK_TOKENS = 0.75  # tokens a CJK character counts
OTHER_TOKENS = 0.25  # tokens any other character counts


def measure(text: str) -> float:
    """The estimated tokens of `text`."""
    cjk = len(WIDE.findall(text))
    return CJK_TOKENS * cjk + OTHER_TOKENS * (len(text) - cjk)


def _pieces(text: str, size: int, separators: list[str]) -> list[str]:
    """Pieces no longer than size, cut at the coarsest boundary possible."""
    if measure(text) <= size:
        return [text]
    for level, pattern in enumerate(separators):
        parts = _cut(text, pattern)
        if len(parts) > 1:
            result: list[str] = []
            for part in parts:
                result.extend(_pieces(part, size, separators[level + 1 :]) if measure(part) > size else [part])
            return result
    return _hard_cut(text, size)


def _hard_cut(text: str, size: int) -> list[str]:
    """Text without a boundary, cut into pieces of at most `size` tokens (one character at least)."""
    pieces, start, length = [], 0, 0.0
    for end, char in enumerate(text):
        weight = measure(char)
        if end > start and length + weight > size:
            pieces.append(text[start:end])
            start, length = end, 0.0
        length += weight
    pieces.append(text[start:])
    return pieces


def _pack(pieces: list[str], size: int, overlap: int) -> list[str]:
    chunks: list[str] = []
    window: list[str] = []
    length = 0.0
    for piece in pieces:
        if window and length + measure(piece) > size:
            chunks.append("".join(window).strip())
            while window and (length > overlap or length + measure(piece) > size):
                length -= measure(window.pop(0))
        window.append(piece)
        length += measure(piece)
    if window:  # it always ends with a piece not yet emitted
        chunks.append("".join(window).strip())
    return [chunk for chunk in chunks if chunk]


def split_text(text: str, chunk_size: int, chunk_overlap: int) -> list[str]:
    if chunk_overlap >= chunk_size:
        raise ValueError("chunk_overlap must be smaller than chunk_size")
    text = re.sub(r"[ \t\u3000]+\n", "\n", text.strip())
    return _pack(_pieces(text, chunk_size, SEPARATORS), chunk_size, chunk_overlap)


def split_elements(elements: Iterable[Element], chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Chunks that never cross a page or a section, so each cites one page and heading.

    A heading is left out of its section's text (enhance() puts it in front), unless nothing
    else is under it anywhere: a document of headings alone still has that text to index.
    """
    elements = list(elements)
    with_body = {e.section for e in elements if e.text.strip() and e.text.strip() != e.section}
    chunks: list[Chunk] = []
    for (page, section), group in groupby(elements, key=lambda e: (e.page, e.section)):
        texts = [e.text.strip() for e in group if e.text.strip()]
        body = "\n\n".join(t for t in texts if t != section or section not in with_body)
        for text in split_text(body, chunk_size, chunk_overlap):
            chunks.append(Chunk(text=text, page=page, section=section, index=len(chunks)))
    return chunks


def enhance(chunk: Chunk) -> str:
    """The text to embed and index: the section title in front gives a chunk its context."""
    if not chunk.section or chunk.text.startswith(chunk.section):
        return chunk.text
    return f"{chunk.section}\n{chunk.text}"
