"""The Chat page's own logic without a browser, on real services over a tmp data dir with a real PDF
(../shared/docs): citation markers drawn as chips that link to their source, the thumbs the chatbot shows
from what is stored, which answer a chatbot message belongs to, "add to test set", and the source viewer
(the page image of a PDF passage; a deleted document says so instead of showing a stale page; a Space
visitor reaches only their own conversations). The browser tests are test_citations_browser.py."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import gradio as gr
import pytest

from chatchat.answer.conversations import ChatMessage
from chatchat.answer.feedback import rate_answer
from chatchat.errors import InvalidName, NotFound
from chatchat.evaluation import runs
from chatchat.policy import Caller, SpacePolicy
from chatchat.service import Services
from chatchat.ui.chat_feedback import add_to_test_set, answer_index
from chatchat.ui.chat_views import render, thumbs
from chatchat.ui.source_viewer import SourceViewer
from conftest import UNSTRUCTURED_DOCS

MEMO = UNSTRUCTURED_DOCS / "fake-memo.pdf"
QUESTION = "How many bottles of water were delivered?"


@pytest.fixture
def memo(services):
    """A knowledge base holding the memo, and a source of it as an answer stores one."""
    services.create_kb("memo")
    services.add_files("memo", [MEMO])
    hit = services.search("memo", "bottles of water delivered")[0]
    source = {"index": 1, "kb": hit.kb, "file": hit.file, "page": hit.page, "section": hit.section,
              "snippet": hit.text[:80], "score": hit.score, "chunk_index": hit.chunk_index, "doc_id": hit.doc_id}
    return services, source


def exchange(services: Services, answer: str, sources: list[dict], kb: str | None = "memo") -> tuple[str, ChatMessage]:
    conversation = services.conversations.create(mode="kb" if kb else "llm", kb=kb)
    reply = ChatMessage(role="assistant", content=answer, sources=sources)
    services.conversations.add_exchange(conversation.id, ChatMessage(role="user", content=QUESTION), reply)
    return conversation.id, reply


def test_markers_are_chips_linked_to_their_source_and_others_stay_text(memo):
    services, source = memo
    cid, reply = exchange(services, "There were 20,000 bottles [1]. And more [2].", [source])
    messages = render(services.conversations.get(cid), "en")
    link = f"#cc-source/{reply.id}/1"
    assert messages[1]["content"] == (f'There were 20,000 bottles <a class="cc-cite" href="{link}" '
                                      f'title="fake-memo.pdf · page 1">1</a>. And more [2].')
    assert f'<a class="cc-source" href="{link}"' in messages[2]["content"]  # the source line opens it too
    assert "fake-memo.pdf" in messages[2]["content"] and messages[2]["metadata"]["title"] == "Sources (1)"


def test_a_web_answer_s_markers_open_the_page_itself(memo):
    services, source = memo
    page = {**source, "kb": "", "file": "Example", "page": None, "url": "https://example.org/a?b=1&c=2"}
    hostile = {**page, "index": 2, "url": "javascript:alert(1)"}
    cid, reply = exchange(services, "One [1]. Two [2].", [page, hostile], kb=None)
    text = render(services.conversations.get(cid), "en")[1]["content"]
    assert 'href="https://example.org/a?b=1&amp;c=2"' in text
    assert "javascript:" not in text and f'href="#cc-source/{reply.id}/2"' in text


def test_thumbs_and_the_answer_a_chatbot_message_belongs_to(memo):
    services, source = memo
    cid, _ = exchange(services, "First [1].", [source])
    services.conversations.add_exchange(cid, ChatMessage(role="user", content="And?"),
                                        ChatMessage(role="assistant", content="Second.", sources=[source]))
    conversation = services.conversations.get(cid)
    assert [m["role"] for m in render(conversation, "en")] == ["user", "assistant", "assistant", "user", "assistant",
                                                                "assistant"]
    assert answer_index(conversation, 4, "en") == answer_index(conversation, 5, "en") == 3  # text, sources
    assert answer_index(conversation, 1, "en") == 1
    with pytest.raises(InvalidName, match="only answers are rated"):
        answer_index(conversation, 3, "en")
    assert thumbs(conversation) == [None, None]
    rate_answer(services.conversations, cid, 3, 0, "wrong number")
    assert thumbs(services.conversations.get(cid)) == [None, "Dislike"]  # one pair of thumbs per answer group


def test_an_answer_joins_its_knowledge_base_s_test_set_but_a_file_chat_s_does_not(memo, tmp_path):
    services, source = memo
    cid, _ = exchange(services, "There were 20,000 bottles [1].", [source])
    kb = add_to_test_set(services, services.conversations.get(cid), 1, "20,000 bottles", Caller(), "en")
    assert kb == "memo"
    [item] = runs.testset_of(services, "memo").items()
    assert (item.question, item.answers, item.source) == (QUESTION, ["20,000 bottles"], "fake-memo.pdf")
    chat = services.conversations.create()
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe warehouse keeps 300 blankets for emergencies.\n", encoding="utf-8")
    services.attach_files(chat.id, [note])
    internal = services.conversations.get(chat.id).temp_kb
    hit = services.search(internal, "blankets")[0]
    own = {**source, "kb": internal, "file": hit.file, "chunk_index": hit.chunk_index, "doc_id": hit.doc_id}
    services.conversations.add_exchange(chat.id, ChatMessage(role="user", content="Blankets?"),
                                        ChatMessage(role="assistant", content="300 [1].", sources=[own]))
    with pytest.raises(InvalidName, match="knowledge bases can join a test set"):
        add_to_test_set(services, services.conversations.get(chat.id), 1, "300", Caller(), "en")


def viewer_of(services: Services) -> SourceViewer:
    with gr.Blocks():
        return SourceViewer(services, gr.State(None), gr.Radio(["en", "zh"], value="en"))


def test_the_viewer_shows_the_pdf_page_and_a_deleted_document_is_not_shown_stale(memo):
    services, source = memo
    cid, reply = exchange(services, "There were 20,000 bottles [1].", [source])
    viewer = viewer_of(services)
    shown = viewer.open_link(f"#cc-source/{reply.id}/1", cid, "zh", Caller())
    assert "[1] fake-memo.pdf" in shown[viewer.head] and "第 1 页" in shown[viewer.head]
    data = re.search(r'src="data:image/png;base64,([^"]+)"', shown[viewer.body]).group(1)
    assert base64.b64decode(data).startswith(b"\x89PNG")
    original = Path(shown[viewer.original]["value"])
    assert original.read_bytes() == MEMO.read_bytes()
    assert "/api/knowledge_bases/memo/documents/fake-memo.pdf/original#page=1" in shown[viewer.page_link]
    with pytest.raises(NotFound):
        viewer.open_link(f"#cc-source/{reply.id}/2", cid, "en", Caller())  # the answer has no source 2
    services.remove_document("memo", "fake-memo.pdf")
    gone = viewer.open_link(f"#cc-source/{reply.id}/1", cid, "en", Caller())
    assert "data:image" not in gone[viewer.body] and "cc-viewer-gone" in gone[viewer.body]
    assert gone[viewer.original]["value"] is None and gone[viewer.page_link] == ""


def test_on_a_space_a_visitor_opens_only_the_sources_of_their_own_conversations(memo, settings):
    _, source = memo
    space = Services.open(settings, policy=SpacePolicy(protected=frozenset({"memo"})))
    cid, reply = exchange(space, "There were 20,000 bottles [1].", [source])
    space.policy.started_conversation(Caller("visitor-1"), cid)
    viewer = viewer_of(space)
    assert "fake-memo.pdf" in viewer.open_link(f"#cc-source/{reply.id}/1", cid, "en", Caller("visitor-1"))[viewer.head]
    with pytest.raises(NotFound):
        viewer.open_link(f"#cc-source/{reply.id}/1", cid, "en", Caller("visitor-2"))
