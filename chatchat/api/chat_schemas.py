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


class FunctionCallIn(RequestModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=256)
    arguments: str = Field("{}", max_length=MAX_CONTENT_CHARS, description="the arguments as a JSON text")


class ToolCallIn(RequestModel):
    """A tool call of an earlier assistant message (OpenAI's shape), sent back with its result."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"] = "function"
    function: FunctionCallIn


class ChatMessageIn(RequestModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = Field(None, description="text, or a list of text parts (no images)")
    name: str | None = Field(None, max_length=256)
    tool_calls: list[ToolCallIn] | None = Field(None, max_length=128, description="assistant: the tools it called")
    tool_call_id: str | None = Field(None, max_length=256, description="tool: the call this is the result of")

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""

    def message(self) -> dict:
        """The message as the engines take it (OpenAI's shape; `developer` is a system message)."""
        data: dict = {"role": "system" if self.role == "developer" else self.role, "content": self.text()}
        if self.tool_calls:
            data["tool_calls"] = [call.model_dump() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        return data


class FunctionSpecIn(RequestModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = Field("", max_length=8000)
    parameters: dict = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolSpecIn(RequestModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["function"] = "function"
    function: FunctionSpecIn


class StreamOptions(RequestModel):
    include_usage: bool = False


class ChatCompletionRequest(RequestModel):
    """OpenAI's fields that change the answer are honoured; others clients send (top_p, user, seed…)
    are accepted and ignored. `top_k`, `score_threshold` and `footnotes` apply to knowledge-base models."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1, max_length=256, description="an id from /v1/models; kb:<name> answers from a "
                       "knowledge base; web:<model> answers from web pages a search engine finds; agent:<model> answers with "
                       "tools (agent: / web: alone: the default model)")
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

    tools: list[ToolSpecIn] | None = Field(None, max_length=128, description="plain models: functions the model may "
                                           "call (OpenAI semantics: its calls come back as message.tool_calls)")
    tool_choice: Literal["auto", "none", "required"] | dict | None = Field(None, description="with tools: OpenAI's tool_choice")
    approve_tools: bool = Field(False, description="agent:<model>: let tools marked 'ask before running' run "
                                "(without it they are refused: no one can be asked over the API)")

    def stops(self) -> list[str]:
        items = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return [s for s in items if s][:4]
