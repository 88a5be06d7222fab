"""Model servers the user runs (Ollama, vLLM, Xinference, LM Studio, LocalAI, llama.cpp server, FastChat's
OpenAI server: the `discover: true` presets of models.yaml), and any provider's own list: what a server offers,
from its GET /models, and adding one of its models to the user's catalog as a chat or embedding model.

Nothing here runs until the user asks (the Models tab's List button, `chatchat models discover`). Every
failure is a ProviderError with an i18n key that names the server, the address and what to check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from chatchat.config import Settings
from chatchat.errors import ModelError, ProviderError
from chatchat.llm.openai_engine import check_address, client_for
from chatchat.models.catalog import Catalog, ProviderEntry, safe_id
from chatchat.models.user_catalog import put_entry

DISCOVERY_TIMEOUT = 5.0  # seconds for GET /models: a server on this network answers at once or not at all
PROBE_TIMEOUT = 30.0  # one embedding of one short text, to learn the dimension (the model may load first)

Kind = Literal["chat", "embedding", "rerank", "other"]
# what servers that say so call their models' types: Xinference's model_type, LM Studio's type
_KINDS: dict[str, Kind] = {"llm": "chat", "vlm": "chat", "chat": "chat", "embedding": "embedding",
                           "embeddings": "embedding", "rerank": "rerank"}
_CONTEXT_FIELDS = ("max_model_len", "context_length", "max_context_length")  # vLLM, Xinference, LM Studio


@dataclass(frozen=True)
class ServedModel:
    id: str
    kind: Kind | None  # what the server says the model is; None where it does not say (most servers)
    context: int | None  # the context length the server reports, if it does
    dim: int | None  # an embedding model's dimension, where the server reports it (Xinference)


def with_address(provider: ProviderEntry, base_url: str | None) -> ProviderEntry:
    """The provider at the address the user typed (blank: its own), checked to be an http(s) address."""
    base_url = (base_url or "").strip()
    if not base_url or base_url == provider.base_url:
        return provider
    if not re.fullmatch(r"https?://[^/\s{}]+(/\S*)?", base_url):
        raise ProviderError(f"'{base_url}' is not a server address: give one like http://127.0.0.1:11434/v1.",
                            key="discovery_bad_address", url=base_url)
    return provider.model_copy(update={"base_url": base_url})


def _kind(item: dict[str, Any]) -> Kind | None:
    said = item.get("model_type") or item.get("type")
    if not isinstance(said, str):
        return None
    return _KINDS.get(said.lower(), "other")


def _number(item: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = item.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def list_models(provider: ProviderEntry, api_key: str | None, timeout: float = DISCOVERY_TIMEOUT) -> list[ServedModel]:
    """What the server at the provider's address offers (GET <base_url>/models, with the key as a Bearer token
    if there is one), in the server's order."""
    name, url = provider.name, provider.base_url
    if provider.api == "azure":
        raise ProviderError("Azure OpenAI does not list your deployments: type a deployment name and add it.",
                            key="discovery_azure")
    check_address(provider)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(url.rstrip("/") + "/models", headers=headers, timeout=timeout, follow_redirects=True)
    except httpx.TimeoutException as exc:
        raise ProviderError(f"{name} at {url} did not answer within {timeout:g} s.", key="discovery_timeout",
                            provider=name, url=url, timeout=f"{timeout:g}") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        detail = str(exc) or type(exc).__name__
        raise ProviderError(f"Cannot reach {name} at {url}: is the server running, and is the address right? ({detail})",
                            key="discovery_unreachable", provider=name, url=url, detail=detail) from exc
    status = response.status_code
    if status in (401, 403):
        var = provider.key_env or "—"
        raise ProviderError(f"{name} at {url} refused the key ({status}): add or check it in Settings → Providers "
                            f"(variable {var}).", key="discovery_key_rejected", provider=name, url=url,
                            status=status, var=var)
    if status >= 400:
        raise ProviderError(f"{name} at {url} answered {status} to GET /models: is this its OpenAI-compatible "
                            "address (most end in /v1)?", key="discovery_status", provider=name, url=url, status=status)
    try:
        body = response.json()
    except ValueError:
        body = None
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items):
        raise ProviderError(f"{url} answered, but not with an OpenAI-style model list: is this the OpenAI-compatible "
                            "address (most end in /v1)?", key="discovery_not_openai", url=url)
    return [ServedModel(item["id"], _kind(item), _number(item, *_CONTEXT_FIELDS), _number(item, "dimensions"))
            for item in items]


def embedding_dim(provider: ProviderEntry, api_key: str | None, model: str, timeout: float = PROBE_TIMEOUT) -> int:
    """The dimension of a provider's embedding model: one short text embedded, its vector's length."""
    import openai

    client = client_for(provider, api_key, timeout)
    try:
        response = client.embeddings.create(model=model, input=["dimension probe"])
        return len(response.data[0].embedding)
    except (openai.OpenAIError, IndexError, TypeError) as exc:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ProviderError(f"{provider.name} did not embed with '{model}' ({detail}): is it an embedding model the "
                            "server has loaded?", key="discovery_embed_failed", provider=provider.name, model=model,
                            detail=detail) from exc
    finally:
        client.close()


def add_served(
    settings: Settings,
    catalog: Catalog,
    provider: ProviderEntry,
    model: str,
    kind: Literal["llm", "embedding"],
    *,
    api_key: str | None = None,
    context: int | None = None,
    dim: int | None = None,
) -> str:
    """Add a provider's model to the user's models.yaml as a chat (`llm`) or embedding model and return its id;
    an embedding model's dimension comes from `dim`, the preset, or one probe. A provider at another address
    than the catalog's (`with_address`) is saved with it. The caller brings its catalog up to date."""
    model = (model or "").strip()
    if not model:
        raise ModelError("Type or pick a model name first.", key="served_model_name")
    if kind == "embedding":
        dim = dim or provider.embedding_models.get(model) or embedding_dim(provider, api_key, model)
    if catalog.providers.get(provider.id) != provider:
        put_entry(settings, "providers", provider.model_dump(exclude_defaults=True))
    model_id = safe_id(f"{provider.id}-{model}")
    data: dict[str, Any] = {"id": model_id, "name": f"{model} ({provider.name})", "provider": provider.id, "model": model}
    if kind == "llm":
        data["engine"] = "openai"
        if context:
            data["context"] = context
        put_entry(settings, "llms", data)
    else:
        put_entry(settings, "embeddings", {**data, "dim": dim})
    return model_id
