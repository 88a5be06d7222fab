"""The retrieve contract (chatchat.answer.answerer.Retrieve): the answerer answers from any function of
(query, language) -> Retrieval, with no knowledge base behind it, the way the web retriever plugs in.
The retrievers here are plain functions over fixed passages; the model is the packaged SmolLM2 (llama.cpp)."""

from __future__ import annotations

import pytest

from chatchat.answer.answerer import Answerer, Retrieval, Scope
from chatchat.answer.prompts import Language
from chatchat.retrieval.context import Passage
from chatchat.retrieval.chunks import Hit
from chatchat.service import Services

PAGE = Hit(text="The Great Wall of China is more than 21,000 kilometres long.", file="Great Wall", page=None,
           section=None, score=0.9, doc_id="https://example.org/wall", chunk_index=0, kb="web",
           url="https://example.org/wall")


class Recording:
    """A retriever that returns `found` and keeps what it was asked."""

    def __init__(self, found: Retrieval):
        self.found = found
        self.asked: list[tuple[str, Language]] = []

    def __call__(self, query: str, language: Language) -> Retrieval:
        self.asked.append((query, language))
        return self.found


def test_refusals_come_from_the_retrieval_and_load_no_model(services: Services) -> None:
    answerer = Answerer(services.settings, services.llms)
    nothing = Recording(Retrieval())
    events = list(answerer.answer("长城有多长？", nothing, Scope("the web")))
    assert nothing.asked == [("长城有多长？", "zh")]  # the language detected once, handed to the retriever
    assert [e.kind for e in events] == ["delta", "sources", "done"] and "the web" in events[0].text
    far = Recording(Retrieval((Passage.of(PAGE),), covered=False))
    events = list(answerer.answer("How long is the Great Wall?", far, Scope("the web")))
    assert far.asked == [("How long is the Great Wall?", "en")]
    assert events[0].text.startswith("The knowledge base does not cover this")
    [sources] = [e.sources for e in events if e.kind == "sources"]
    assert [(s.file, s.kb) for s in sources] == [("Great Wall", "web")]  # the nearest, offered
    files = list(answerer.answer("How long is the Great Wall?", Recording(Retrieval()), Scope("wall.pdf", files=True)))
    assert "wall.pdf" in files[0].text and "knowledge base" not in files[0].text
    assert services.llms.loaded() == []  # a refusal never loads the model
    with pytest.raises(ValueError, match="scope"):  # a retriever without the scope its refusals name
        list(answerer.answer("How long is the Great Wall?", nothing))


def test_the_answer_cites_what_the_retriever_found(services: Services) -> None:
    answerer = Answerer(services.settings, services.llms)
    found = Recording(Retrieval((Passage.of(PAGE),)))
    try:
        events = list(answerer.answer("How long is the Great Wall?", found, Scope("the web"), temperature=0,
                                      max_tokens=4, language="en", stages=True))
    finally:
        services.llms.unload_all()
    kinds = [e.kind for e in events]
    assert "error" not in kinds and kinds[-2:] == ["sources", "done"] and kinds.count("delta") >= 1
    assert [e.text for e in events if e.kind == "stage"] == ["search", "load", "think"]
    [sources] = [e.sources for e in events if e.kind == "sources"]
    assert [(s.index, s.file, s.kb) for s in sources] == [(1, "Great Wall", "web")]
