"""An answer inside a conversation says what it is waiting for (search, model load, reading the prompt),
keeps the question from the moment it is asked, and stops at every stage: a stop before the search, and a
stop while llama.cpp reads a long prompt (the packaged SmolLM2, real), end the turn at once with the
question saved. Real services on a temp dir with the packaged MiniLM embedder."""

from __future__ import annotations

import threading
import time

import pytest

from chatchat.config import load_settings
from chatchat.service import Services
from conftest import UNSTRUCTURED_DOCS

LONG = "Summarise this text in one line. " + "The quick brown fox jumps over the lazy dog. " * 500  # ~5000 tokens


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    settings = load_settings(tmp_path_factory.mktemp("stages-home"), relevance_gate="off")  # stages, not the gate
    services = Services.open(settings)
    services.create_kb("docs")
    services.add_files("docs", [UNSTRUCTURED_DOCS / "fake-text.txt"])
    yield settings, services, services.llms, services.conversations
    services.llms.unload_all()


def test_stages_come_before_the_words(world):
    settings, services, llms, store = world
    llms.unload_all()
    chat = store.create(mode="kb", kb="docs")
    events = list(services.reply(chat.id, "Which points does the text make about dogs?", temperature=0, max_tokens=8))
    stages = [e.text for e in events if e.kind == "stage"]
    assert stages == ["search", "load", "think"]
    first_delta = next(i for i, e in enumerate(events) if e.kind == "delta")
    assert all(e.kind == "stage" for e in events[:first_delta])
    again = list(services.reply(chat.id, "And what else?", temperature=0, max_tokens=8, rewrite=False))
    assert [e.text for e in again if e.kind == "stage"] == ["search", "think"]  # loaded already
    # answer() leaves stages out unless asked (the API's first event decides its HTTP status)
    assert not [e for e in services.answerer.answer("Hi", max_tokens=4) if e.kind == "stage"]


def test_a_stop_before_the_search_ends_at_once_and_keeps_the_question(world):
    settings, services, llms, store = world
    llms.unload_all()
    chat = store.create(mode="kb", kb="docs")
    cancel = threading.Event()
    cancel.set()  # pressed as the question went out
    events = list(services.reply(chat.id, "What is this text about?", cancel=cancel, max_tokens=64))
    assert [e.kind for e in events if e.kind != "stage"] == ["sources", "done"] and events[-1].cancelled
    assert llms.loaded() == []  # the model was never loaded for a stopped answer
    saved = store.get(chat.id).messages
    assert [(m.role, m.content, m.cancelled) for m in saved] == [
        ("user", "What is this text about?", False), ("assistant", "", True)]
    assert store.get(chat.id).history(5) == []  # a turn stopped before a word is not history


def test_a_stop_while_the_model_reads_a_long_prompt_ends_promptly(world):
    settings, services, llms, store = world
    model = llms.get(settings.default_llm)
    assert model.count_tokens(LONG) > 4000
    chat = store.create()
    cancel = threading.Event()
    pressed: list[float] = []

    def press() -> None:
        pressed.append(time.monotonic())
        cancel.set()

    events = []
    for event in services.reply(chat.id, LONG, cancel=cancel, temperature=0, max_tokens=64):
        events.append(event)
        if event.kind == "stage" and event.text == "think":
            threading.Timer(0.2, press).start()  # a stop while llama.cpp is in the prompt's prefill
    ended = time.monotonic()
    kinds = [e.kind for e in events if e.kind != "stage"]
    assert kinds == ["sources", "done"] and events[-1].cancelled, kinds  # not one word: stopped in the prefill
    assert ended - pressed[0] < 2.0, ended - pressed[0]
    saved = store.get(chat.id).messages
    assert saved[0].content == LONG.strip() and saved[-1].cancelled
    # the engine is free at once: the next question is answered
    text = "".join(e.text for e in services.reply(chat.id, "Say hi.", temperature=0, max_tokens=4) if e.kind == "delta")
    assert text.strip()
