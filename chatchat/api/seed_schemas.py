"""Request and response bodies of the Langchain-Chatchat 0.2.x routes, with the seed's field names.
Fields the seed's `ApiRequest` sends that change nothing here are accepted and ignored (see docs/API.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from chatchat.api.chat_schemas import MAX_CONTENT_CHARS, MAX_MESSAGES
from chatchat.api.schemas import (
    KB_NAME_HELP,
    KB_NAME_PATTERN,
    MAX_EMBED_CHARS,
    Int,
    KBName,
    RequestModel,
    TopK,
)
from chatchat.retrieval.kb_info import MAX_NAME

SEED_EMBED_INPUTS = 64
SEED_EMBED_CHARS = 2000
DISTANCE_HELP = "seed semantics: a distance, lower = closer (1 - cosine); 2 keeps everything"


class BaseResponse(BaseModel):
    code: int = 200
    msg: str = "success"
    data: Any = None


class ListResponse(BaseResponse):
    data: list[str]


class SeedDocument(BaseModel):
    """langchain's Document as the seed returned it from search_docs, with its id and score."""

    page_content: str
    metadata: dict[str, Any]
    type: Literal["Document"] = "Document"
    id: str
    score: float


# --- knowledge bases ----------------------------------------------------------------------------
class SeedCreateKB(RequestModel):
    # a blank name passes, to get the seed's own answer instead of a pattern error
    knowledge_base_name: str = Field(pattern=rf"^\s*$|{KB_NAME_PATTERN}", max_length=MAX_NAME,
                                     description="the new knowledge base's name; " + KB_NAME_HELP)
    vector_store_type: str = Field("lancedb", max_length=64, description="ignored: always the embedded LanceDB")
    kb_info: str = Field("", max_length=4000)
    embed_model: str | None = Field(None, max_length=128)


class SeedKBName(RequestModel):
    knowledge_base_name: KBName


class SeedUpdateInfo(RequestModel):
    knowledge_base_name: KBName
    kb_info: str = Field(max_length=4000, description="the knowledge base's new description")


class SeedSearch(RequestModel):
    query: str = Field("", max_length=8000)
    knowledge_base_name: str = Field(max_length=MAX_NAME + 8, description="an unknown knowledge base finds nothing: []")
    top_k: TopK = 3
    score_threshold: float | None = Field(None, ge=0.0, le=2.0, description=DISTANCE_HELP)
    file_name: str = Field("", max_length=255, description="with an empty query: list the chunks of the documents "
                           "whose names match (SQL LIKE wildcards: % any text, _ one character)")
    metadata: dict[str, Any] = Field(default_factory=dict, description="with an empty query: only chunks whose "
                                     "metadata (source, page, section, doc_id, chunk_index) has these values")


class SeedFiles(RequestModel):
    knowledge_base_name: KBName
    file_names: list[str] = Field(min_length=1, max_length=1000)


class SeedRecreate(RequestModel):
    knowledge_base_name: KBName
    allow_empty_kb: bool = True


class SeedDocIn(RequestModel):
    page_content: str = Field(min_length=1, max_length=MAX_EMBED_CHARS)
    metadata: dict[str, Any] = Field(default_factory=dict, description="ignored: a chunk keeps its document's")


class SeedUpdateById(RequestModel):
    knowledge_base_name: KBName
    docs: dict[str, SeedDocIn] = Field(max_length=1000, description="chunk id (as search_docs returns it) -> its new text")


# --- chat ---------------------------------------------------------------------------------------
class SeedHistory(RequestModel):
    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=MAX_CONTENT_CHARS)


class SeedChat(RequestModel):
    """/chat/chat of Langchain-Chatchat 0.2.x (prompt_name is ignored)."""

    query: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS)
    conversation_id: str | None = Field(None, max_length=64, description="keep the exchange in this conversation "
                                        "(made on first use), so that /chat/feedback can rate its answer")
    history_len: Int = Field(-1, description="> 0, with conversation_id: take the last turns from the kept "
                             "conversation instead of `history`")
    history: list[SeedHistory] = Field(default_factory=list, max_length=MAX_MESSAGES)
    stream: bool = False
    model_name: str | None = Field(None, max_length=256)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: Int | None = Field(None, description="None or <= 0: the model's default answer length")
    prompt_name: str = Field("default", max_length=64)


class SeedKBChat(SeedChat):
    knowledge_base_name: KBName
    top_k: TopK = 3
    score_threshold: float | None = Field(None, ge=0.0, le=2.0, description=DISTANCE_HELP)


class SeedFileChat(SeedChat):
    knowledge_id: str = Field(min_length=1, max_length=64, description="the id /knowledge_base/upload_temp_docs returned")
    top_k: TopK = 3
    score_threshold: float | None = Field(None, ge=0.0, le=2.0, description=DISTANCE_HELP)


class SeedFeedback(RequestModel):
    message_id: str = Field(min_length=1, max_length=32)
    score: Int = Field(ge=0, le=100, description="0–100, higher is better")
    reason: str = Field("", max_length=4000)


# --- models, server, other ----------------------------------------------------------------------
class SeedModelName(RequestModel):
    model_name: str = Field(min_length=1, max_length=256)
    controller_address: str | None = Field(None, max_length=256, description="ignored: there is no controller")


class SeedChangeModel(SeedModelName):
    new_model_name: str = Field(min_length=1, max_length=256)


class SeedConfigTypes(RequestModel):
    types: list[Literal["local", "online", "worker"]] = Field(["local", "online"], max_length=3)


class SeedPromptTemplate(RequestModel):
    type: Literal["llm_chat", "knowledge_base_chat", "search_engine_chat", "agent_chat"] = "llm_chat"
    name: str = Field("default", max_length=64, description="default (Chinese), zh or en")


class SeedEmbedTexts(RequestModel):
    # smaller than /v1/embeddings' limits: the seed's clients embed a few texts at a time, and a full
    # batch of long texts takes minutes on a small CPU
    texts: list[Annotated[str, Field(min_length=1, max_length=SEED_EMBED_CHARS)]] = Field(min_length=1, max_length=SEED_EMBED_INPUTS)
    embed_model: str | None = Field(None, max_length=128, description="an embedding model id; default: settings.default_embedding")
    to_query: bool = Field(False, description="vectors for search queries (some models embed queries differently)")
