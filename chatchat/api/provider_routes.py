"""Providers and the model servers a user runs, over the API: /api/providers lists the catalog's presets (nothing
is contacted); GET /api/providers/{id}/models asks that server's GET /models at its saved address, and POST there
adds one of its models as a chat or embedding model (chatchat.models.discovery). Only where the policy lets models
be managed (not on a Space): asking a server is a request this machine makes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from chatchat.api.deps import get_services
from chatchat.api.errors import ApiError
from chatchat.api.schemas import RequestModel
from chatchat.config import KeyStore
from chatchat.models.catalog import ProviderEntry
from chatchat.models.discovery import add_served, list_models
from chatchat.service import Services

router = APIRouter(prefix="/api/providers", tags=["Providers"])


class ProviderOut(BaseModel):
    id: str
    name: str
    base_url: str
    discover: bool = Field(description="a server you run: its models come from GET /api/providers/{id}/models")
    api: Literal["openai", "azure"]
    key_set: bool = Field(description="a key is saved or in its environment variable")
    chat_models: list[str]
    embedding_models: dict[str, int]


class ProviderList(BaseModel):
    data: list[ProviderOut]


class ServedOut(BaseModel):
    id: str
    kind: Literal["chat", "embedding", "rerank", "other"] | None = Field(description="null: the server does not say")
    context: int | None
    dim: int | None


class ServedList(BaseModel):
    provider: str
    base_url: str
    data: list[ServedOut]


class ServedIn(RequestModel):
    model: str = Field(min_length=1, max_length=300, description="the server's name for it (or an Azure deployment)")
    kind: Literal["llm", "embedding"] = "llm"


class ServedAdded(BaseModel):
    id: str = Field(description="the catalog id: use it as a chat model or a knowledge base's embedding model")
    kind: Literal["llm", "embedding"]


def _managed(services: Services, provider_id: str) -> tuple[ProviderEntry, str | None]:
    if not services.policy.may_manage_models():
        raise ApiError("Models are managed by this server's owner here.", status=403, code="forbidden")
    provider = services.catalog.provider(provider_id)
    return provider, KeyStore(services.settings.home).get(provider.id, provider.key_env)


@router.get("", response_model=ProviderList, summary="The providers and model-server presets (nothing is contacted)")
def list_providers(services: Services = Depends(get_services)) -> ProviderList:
    keys = KeyStore(services.settings.home)
    return ProviderList(data=[
        ProviderOut(id=p.id, name=p.name, base_url=p.base_url, discover=p.discover, api=p.api,
                    key_set=keys.get(p.id, p.key_env) is not None, chat_models=p.chat_models,
                    embedding_models=p.embedding_models)
        for p in services.catalog.providers.values()])


@router.get("/{provider_id}/models", response_model=ServedList, summary="What the provider's server offers now")
def provider_models(provider_id: str, services: Services = Depends(get_services)) -> ServedList:
    provider, key = _managed(services, provider_id)
    served = list_models(provider, key)
    return ServedList(provider=provider.id, base_url=provider.base_url,
                      data=[ServedOut(id=m.id, kind=m.kind, context=m.context, dim=m.dim) for m in served])


@router.post("/{provider_id}/models", response_model=ServedAdded, status_code=201,
             summary="Add one of the provider's models as a chat or embedding model")
def add_provider_model(provider_id: str, body: ServedIn, services: Services = Depends(get_services)) -> ServedAdded:
    provider, key = _managed(services, provider_id)
    model_id = add_served(services.settings, services.catalog, provider, body.model, body.kind, api_key=key)
    services.models.reload()
    return ServedAdded(id=model_id, kind=body.kind)
