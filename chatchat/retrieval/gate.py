"""The relevance gate: does the knowledge base cover a question at all?

A question whose answer is not in the knowledge base still gets nearest passages; answering from them
invents an answer. The gate judges each hit by its cosine with the question plus a little for the
question's words it shares (`WORDS_WEIGHT` × the share of the question's terms found in it: character
bigrams of Chinese, Japanese and Korean, words otherwise), and compares the best with a threshold calibrated
for the embedding model on the dev sets (models.yaml `gate`, measured by bench/eval_retrieval.py), at the
strictness the user picked in Settings. The words matter where the cosine alone cannot tell: a question about
a person the knowledge base never mentions still finds passages on the same kind of topic as close by cosine
(cmrc2018 with multilingual-e5: refusal 0.67 → 0.83 at 0.03 false refusals, bench/RESULTS.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Literal, Mapping, Sequence

from chatchat.retrieval.chunks import terms as in_order

if TYPE_CHECKING:
    from chatchat.models.catalog import RelevanceGate
    from chatchat.retrieval.chunks import Hit

Level = Literal["off", "loose", "balanced", "strict"]
LEVELS: tuple[str, ...] = ("off", "loose", "balanced", "strict")
WORDS_WEIGHT = 0.1  # what a hit holding all of the question's terms adds to its cosine


def terms(text: str) -> set[str]:
    """Character bigrams of each CJK run (a lone character stands for itself), lower-cased words otherwise
    (chatchat.retrieval.chunks.terms, which the bigram index is made of)."""
    return set(in_order(text))


def hit_signal(hit: Hit, question_terms: set[str]) -> float:
    """A hit's cosine plus WORDS_WEIGHT × the share of the question's terms in its text."""
    shared = len(question_terms & terms(hit.text)) / len(question_terms) if question_terms else 0.0
    return hit.score + WORDS_WEIGHT * shared


def signal(query: str, hits: Sequence[Hit]) -> float:
    """What the gate judges: the best hit's signal (-1 when there are none)."""
    wanted = terms(query)
    return max((hit_signal(hit, wanted) for hit in hits), default=-1.0)


def threshold(gates: Mapping[str, RelevanceGate], level: Level, language: str) -> float | None:
    """The minimum signal at this strictness for passages in `language`; None when the gate is off or the
    model is not calibrated for that language (an embedding model's cosines sit higher or lower per language:
    multilingual-e5 gives answerable English questions ~0.03 less than Chinese ones)."""
    gate = gates.get(language)
    if gate is None or level == "off":
        return None
    return getattr(gate, level)


def covers(query: str, hits: Sequence[Hit], minimum: Callable[[Hit], float | None]) -> bool:
    """Whether the hits show that the knowledge base covers the question: some hit's signal reaches the
    threshold of its knowledge base and language (`minimum(hit)`). Hits without a threshold (None: an
    uncalibrated model or language) are not judged; when no hit can be judged there is no gate. No hits: not
    covered."""
    needed = [(hit, minimum(hit)) for hit in hits]
    judged = [(hit, m) for hit, m in needed if m is not None]
    if not judged:
        return bool(hits)
    wanted = terms(query)
    return any(hit_signal(hit, wanted) >= m for hit, m in judged)
