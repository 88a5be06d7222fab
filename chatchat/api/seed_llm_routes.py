"""Langchain-Chatchat 0.2.x model, server and other routes, in the seed's shapes: /llm_model/… over our
model manager (there is no FastChat controller: "running" models are the loaded ones and the default
model, which loads on first use), /server/… (settings, search engines, prompt templates) and
/other/embed_texts. All are POST, as in the seed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from chatchat.answer import prompts
from chatchat.api.deps import get_services
from chatchat.api.errors import ApiError
from chatchat.api.seed_schemas import (
    BaseResponse,
    SeedChangeModel,
    SeedConfigTypes,
    SeedEmbedTexts,
    SeedModelName,
    SeedPromptTemplate,
)
from chatchat.errors import NotFound
from chatchat.models.layout import installed_path
from chatchat.service import Services

router = APIRouter(tags=["Langchain-Chatchat 0.2.x compatible"])
SEARCH_ENGINES: list[str] = []  # web search is not part of this app (yet): the seed's engines are online services
TEMPLATE_LANGUAGES: dict[str, prompts.Language] = {"default": "zh", "zh": "zh", "en": "en"}


def model_config(services: Services, model_id: str) -> dict[str, Any]:
    """What the seed's get_model_config gave for a model, from our catalog (never a key or secret)."""
    try:
        ref = services.llms.resolve(model_id)
    except NotFound as exc:
        raise ApiError(exc.message, status=404, code="model_not_found", param="model_name") from exc
    reason = services.unusable_reason(ref.id)
    config: dict[str, Any] = {
        "engine": ref.engine,
        "online_api": not ref.local,
        "loaded": ref.id in services.llms.loaded(),
        "usable": reason is None,
        "unusable_reason": reason,
        "max_tokens": services.catalog.default_max_tokens(ref.id, services.settings.max_tokens),
    }
    if ref.local and ref.entry is not None:
        path = installed_path(services.settings, ref.entry)
        config.update(model_path=str(path) if path else None, model_path_exists=path is not None,
                      context=ref.entry.context, quantization=ref.entry.quantization, params_b=ref.entry.params_b)
    elif ref.provider is not None:
        config.update(provider=ref.provider.id, api_base_url=ref.provider.base_url, model=ref.remote_name)
    return config


def running_models(services: Services) -> list[str]:
    """The loaded models, and the default model when it can answer (it loads on the first chat)."""
    running = services.llms.loaded()
    default = services.settings.default_llm
    if default not in running:
        try:
            usable = services.unusable_reason(default) is None
        except NotFound:
            usable = False
        if usable:
            running.append(default)
    return running


@router.post("/llm_model/list_running_models", response_model=BaseResponse, summary="列出当前已加载的模型 (models that answer now)")
def list_running_models(services: Services = Depends(get_services)) -> BaseResponse:
    return BaseResponse(data={m: model_config(services, m) for m in running_models(services)})


@router.post("/llm_model/list_config_models", response_model=BaseResponse, summary="列出configs已配置的模型 (the catalog)")
def list_config_models(body: SeedConfigTypes | None = None, services: Services = Depends(get_services)) -> BaseResponse:
    types = (body or SeedConfigTypes()).types
    catalog = services.catalog
    groups: dict[str, list[str]] = {
        "local": [i for i, e in catalog.llms.items() if e.engine != "openai"],
        "online": [i for i, e in catalog.llms.items() if e.engine == "openai"]
        + [f"{p.id}/{m}" for p in catalog.providers.values() for m in p.chat_models],
        "worker": [],
    }
    return BaseResponse(data={kind: {m: model_config(services, m) for m in dict.fromkeys(ids)}
                              for kind, ids in groups.items() if kind in types})


@router.post("/llm_model/get_model_config", response_model=BaseResponse, summary="获取模型配置 (one model's configuration)")
def get_model_config(body: SeedModelName, services: Services = Depends(get_services)) -> BaseResponse:
    return BaseResponse(data=model_config(services, body.model_name))


@router.post("/llm_model/stop", response_model=BaseResponse, summary="停止指定的LLM模型 (unload a model)")
def stop_llm_model(body: SeedModelName, services: Services = Depends(get_services)) -> BaseResponse:
    if body.model_name not in running_models(services):
        raise ApiError(f"the model {body.model_name} is not available: it is not loaded", status=404,
                       code="model_not_found", param="model_name")
    services.llms.unload(body.model_name)
    return BaseResponse(msg=f"success to release model: {body.model_name} (it loads again on the next chat that names it)")


@router.post("/llm_model/change", response_model=BaseResponse, summary="切换指定的LLM模型 (unload one model, load another)")
def change_llm_model(body: SeedChangeModel, services: Services = Depends(get_services)) -> BaseResponse:
    if body.model_name not in running_models(services):
        raise ApiError(f"the model {body.model_name} is not available: it is not loaded", status=404,
                       code="model_not_found", param="model_name")
    reason = model_config(services, body.new_model_name)["unusable_reason"]
    if reason:
        raise ApiError(reason, status=404, code="model_not_found", param="new_model_name")
    services.llms.unload(body.model_name)
    services.llms.get(body.new_model_name)
    return BaseResponse(msg=f"success change model from {body.model_name} to {body.new_model_name}")


@router.post("/server/configs", summary="获取服务器原始配置信息 (settings, under the seed's config names)")
def server_configs(services: Services = Depends(get_services)) -> dict[str, Any]:
    settings = services.settings
    return {
        "LLM_MODELS": running_models(services) or [settings.default_llm],
        "EMBEDDING_MODEL": settings.default_embedding,
        "DEFAULT_VS_TYPE": "lancedb",
        "DEFAULT_SEARCH_ENGINE": SEARCH_ENGINES[0] if SEARCH_ENGINES else None,
        "CHUNK_SIZE": settings.chunk_size,
        "OVERLAP_SIZE": settings.chunk_overlap,
        "VECTOR_SEARCH_TOP_K": settings.top_k,
        "SCORE_THRESHOLD": round(1.0 - settings.score_threshold, 4),  # the seed's scale: a distance
        "ZH_TITLE_ENHANCE": settings.title_enhance,
        "HISTORY_LEN": settings.history_turns,
        "TEMPERATURE": settings.temperature,
        "MAX_TOKENS": settings.max_tokens,
        "SEARCH_MODE": settings.search_mode,
    }


@router.post("/server/list_search_engines", response_model=BaseResponse, summary="获取服务器支持的搜索引擎 (none: no web search)")
def list_search_engines() -> BaseResponse:
    return BaseResponse(data=SEARCH_ENGINES)


@router.post("/server/get_prompt_template", response_model=str,
             summary="获取服务区配置的 prompt 模板 (the prompt, with the seed's Jinja2 variables)")
def get_prompt_template(body: SeedPromptTemplate | None = None) -> str:
    body = body or SeedPromptTemplate()
    lang = TEMPLATE_LANGUAGES.get(body.name)
    if lang is None:
        raise ApiError(f"No prompt template named '{body.name}': use {', '.join(TEMPLATE_LANGUAGES)}.", status=404,
                       code="not_found", param="name")
    texts = prompts.PROMPTS[lang]
    if body.type == "llm_chat":
        return texts["chat_system"] + "\n\n{{ input }}"
    if body.type == "knowledge_base_chat":
        return texts["kb_system"] + "\n\n" + texts["kb_user"].format(passages="{{ context }}", question="{{ question }}")
    raise ApiError(f"There is no {body.type} here: this app has no web search or agent chat.", status=404,
                   code="not_found", param="type")


@router.post("/other/embed_texts", response_model=BaseResponse, summary="将文本向量化 (embed texts)")
def embed_texts(body: SeedEmbedTexts, services: Services = Depends(get_services)) -> BaseResponse:
    model = body.embed_model or services.embedders.default_for_new_kb()[0]
    try:
        embedder = services.embedders.get(model)
    except NotFound as exc:
        raise ApiError(exc.message, status=404, code="model_not_found", param="embed_model") from exc
    vectors = embedder.embed_query(body.texts) if body.to_query else embedder.embed(body.texts)
    return BaseResponse(data=vectors.tolist())
