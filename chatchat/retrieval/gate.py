"""The relevance gate: does the knowledge base cover a question at all?

A question whose answer is not in the knowledge base still gets nearest passages; answering from them
invents an answer. The gate looks at the best hit's cosine with the question and compares it with a
threshold calibrated for the embedding model on the dev sets (models.yaml `gate`, measured by
bench/eval_retrieval.py), at the strictness the user picked in Settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Literal, Mapping, Sequence

if TYPE_CHECKING:
    from chatchat.models.catalog import RelevanceGate
    from chatchat.retrieval.chunks import Hit

Level = Literal["off", "loose", "balanced", "strict"]
LEVELS: tuple[str, ...] = ("off", "loose", "balanced", "strict")


def signal(hits: Sequence[Hit]) -> float:
    """What the gate judges: the highest cosine among the hits (-1 when there are none)."""
    return max((hit.score for hit in hits), default=-1.0)


def threshold(gates: Mapping[str, RelevanceGate], level: Level, language: str) -> float | None:
    """The minimum signal at this strictness for passages in `language`; None when the gate is off or the
    model is not calibrated for that language (an embedding model's cosines sit higher or lower per language:
    multilingual-e5 gives answerable English questions ~0.03 less than Chinese ones)."""
    gate = gates.get(language)
    if gate is None or level == "off":
        return None
    return getattr(gate, level)


def covers(hits: Sequence[Hit], minimum: Callable[[Hit], float | None]) -> bool:
    """Whether the hits show that the knowledge base covers the question: some hit reaches the threshold
    of its knowledge base and language (`minimum(hit)`). Hits without a threshold (None: an uncalibrated
    model or language) are not judged; when no hit can be judged there is no gate. No hits: not covered."""
    needed = [(hit, minimum(hit)) for hit in hits]
    judged = [(hit, m) for hit, m in needed if m is not None]
    if not judged:
        return bool(hits)
    return any(hit.score >= m for hit, m in judged)
