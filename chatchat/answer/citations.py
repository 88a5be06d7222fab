"""Inline citation markers: `[n]` in an answer points at the n-th passage the model was given.

The prompt asks the model to write the markers. What it writes is checked: a marker outside 1..n (the
passages it was given) is dropped, and `[1, 2]` or `【1】` become `[1][2]` / `[1]`. When the model wrote
no usable marker (small local models rarely do), the app attaches them: each answer sentence gets the
marker of the passage that contains most of its character n-grams, when that share reaches THRESHOLD.
Such markers are `by="app"`, so a reader is told they were matched by the app, not written by the model.

Why character n-grams rather than the embedder: an answer sentence that uses a passage repeats its
words (small models copy whole phrases), n-grams need no model and no tokenizer for Chinese, and they
cost microseconds; bench/bench_citations.py compares them with the embedder on real documents.
Han text is read as character bigrams, Latin text as 4-grams over its letters (word order and
inflections both count); a sentence with fewer than MIN_GRAMS n-grams ("Yes.", "综上所述：") gets none.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any, Literal, Sequence

THRESHOLD = 0.5  # share of a sentence's n-grams that must occur in the passage
MIN_GRAMS = 4
HAN_N = 2
LATIN_N = 4

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_HAN}]+|[^\W_{_HAN}]+(?:[\s\-'’]+[^\W_{_HAN}]+)*")
_IS_HAN = re.compile(rf"[{_HAN}]")
_NOT_WORD = re.compile(r"[\W_]+")
# [1], [1, 2], [1][2], 【1】, ［1］: what models write for a citation
MARKER = re.compile(r"[\[【［]\s*(\d{1,4}(?:\s*[,，、;；]\s*\d{1,4})*)\s*[\]】］]")
_CLOSERS = "”’\"'」』)）"
# a sentence ends at Chinese end punctuation, at . ! ? ; followed by a space or the end, or at a line break
_END = re.compile(rf"[。！？；!?;]+[{_CLOSERS}]*|\.+[{_CLOSERS}]*(?=\s|$)|\n+")


@dataclass(frozen=True)
class Marker:
    """One `[index]` in CitedAnswer.text, at text[start:end]."""

    index: int  # 1-based number of the passage (Source.index)
    start: int
    end: int
    by: Literal["model", "app"]  # written by the model, or attached by the app
    score: float | None = None  # app: the share of the sentence's n-grams found in the passage

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CitedAnswer:
    text: str  # the answer with its markers
    markers: tuple[Marker, ...]

    @property
    def attached(self) -> bool:
        """The app attached the markers (the model wrote none it was allowed to)."""
        return any(marker.by == "app" for marker in self.markers)

    @property
    def cited(self) -> list[int]:
        """The passage numbers the answer cites, in order of first use."""
        return list(dict.fromkeys(marker.index for marker in self.markers))

    def segments(self) -> list[str | Marker]:
        """The text cut at its markers: plain text pieces and Marker objects, in order (for a UI that
        renders markers as chips)."""
        pieces: list[str | Marker] = []
        position = 0
        for marker in self.markers:
            if marker.start > position:
                pieces.append(self.text[position:marker.start])
            pieces.append(marker)
            position = marker.end
        if position < len(self.text):
            pieces.append(self.text[position:])
        return pieces

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "attached": self.attached, "markers": [m.to_dict() for m in self.markers]}


def grams(text: str) -> set[str]:
    """The character n-grams `text` is compared by: bigrams of Han runs, 4-grams of Latin/digit runs
    (lower-cased, spaces and hyphens inside a run removed). A run shorter than n counts whole."""
    found: set[str] = set()
    for run in _RUNS.findall(unicodedata.normalize("NFKC", text).casefold()):
        n = HAN_N if _IS_HAN.match(run) else LATIN_N
        run = _NOT_WORD.sub("", run)
        found.update(run[i : i + n] for i in range(max(1, len(run) - n + 1)))
    return found


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, Chinese or English, end punctuation included and the
    whitespace around it left out."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _END.finditer(text):
        end = match.start() if match.group().startswith("\n") else match.end()
        spans.append((start, end))
        start = match.end()
    spans.append((start, len(text)))
    trimmed = []
    for first, last in spans:
        piece = text[first:last]
        lead = len(piece) - len(piece.lstrip())
        if piece.strip():
            trimmed.append((first + lead, first + len(piece.rstrip())))
    return trimmed


def best_passage(sentence: str, passage_grams: Sequence[set[str]], threshold: float = THRESHOLD) -> tuple[int, float] | None:
    """(1-based number, score) of the passage holding the largest share of the sentence's n-grams, the
    better-ranked one on a tie; None below `threshold` or for a sentence too short to tell."""
    own = grams(sentence)
    if len(own) < MIN_GRAMS:
        return None
    best, best_score = 0, 0.0
    for number, found in enumerate(passage_grams, 1):
        score = len(own & found) / len(own)
        if score > best_score:
            best, best_score = number, score
    return (best, round(best_score, 3)) if best and best_score >= threshold else None


def _model_markers(answer: str, count: int) -> tuple[str, list[Marker]]:
    """The answer with each marker the model wrote in the form [n] (several as [1][2]) and those
    outside 1..count dropped, with the space before a dropped one unless a word follows it."""
    parts: list[str] = []
    markers: list[Marker] = []
    length = position = 0
    for match in MARKER.finditer(answer):
        before = answer[position:match.start()]
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        valid = list(dict.fromkeys(n for n in numbers if 1 <= n <= count))
        if not valid:
            after = answer[match.end():match.end() + 1]
            before = before if after.isalnum() else before.rstrip(" ")
        parts.append(before)
        length += len(before)
        for number in valid:
            label = f"[{number}]"
            markers.append(Marker(number, length, length + len(label), "model"))
            parts.append(label)
            length += len(label)
        position = match.end()
    parts.append(answer[position:])
    return "".join(parts), markers


def _insertion_point(text: str, start: int, end: int) -> int:
    """Where a sentence's marker goes: before its end punctuation and closing quotes."""
    point = end
    while point > start and (text[point - 1] in _CLOSERS or text[point - 1] in "。！？；!?;.,，:：…"):
        point -= 1
    return point if point > start else end


def attach(answer: str, passages: Sequence[str], threshold: float = THRESHOLD) -> CitedAnswer:
    """The answer with one app marker after each sentence that a passage contains (see best_passage)."""
    passage_grams = [grams(p) for p in passages]
    inserts: list[tuple[int, int, float]] = []
    for start, end in sentences(answer):
        found = best_passage(answer[start:end], passage_grams, threshold)
        if found:
            inserts.append((_insertion_point(answer, start, end), *found))
    parts: list[str] = []
    markers: list[Marker] = []
    position = length = 0
    for point, number, score in inserts:
        parts.append(answer[position:point])
        length += point - position
        label = f"[{number}]"
        markers.append(Marker(number, length, length + len(label), "app", score))
        parts.append(label)
        length += len(label)
        position = point
    parts.append(answer[position:])
    return CitedAnswer("".join(parts), tuple(markers))


def cite(answer: str, passages: Sequence[str], threshold: float = THRESHOLD) -> CitedAnswer:
    """The answer's citation markers checked against the `passages` the model was given (numbered 1..n
    in order): the model's markers when it wrote any valid one (the invalid ones dropped), else markers
    the app attaches. A marker never points outside 1..len(passages)."""
    text, markers = _model_markers(answer, len(passages))
    if markers or not passages:
        return CitedAnswer(text, tuple(markers))
    return attach(text, passages, threshold)
