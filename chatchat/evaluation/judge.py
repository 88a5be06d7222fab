"""Whether a retrieved chunk or an answer holds what a test question expects.

Text is compared without white space, after NFKC (full-width ２０１５ is 2015) and case folding. A chunk
answers a question when it contains one of its answers (and, when the question names a `source`, comes
from that document; a question with a source and no answers is answered by any chunk of that source).
When the question carries a `context` (the passage its answer is in), a found answer counts only when
the answer with up to CONTEXT_CHARS characters on one side also occurs in that passage: "four" in
another paragraph of the same document is not the answer.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from chatchat.evaluation.testset import Item

CONTEXT_CHARS = 8
_SPACE = re.compile(r"\s+")


def normal(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text).casefold())


def same_source(file: str, source: str) -> bool:
    """A document name as listed (it may hold a folder: docs/guide.pdf) against the one a question expects
    (the full name, or the name without its folder)."""
    file, source = normal(file), normal(source)
    return file == source or file.rsplit("/", 1)[-1] == source


class Judge:
    """Judges chunks for one question (the normalised answers and context are made once)."""

    def __init__(self, item: Item):
        self.item = item
        self.answers = sorted({normal(a) for a in item.answers} - {""})
        self.context = normal(item.context) if item.context else ""

    def chunk(self, text: str, file: str) -> bool:
        if self.item.source and not same_source(file, self.item.source):
            return False
        if not self.answers:
            return bool(self.item.source)
        return self.contains(normal(text))

    def contains(self, text: str) -> bool:
        """`text` (normalised) holds an answer, from the context when there is one."""
        for answer in self.answers:
            start = text.find(answer)
            while start >= 0:
                if not self.context:
                    return True
                end = start + len(answer)
                if text[max(0, start - CONTEXT_CHARS) : end] in self.context or text[start : end + CONTEXT_CHARS] in self.context:
                    return True
                start = text.find(answer, start + 1)
        return False

    def rank(self, chunks: Sequence[tuple[str, str]]) -> int | None:
        """1-based rank of the first (text, file) that answers, or None."""
        for rank, (text, file) in enumerate(chunks, 1):
            if self.chunk(text, file):
                return rank
        return None

    def answer(self, text: str) -> bool:
        """An end-to-end answer contains an expected answer (the context does not apply: the model rephrases)."""
        text = normal(text)
        return any(answer in text for answer in self.answers)


def scores(ranks: Sequence[int | None], ks: Sequence[int] = (1, 3, 5)) -> dict[str, float]:
    """hit@k for each k and MRR over the ranks (None: not found in what was retrieved)."""
    n = len(ranks) or 1
    out = {f"hit_at_{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in ks}
    out["mrr"] = sum(1 / r for r in ranks if r is not None) / n
    return out
