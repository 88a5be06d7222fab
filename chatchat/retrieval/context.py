"""The passages a model is given: search hits of one or more knowledge bases fused by rank, then widened
to their neighbouring chunks (small-to-big) with duplicates collapsed.

A hit is the chunk that matched; a passage is that chunk with up to WINDOW chunks either side, or several
hits of one document merged into one span of at most MAX_SPAN chunks. The citation keeps pointing at the
hit itself (its knowledge base, file, page and chunk), not at the whole span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from chatchat.retrieval.chunks import Hit

WINDOW = 1  # neighbouring chunks on each side of a hit
MAX_SPAN = 5  # chunks in one passage at most: what merging hits of one document may grow to
MIN_OVERLAP = 8  # characters: a shorter common edge of two chunks is a coincidence, not the splitter's overlap
RRF_K = 60

# (knowledge base, [(doc_id, first, last)]) -> those chunks
ReadSpans = Callable[[str, list[tuple[str, int, int]]], list[Hit]]


def kb_names(value: str | Sequence[str] | None) -> list[str]:
    """Knowledge-base names from one name, several joined by commas (names hold none), or a list."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    return list(dict.fromkeys(name.strip() for name in items if name and name.strip()))


@dataclass(frozen=True)
class Passage:
    text: str  # what the model reads
    hit: Hit  # the best-ranked chunk inside: what the citation points at
    first: int  # chunk indices the text spans, inclusive
    last: int

    @classmethod
    def of(cls, hit: Hit) -> "Passage":
        return cls(hit.text, hit, hit.chunk_index, hit.chunk_index)

    @property
    def file(self) -> str:
        return self.hit.file

    @property
    def page(self) -> int | None:
        return self.hit.page

    @property
    def kb(self) -> str:
        return self.hit.kb


def fuse_by_rank(lists: Sequence[Sequence[Hit]], top_k: int) -> list[Hit]:
    """Ranked lists (one per knowledge base) as one ranking, by reciprocal rank: each knowledge base may
    use another embedding model, whose cosines are on another scale, so raw scores are never compared.
    Equal ranks go to the higher `relevance` (in hybrid search 1 when vector and full text agree on the
    hit, 0 when the model does not know the question's language), then keep the order of the lists."""
    fused: dict[tuple[str, str, int], float] = {}
    first_seen: dict[tuple[str, str, int], Hit] = {}
    for hits in lists:
        for rank, hit in enumerate(hits):
            key = (hit.kb, hit.doc_id, hit.chunk_index)
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
            first_seen.setdefault(key, hit)
    order = sorted(fused, key=lambda k: (-round(fused[k], 12), -first_seen[k].relevance))
    return [first_seen[key] for key in order][:top_k]


def _spans(hits: Sequence[Hit], window: int, max_span: int) -> list[list]:
    """[hit, first, last] per passage, best hit first. A hit inside a better hit's span is a duplicate."""
    spans: list[list] = []
    for hit in hits:
        index = hit.chunk_index
        same = [s for s in spans if (s[0].kb, s[0].doc_id) == (hit.kb, hit.doc_id)]
        if any(first <= index <= last for _, first, last in same):
            continue
        first, last = max(0, index - window), index + window
        for span in same:
            touches = first <= span[2] + 1 and last >= span[1] - 1
            if touches and max(last, span[2]) - min(first, span[1]) < max_span:
                span[1], span[2] = min(first, span[1]), max(last, span[2])
                break
        else:
            for _, other_first, other_last in same:  # leave out what another passage already holds
                if other_first <= first <= other_last:
                    first = other_last + 1
                if other_first <= last <= other_last:
                    last = other_first - 1
            spans.append([hit, first, last])
    return spans


def _overlap(left: str, right: str) -> int:
    """Length of the longest start of `right` that `left` ends with (the splitter's overlap), or 0."""
    for size in range(min(len(left), len(right)), MIN_OVERLAP - 1, -1):
        if left.endswith(right[:size]):
            return size
    return 0


def merge_texts(texts: Sequence[str]) -> str:
    """Consecutive chunks of one document as one text, each overlap kept once."""
    merged = texts[0] if texts else ""
    for text in texts[1:]:
        size = _overlap(merged, text)
        merged = merged + text[size:] if size else f"{merged}\n{text}"
    return merged


def expand(hits: Sequence[Hit], read: ReadSpans, window: int = WINDOW, max_span: int = MAX_SPAN) -> list[Passage]:
    """The hits as passages with their neighbouring chunks, one read per knowledge base."""
    spans = _spans(hits, window, max_span)
    chunks: dict[tuple[str, str, int], Hit] = {}
    for kb in dict.fromkeys(hit.kb for hit, _, _ in spans):
        wanted = [(hit.doc_id, first, last) for hit, first, last in spans if hit.kb == kb]
        for chunk in read(kb, wanted):
            chunks[(kb, chunk.doc_id, chunk.chunk_index)] = chunk
    passages = []
    for hit, first, last in spans:
        inside = [chunks[key] for i in range(first, last + 1) if (key := (hit.kb, hit.doc_id, i)) in chunks]
        if not any(c.chunk_index == hit.chunk_index for c in inside):  # the document changed meanwhile
            passages.append(Passage.of(hit))
            continue
        passages.append(Passage(merge_texts([c.text for c in inside]), hit, inside[0].chunk_index, inside[-1].chunk_index))
    return passages
