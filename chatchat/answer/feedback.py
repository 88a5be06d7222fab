"""Feedback on answers: thumbs up or down and an optional reason, kept with the answer in its conversation
(ChatMessage.feedback, beside the answer's sources). The seed API rates with a score 0–100
(/chat/feedback); a thumb is a score too: up is 100, down is 0, and a score of 50 or more reads as up.
"""

from __future__ import annotations

from typing import Literal

from chatchat.answer.conversations import ChatMessage, Conversation, ConversationStore, Feedback
from chatchat.errors import ChatchatError, NotFound

Rating = Literal["up", "down"]
SCORES: dict[Rating, int] = {"up": 100, "down": 0}
UP_FROM = 50


def score_of(rating: Rating) -> int:
    return SCORES[rating]


def rating_of(feedback: Feedback) -> Rating:
    return "up" if feedback.score >= UP_FROM else "down"


def answer_at(conversation: Conversation, index: int) -> ChatMessage:
    """Message `index` (0-based, in conversation order) of the conversation, which must be an answer."""
    if not 0 <= index < len(conversation.messages):
        raise NotFound(f"Conversation '{conversation.id}' has no message {index}: it has {len(conversation.messages)}.")
    message = conversation.messages[index]
    if message.role != "assistant":
        raise ChatchatError(f"Message {index} of conversation '{conversation.id}' is a question: only answers are rated.")
    return message


def rate_answer(store: ConversationStore, conversation_id: str, index: int, score: int, reason: str = "") -> ChatMessage:
    """Keep `score` (0–100) and `reason` with answer `index` of the conversation (replacing an earlier
    rating); returns the answer as now stored."""
    message = answer_at(store.get(conversation_id), index)
    store.rate(conversation_id, message.id, score, reason.strip())
    return answer_at(store.get(conversation_id), index)


def feedback_markdown(message: ChatMessage) -> str:
    """An answer's feedback as one line for the Markdown export ('' without feedback): the thumb, the
    score and the reason."""
    feedback = message.feedback
    if feedback is None:
        return ""
    thumb = "👍" if rating_of(feedback) == "up" else "👎"
    reason = " ".join(feedback.reason.split())
    return f"{thumb} {feedback.score}/100" + (f" — {reason}" if reason else "")
