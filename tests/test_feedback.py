"""Feedback on answers: thumbs or a score and a reason, kept with the answer and its sources in the
conversation file; over HTTP (the real app on a loopback port) by the seed's /chat/feedback and by
/api/conversations/{id}/messages/{index}/feedback; one line of it in the export."""

from __future__ import annotations

import httpx
import pytest

from api_server import api_settings, running
from chatchat.answer.conversations import ChatMessage, Feedback
from chatchat.answer.feedback import answer_at, feedback_markdown, rate_answer, rating_of
from chatchat.errors import ChatchatError, NotFound
from chatchat.service import Services

SOURCES = [{"index": 1, "kb": "资料", "file": "langchain.pdf", "page": 5, "section": None,
            "snippet": "Once LLMs can be utilized to process data…", "score": 0.71, "chunk_index": 40}]


def conversation_with_answer(services: Services) -> str:
    store = services.conversations
    conversation = store.create(mode="kb", kb="资料")
    store.add_message(conversation.id, ChatMessage(role="user", content="What can LLM apps do with documents?"))
    store.add_message(conversation.id, ChatMessage(role="assistant", content="They answer questions about them [1].",
                                                   model="smollm2-135m-instruct", sources=SOURCES))
    return conversation.id


def test_a_thumb_and_its_reason_are_kept_with_the_answer_and_its_sources(services):
    conversation_id = conversation_with_answer(services)
    rated = rate_answer(services.conversations, conversation_id, 1, 0, "  wrong page  ")
    assert (rated.feedback.score, rated.feedback.reason, rating_of(rated.feedback)) == (0, "wrong page", "down")
    # a fresh store reads it back from the file, the sources still beside it
    again = type(services.conversations)(services.settings.conversations_dir).get(conversation_id).messages[1]
    assert again.feedback == rated.feedback and again.sources == SOURCES
    assert rate_answer(services.conversations, conversation_id, 1, 100).feedback.reason == ""  # replaced
    assert rating_of(answer_at(services.conversations.get(conversation_id), 1).feedback) == "up"


def test_only_answers_that_exist_can_be_rated(services):
    conversation_id = conversation_with_answer(services)
    with pytest.raises(ChatchatError, match="is a question"):
        rate_answer(services.conversations, conversation_id, 0, 100)
    with pytest.raises(NotFound):
        rate_answer(services.conversations, conversation_id, 2, 100)
    with pytest.raises(NotFound):
        rate_answer(services.conversations, "0" * 16, 1, 100)


def test_feedback_reads_as_one_export_line():
    answer = ChatMessage(role="assistant", content="…")
    assert feedback_markdown(answer) == ""
    answer.feedback = Feedback(score=100, reason="清楚\n准确")
    assert feedback_markdown(answer) == "👍 100/100 — 清楚 准确"
    answer.feedback = Feedback(score=30)
    assert feedback_markdown(answer) == "👎 30/100"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = api_settings(tmp_path_factory.mktemp("api-feedback") / "home")
    services = Services.open(settings)
    with running(settings, services) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client, services


def test_feedback_over_the_api_and_the_seeds_route_rate_the_same_answer(app):
    client, services = app
    conversation_id = conversation_with_answer(services)
    route = f"/api/conversations/{conversation_id}/messages/1/feedback"
    unrated = client.get(route).json()
    assert (unrated["rating"], unrated["score"], unrated["created"]) == (None, None, None)

    given = client.post(route, json={"rating": "down", "reason": "引用的页码不对"})
    assert given.status_code == 200, given.text
    body = given.json()
    assert (body["rating"], body["score"], body["reason"], body["index"]) == ("down", 0, "引用的页码不对", 1)
    stored = services.conversations.get(conversation_id).messages[1]
    assert stored.feedback.reason == "引用的页码不对" and stored.sources == SOURCES
    assert body["message_id"] == stored.id

    seed = client.post("/chat/feedback", json={"message_id": conversation_id + stored.id, "score": 90, "reason": "好"}).json()
    assert seed["code"] == 200
    assert client.get(route).json() | {"created": None} == {
        "conversation_id": conversation_id, "index": 1, "message_id": stored.id, "rating": "up", "score": 90,
        "reason": "好", "created": None}


@pytest.mark.parametrize("body", [{}, {"rating": "up", "score": 100}, {"rating": "meh"}, {"score": 101},
                                  {"score": "90"}, {"rating": "up", "reason": "x" * 4001}])
def test_a_malformed_rating_is_refused(app, body):
    client, services = app
    route = f"/api/conversations/{conversation_with_answer(services)}/messages/1/feedback"
    refused = client.post(route, json=body)
    assert refused.status_code == 400, refused.text


def test_rating_a_question_or_a_missing_answer_is_refused(app):
    client, services = app
    conversation_id = conversation_with_answer(services)
    question = client.post(f"/api/conversations/{conversation_id}/messages/0/feedback", json={"rating": "up"})
    assert question.status_code == 400 and "question" in question.json()["error"]["message"]
    for route in (f"/api/conversations/{conversation_id}/messages/5/feedback", "/api/conversations/" + "a" * 16 + "/messages/1/feedback"):
        assert client.post(route, json={"rating": "up"}).status_code == 404
    assert client.post("/api/conversations/../messages/1/feedback", json={"rating": "up"}).status_code == 404


def test_feedback_needs_the_key_when_one_is_set(app):
    client, services = app
    route = f"/api/conversations/{conversation_with_answer(services)}/messages/1/feedback"
    services.settings.api_key = "s3cret"
    try:
        assert client.post(route, json={"rating": "up"}).status_code == 401
        assert client.get(route).status_code == 401
        assert client.post(route, json={"rating": "up"}, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    finally:
        services.settings.api_key = ""
