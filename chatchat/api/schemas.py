"""Request and response models of the API. Limits here are what the OpenAPI spec advertises and
what every request is validated against before any service is called."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# \w is Unicode-aware (letters and digits of any script): what chatchat.retrieval.store.check_kb_name accepts
KB_NAME_PATTERN = r"^[\w-][\w .-]{0,63}$"
KB_NAME_HELP = "knowledge-base name: 1–64 letters of any script, digits, space, _ - . (not starting with . or space)"
KBName = Annotated[str, Field(pattern=KB_NAME_PATTERN, description=KB_NAME_HELP, examples=["samples"])]


def _integral(value: Any) -> Any:
    """JSON Schema counts 3.0 as an integer; strict pydantic would not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# bounds come before the validator: that order keeps them as minimum/maximum in the JSON schema
INTEGRAL = BeforeValidator(_integral)
Int = Annotated[int, INTEGRAL]
TopK = Annotated[int, Field(ge=1, le=100), INTEGRAL]


class RequestModel(BaseModel):
    """Request bodies: strict types (no "5" for 5, no false for 0), so what the spec says is what passes."""

    model_config = ConfigDict(strict=True)


# --- knowledge bases ----------------------------------------------------------------------------
class KnowledgeBaseOut(BaseModel):
    name: str
    description: str
    embedding: str = Field(description="catalog id of the embedding model the knowledge base is built with")
    dim: int
    chunk_size: int
    chunk_overlap: int
    title_enhance: bool
    created: str


class KnowledgeBaseList(BaseModel):
    object: Literal["list"] = "list"
    data: list[KnowledgeBaseOut]


class CreateKnowledgeBase(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: KBName
    description: str = Field("", max_length=4000)
    embedding: str | None = Field(None, max_length=128, description="embedding model id; default: settings.default_embedding")
    chunk_size: Annotated[int, Field(ge=50, le=8000), INTEGRAL] | None = None
    chunk_overlap: Annotated[int, Field(ge=0, le=4000), INTEGRAL] | None = Field(None, description="must be smaller than chunk_size; default: "
                                      "settings.chunk_overlap, or a fifth of a chunk_size it does not fit")


class Deleted(BaseModel):
    id: str
    object: str
    deleted: bool = True


class DocumentOut(BaseModel):
    file: str
    doc_id: str
    sha256: str
    size: int
    pages: int | None
    chunks: int
    status: str = Field(description="ingesting | ready | failed")
    error: str | None
    added: str


class DocumentList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DocumentOut]


class FileResultOut(BaseModel):
    file: str
    status: str = Field(description="added | replaced | unchanged | failed | cancelled")
    chunks: int
    pages: int | None
    error: str | None


class IngestResults(BaseModel):
    knowledge_base: str
    results: list[FileResultOut]


class HitOut(BaseModel):
    text: str
    file: str
    page: int | None
    section: str | None
    score: float = Field(description="cosine similarity of query and chunk, -1..1 (the BM25 score in full-text "
                               "mode; 0 when listing chunks)")
    doc_id: str
    chunk_index: int
    kb: str
    relevance: float = Field(0.0, description="what the results are ordered by: in hybrid mode the fused score, 0–1 "
                             "(1: best of this search by vector and full text); in vector mode the cosine; in "
                             "full-text mode the BM25 score over the best hit's")


class HitList(BaseModel):
    object: Literal["list"] = "list"
    data: list[HitOut]


class SearchRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=8000)
    top_k: TopK | None = None
    score_threshold: float | None = Field(None, ge=-1.0, le=1.0, description="minimum cosine similarity")
    mode: Literal["hybrid", "vector", "fulltext"] | None = None
    files: list[str] | None = Field(None, max_length=1000, description="search only these documents")
    knowledge_bases: list[KBName] | None = Field(
        None, max_length=20, description="more knowledge bases to search with this one; ranks are fused across them"
    )


# --- OpenAI: models and embeddings --------------------------------------------------------------
class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    kind: Literal["local", "cloud", "knowledge_base", "embedding"]
    description: str = ""


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


MAX_EMBED_INPUTS = 2048
MAX_EMBED_CHARS = 32_000


class EmbeddingRequest(RequestModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1, max_length=256)
    input: str | list[str] | list[int] | list[list[int]] = Field(
        description=f"text or up to {MAX_EMBED_INPUTS} texts (token arrays are not accepted)"
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(ge=1), INTEGRAL] | None = None
    user: str | None = None


class EmbeddingOut(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int
    completion_tokens: int | None = None


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingOut]
    model: str
    usage: Usage
