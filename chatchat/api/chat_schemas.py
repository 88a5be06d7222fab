"""Request models of the chat routes: OpenAI's chat completions, and the seed's /chat/… bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from chatchat.api.schemas import INTEGRAL, KBName, RequestModel, TopK

MAX_MESSAGES = 1000
MAX_CONTENT_CHARS = 200_000
MaxTokens = Annotated[int, Field(ge=1, le=131072), INTEGRAL]


class TextPart(RequestModel):
    type: Literal["text"]
    text: str = Field(max_length=MAX_CONTENT_CHARS)


class ChatMessageIn(RequestModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = Field(None, description="text, or a list of text parts (no images)")
    name: str | None = Field(None, max_length=256)

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(RequestModel):
    include_usage: bool = False


class ChatCompletionRequest(RequestModel):
    """OpenAI's fields that change the answer are honoured; others clients send (top_p, user, seed…)
    are accepted and ignored. `top_k`, `score_threshold` and `footnotes` apply to knowledge-base models."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1, max_length=256, description="an id from /v1/models; kb:<name> answers from a "
                       "knowledge base; web:<model> answers from web pages a search engine finds (web:: the default model)")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = Field(None, description="up to 4 sequences where the answer ends")
    n: Annotated[int, Field(ge=1, le=1), INTEGRAL] = Field(1, description="only 1 is supported")
    top_k: TopK | None = Field(None, description="knowledge-base models: passages to retrieve")
    score_threshold: float | None = Field(None, ge=-1.0, le=1.0, description="knowledge-base models: minimum cosine similarity")
    footnotes: bool = Field(False, description="knowledge-base models: append the sources as a Markdown block")
    web_provider: str | None = Field(
        None, max_length=32, description="web:<model>: the search engine (searxng, duckduckgo, bing, tavily, brave, "
        "exa); default: the one picked in Settings (web_provider)",
    )
    knowledge_bases: list[KBName] | None = Field(
        None, min_length=1, max_length=20,
        description="answer from these knowledge bases with `model` (like model kb:<a>,<b>); ranks are fused across them",
    )

    def stops(self) -> list[str]:
        items = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return [s for s in items if s][:4]
