"""Conversations on disk: lifecycle, search, Markdown export, damaged files, and file chats whose
temporary knowledge base (real services, real document) lives and dies with the conversation."""

from __future__ import annotations

import pytest

from chatchat.answer.conversations import ChatMessage, ConversationStore
from chatchat.errors import ChatchatError, NotFound
from chatchat.policy import CONVERSATION_KB_PREFIX

from conftest import UNSTRUCTURED_DOCS

SOURCE = {"index": 1, "kb": "docs", "file": "memo.pdf", "page": 2, "section": None, "snippet": "20,000 bottles", "score": 0.81}


def exchange(store: ConversationStore, conversation_id: str, question: str, answer: str, **extra) -> None:
    store.add_exchange(
        conversation_id, ChatMessage(role="user", content=question), ChatMessage(role="assistant", content=answer, **extra)
    )


def test_lifecycle_persists_across_stores(settings):
    store = ConversationStore(settings.conversations_dir)
    first = store.create(mode="kb", kb="docs", model="smollm2-135m-instruct")
    second = store.create(title="菜谱")
    exchange(store, first.id, "How many bottles were delivered?", "20,000 bottles [1].", model="smollm2-135m-instruct", sources=[SOURCE])
    reopened = ConversationStore(settings.conversations_dir)
    loaded = reopened.get(first.id)
    assert loaded.title == "How many bottles were delivered?"  # the first question names an untitled chat
    assert [m.role for m in loaded.messages] == ["user", "assistant"]
    assert loaded.messages[1].sources == [SOURCE] and loaded.kb == "docs"
    assert [c.id for c in reopened.list()] == [first.id, second.id]  # most recently updated first
    assert reopened.rename(second.id, "  宫保鸡丁  ").title == "宫保鸡丁"
    assert reopened.list()[0].id == second.id
    reopened.delete(first.id)
    assert [c.id for c in reopened.list()] == [second.id]
    with pytest.raises(NotFound):
        reopened.get(first.id)
    assert not list(settings.conversations_dir.glob("*.tmp"))


def test_search_titles_and_messages_case_insensitively(settings):
    store = ConversationStore(settings.conversations_dir)
    a = store.create(title="Deployment notes")
    b = store.create(title="杂项")
    exchange(store, b.id, "什么是 PagedAttention？", "一种显存管理方法。")
    assert [c.id for c in store.search("deployment")] == [a.id]
    assert [c.id for c in store.search("显存")] == [b.id]
    assert [c.id for c in store.search("pagedattention")] == [b.id]
    assert store.search("nothing like this") == []
    assert len(store.search("  ")) == 2


def test_history_keeps_the_last_turns(settings):
    store = ConversationStore(settings.conversations_dir)
    conversation = store.create()
    for i in range(5):
        exchange(store, conversation.id, f"q{i}", f"a{i}")
    history = store.get(conversation.id).history(2)
    assert [m["content"] for m in history] == ["q3", "a3", "q4", "a4"]
    assert store.get(conversation.id).history(0) == []


def test_export_markdown_with_sources(settings):
    store = ConversationStore(settings.conversations_dir)
    conversation = store.create(title="Memo", mode="kb", kb="docs")
    exchange(store, conversation.id, "How many bottles?", "20,000 [1].", model="m1", sources=[SOURCE])
    exchange(store, conversation.id, "And laptops?", "200", model="m1", cancelled=True)
    text = store.export_markdown(conversation.id)
    assert text.startswith("# Memo\n\nKnowledge base: docs\n")
    assert "**You**" in text and "**Assistant** (m1)" in text
    assert "> [1] memo.pdf, page 2: 20,000 bottles" in text
    assert "200 *(stopped)*" in text


def test_bad_ids_titles_and_damaged_files(settings):
    store = ConversationStore(settings.conversations_dir)
    good = store.create(title="fine")
    with pytest.raises(NotFound, match="not a conversation id"):
        store.get("../../etc/passwd")
    with pytest.raises(ChatchatError, match="title cannot be empty"):
        store.rename(good.id, "   ")
    with pytest.raises(ChatchatError, match="needs a knowledge base"):
        store.create(mode="kb")
    damaged = settings.conversations_dir / "0123456789abcdef.json"
    damaged.write_text('{"id": "0123456789abcdef", "title": ')
    assert [c.id for c in store.list()] == [good.id]
    with pytest.raises(ChatchatError, match="0123456789abcdef.json is damaged"):
        store.get("0123456789abcdef")
    assert damaged.read_text() == '{"id": "0123456789abcdef", "title": '  # left for the user to inspect


def test_file_chat_owns_a_temporary_knowledge_base(settings, services):
    store = services.conversations
    conversation = store.create()
    results = services.attach_files(conversation.id, [UNSTRUCTURED_DOCS / "fake-text.txt"])
    assert [r.status for r in results] == ["added"]
    loaded = store.get(conversation.id)
    assert loaded.mode == "file" and loaded.temp_kb == CONVERSATION_KB_PREFIX + conversation.id
    assert services.store.exists(loaded.temp_kb) and services.kb_info(loaded.temp_kb).owner == f"conversation:{conversation.id}"
    assert loaded.temp_kb not in [kb.name for kb in services.list_kbs()]  # internal: never listed
    assert services.search(loaded.temp_kb, "test", top_k=1)
    services.delete_conversation(conversation.id)
    assert not services.store.exists(loaded.temp_kb) and not store.exists(conversation.id)


def test_files_attach_only_to_a_conversation_that_exists(settings, services):
    with pytest.raises(NotFound):
        services.attach_files("0123456789abcdef", [UNSTRUCTURED_DOCS / "fake-text.txt"])
    assert services.internal_kbs("conversation:") == []
    store = ConversationStore(settings.conversations_dir)  # persistence alone: no service, no knowledge base
    conversation = store.create()
    assert store.get(conversation.id).temp_kb is None
    store.delete(conversation.id)
    with pytest.raises(NotFound):
        store.delete(conversation.id)
