"""Feedback on an answer by its place in a conversation: /api/conversations/{id}/messages/{index}/feedback
(the seed's /chat/feedback rates by message_id). Thin over chatchat.answer.feedback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path as PathParam
from pydantic import BaseModel, Field, model_validator

from chatchat.answer.conversations import ChatMessage
from chatchat.answer.feedback import Rating, answer_at, rate_answer, rating_of, score_of
from chatchat.api.deps import get_services
from chatchat.api.schemas import Int, RequestModel
from chatchat.service import Services

router = APIRouter(prefix="/api/conversations", tags=["Feedback"])
ConversationId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$", description="a conversation's id")]
Index = Annotated[int, PathParam(ge=0, le=100_000, description="the answer's place in the conversation, from 0")]


class FeedbackIn(RequestModel):
    """A thumb (`rating`) or a score 0–100 (`score`, as /chat/feedback), not both; an optional reason."""

    rating: Rating | None = Field(None, description="up (score 100) or down (score 0)")
    score: Int | None = Field(None, ge=0, le=100, description="0–100, higher is better; 50 or more reads as up")
    reason: str = Field("", max_length=4000)

    @model_validator(mode="after")
    def _one_of(self) -> "FeedbackIn":
        if (self.rating is None) == (self.score is None):
            raise ValueError("send either rating (up or down) or score (0–100)")
        return self

    def given_score(self) -> int:
        return self.score if self.score is not None else score_of(self.rating or "down")


class FeedbackOut(BaseModel):
    conversation_id: str
    index: int
    message_id: str
    rating: Rating | None = Field(description="null: not rated yet")
    score: int | None
    reason: str
    created: str | None = Field(description="when the rating was given (UTC, ISO 8601)")


def _out(conversation_id: str, index: int, message: ChatMessage) -> FeedbackOut:
    given = message.feedback
    return FeedbackOut(conversation_id=conversation_id, index=index, message_id=message.id,
                       rating=rating_of(given) if given else None, score=given.score if given else None,
                       reason=given.reason if given else "", created=given.created if given else None)


@router.get("/{conversation_id}/messages/{index}/feedback", response_model=FeedbackOut, summary="An answer's rating")
def get_feedback(conversation_id: ConversationId, index: Index, services: Services = Depends(get_services)) -> FeedbackOut:
    return _out(conversation_id, index, answer_at(services.conversations.get(conversation_id), index))


@router.post("/{conversation_id}/messages/{index}/feedback", response_model=FeedbackOut,
             summary="Rate an answer: thumbs up or down (or a score 0–100) and an optional reason")
def post_feedback(conversation_id: ConversationId, index: Index, body: FeedbackIn,
                  services: Services = Depends(get_services)) -> FeedbackOut:
    message = rate_answer(services.conversations, conversation_id, index, body.given_score(), body.reason)
    return _out(conversation_id, index, message)
