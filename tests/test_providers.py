"""Provider presets (issue 18): the servers a user runs, found by their GET /models, and the seed's remaining clouds.

Two local stand-ins, since no cloud and no Ollama/vLLM/Xinference runs here:
- llama-cpp-python's own OpenAI-compatible server running the packaged SmolLM2 (tests/test_llm_openai.py's
  `server` fixture, reused): every preset's entry, its address moved there, answers a chat through the engine,
  and discovery lists the server's model;
- a tiny HTTP server (tests/provider_stand_in.py, `Recorder`) that keeps each request's path, query and headers and answers in
  OpenAI's shape: each preset's own path on its base URL, Azure's deployment path, api-version query and api-key
  header, and the list shapes of servers that say what their models are (Xinference's model_type fields).
"""

from __future__ import annotations

import json
import os
import signal
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from chatchat.cli import main as cli_main
from chatchat.config import KeyStore, load_settings
from chatchat.errors import ModelError, ProviderError
from chatchat.llm import LLMManager
from chatchat.models.catalog import load_catalog
from chatchat.models.discovery import add_served, embedding_dim, list_models, with_address
from chatchat.models.user_catalog import open_catalog
from chatchat.policy import SpacePolicy
from chatchat.retrieval.embeddings import EmbedderPool
from chatchat.ui import build_ui
from chatchat.ui.i18n import error_text
from chatchat.ui.model_servers import add_offered, server_models
from chatchat.ui.models import catalog_frame

import test_llm_openai
from provider_stand_in import Recorder
from test_llm_openai import KEY, QUESTION, free_port, server  # noqa: F401  (the llama.cpp stand-in fixture)

needs_server = test_llm_openai.pytestmark

SELF_HOSTED = {
    "ollama": "http://127.0.0.1:11434/v1", "vllm": "http://127.0.0.1:8000/v1", "xinference": "http://127.0.0.1:9997/v1",
    "lmstudio": "http://127.0.0.1:1234/v1", "localai": "http://127.0.0.1:8080/v1", "llamacpp": "http://127.0.0.1:8080/v1",
    "fastchat": "http://127.0.0.1:8000/v1",
}
CLOUDS = {
    "spark": "https://spark-api-open.xf-yun.com/v1", "ark": "https://ark.cn-beijing.volces.com/api/v3",
    "baichuan": "https://api.baichuan-ai.com/v1", "azure": "https://{resource}.openai.azure.com",
    "tiangong": "https://api.skyworkmodel.ai/api/v1", "gemini": "https://generativelanguage.googleapis.com/v1beta/openai/",
    "siliconflow": "https://api.siliconflow.cn/v1",
}
CATALOG = load_catalog()
OPENAI_SHAPED = [p for p in CATALOG.providers.values() if p.api == "openai"]


def user_catalog(home, providers: list[dict], **sections) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "models.yaml").write_text(yaml.safe_dump({"providers": providers, **sections}, allow_unicode=True))


def moved(provider_id: str, base_url: str) -> dict:
    """A preset's own entry with only its address changed, as a user's models.yaml would hold it."""
    return CATALOG.provider(provider_id).model_copy(update={"base_url": base_url}).model_dump(exclude_defaults=True)


# --- the presets themselves ------------------------------------------------------------------------
def test_every_preset_has_its_address_key_and_models():
    for provider_id, url in {**SELF_HOSTED, **CLOUDS}.items():
        provider = CATALOG.provider(provider_id)
        assert provider.base_url == url and provider.key_env, provider_id
        assert provider.discover is (provider_id in SELF_HOSTED), provider_id
    for provider_id in SELF_HOSTED:  # their models are the server's to list, when asked
        assert not CATALOG.provider(provider_id).chat_models, provider_id
    for provider_id in set(CLOUDS) - {"azure"}:
        assert CATALOG.provider(provider_id).chat_models, provider_id
    for provider_id in ("ark", "baichuan", "gemini", "siliconflow"):  # the clouds here with embedding models
        assert all(dim > 0 for dim in CATALOG.provider(provider_id).embedding_models.values()), provider_id
        assert CATALOG.provider(provider_id).embedding_models, provider_id
    azure = CATALOG.provider("azure")
    assert (azure.api, azure.api_version, azure.chat_models) == ("azure", "2024-10-21", [])  # deployments are yours


@needs_server
@pytest.mark.parametrize("provider_id", [p.id for p in OPENAI_SHAPED])
def test_each_preset_answers_a_chat_on_the_llama_cpp_stand_in(provider_id, server, tmp_path):  # noqa: F811
    user_catalog(tmp_path, [moved(provider_id, f"http://127.0.0.1:{server[1]}/v1")])
    KeyStore(tmp_path).set(provider_id, KEY)
    llms = LLMManager(load_settings(tmp_path), open_catalog(load_settings(tmp_path)))
    assert "".join(llms.get(f"{provider_id}/smol").chat(QUESTION, temperature=0, max_tokens=4)).strip()


@pytest.mark.parametrize("provider_id", [p.id for p in OPENAI_SHAPED])
def test_each_preset_calls_its_own_path_with_a_bearer_key(provider_id, tmp_path):
    path = urlsplit(CATALOG.provider(provider_id).base_url).path  # /v1, /api/v3, /v1beta/openai/, …
    with Recorder() as stand_in:
        user_catalog(tmp_path, [moved(provider_id, f"http://127.0.0.1:{stand_in.port}{path}")])
        KeyStore(tmp_path).set(provider_id, "sk-preset")
        llms = LLMManager(load_settings(tmp_path), open_catalog(load_settings(tmp_path)))
        assert "".join(llms.get(f"{provider_id}/some-model").chat(QUESTION, max_tokens=4)) == "Paris."
    [(method, called, query, headers)] = stand_in.requests
    assert (method, called, query) == ("POST", path.rstrip("/") + "/chat/completions", {})
    assert headers["authorization"] == "Bearer sk-preset" and "api-key" not in headers


# --- Azure: the resource's address, deployment paths, api-version and the api-key header --------------
def test_azure_puts_the_deployment_in_the_path_the_version_in_the_query_and_the_key_in_api_key(tmp_path):
    with Recorder() as stand_in:
        user_catalog(tmp_path, [moved("azure", f"http://127.0.0.1:{stand_in.port}")])
        KeyStore(tmp_path).set("azure", "azure-secret")
        settings = load_settings(tmp_path)
        catalog = open_catalog(settings)
        llms = LLMManager(settings, catalog)
        assert "".join(llms.get("azure/my-gpt4o").chat(QUESTION, max_tokens=4)) == "Paris."
        assert embedding_dim(catalog.provider("azure"), "azure-secret", "my-embedder") == 8
    (_, chat_path, chat_query, chat_headers), (_, embed_path, embed_query, _) = stand_in.requests
    assert chat_path == "/openai/deployments/my-gpt4o/chat/completions"
    assert embed_path == "/openai/deployments/my-embedder/embeddings"
    assert chat_query == embed_query == {"api-version": ["2024-10-21"]}
    assert chat_headers["api-key"] == "azure-secret" and "authorization" not in chat_headers


def test_an_azure_embedding_deployment_is_added_and_embeds_through_azures_path_and_header(tmp_path):
    with Recorder() as stand_in:
        user_catalog(tmp_path, [moved("azure", f"http://127.0.0.1:{stand_in.port}")])
        KeyStore(tmp_path).set("azure", "azure-secret")
        settings = load_settings(tmp_path)
        model_id = add_served(settings, open_catalog(settings), open_catalog(settings).provider("azure"),
                              "my-embedder", "embedding", api_key="azure-secret")
        vectors = EmbedderPool(settings, open_catalog(settings)).get(model_id).embed(["你好", "hello"])
    assert vectors.shape == (2, 8)
    for _, path, query, headers in stand_in.requests:  # the dimension probe, then the embedding
        assert (path, query) == ("/openai/deployments/my-embedder/embeddings", {"api-version": ["2024-10-21"]})
        assert headers["api-key"] == "azure-secret" and "authorization" not in headers
    assert len(stand_in.requests) == 2


def test_azure_before_its_address_is_set_and_its_deployments_say_what_to_do(tmp_path):
    KeyStore(tmp_path).set("azure", "azure-secret")
    with pytest.raises(ProviderError) as unset:
        LLMManager(load_settings(tmp_path), CATALOG).get("azure/my-gpt4o")
    assert unset.value.key == "provider_address_unset" and "请先填写" in error_text(unset.value, "zh")
    with pytest.raises(ProviderError) as listing:
        list_models(CATALOG.provider("azure"), "azure-secret")
    assert listing.value.key == "discovery_azure" and "部署" in error_text(listing.value, "zh")


# --- discovery -----------------------------------------------------------------------------------
@needs_server
@pytest.mark.parametrize("provider_id", list(SELF_HOSTED) + ["custom"])
def test_discovery_lists_the_servers_model(provider_id, server):  # noqa: F811
    provider = with_address(CATALOG.provider(provider_id), f"http://127.0.0.1:{server[1]}/v1")
    assert [m.id for m in list_models(provider, KEY)] == ["smol"]


@needs_server
def test_a_refused_key_an_unreachable_and_a_silent_server_give_keyed_errors(server):  # noqa: F811
    llamacpp = CATALOG.provider("llamacpp")
    with pytest.raises(ProviderError) as refused:
        list_models(with_address(llamacpp, f"http://127.0.0.1:{server[1]}/v1"), "sk-wrong")
    assert refused.value.key == "discovery_key_rejected" and refused.value.params["var"] == "LLAMA_API_KEY"
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ProviderError) as unreachable:
        list_models(with_address(llamacpp, nobody), None)
    assert unreachable.value.key == "discovery_unreachable"
    assert unreachable.value.message.startswith(f"Cannot reach llama.cpp server at {nobody}: is the server running")
    assert error_text(unreachable.value, "zh").startswith(f"无法连接 {nobody} 上的 llama.cpp server")
    os.kill(server[0].pid, signal.SIGSTOP)  # the server accepts the connection but never answers
    try:
        with pytest.raises(ProviderError) as silent:
            list_models(with_address(llamacpp, f"http://127.0.0.1:{server[1]}/v1"), KEY, timeout=1)
    finally:
        os.kill(server[0].pid, signal.SIGCONT)
    assert silent.value.key == "discovery_timeout" and "1 秒内没有应答" in error_text(silent.value, "zh")


def test_an_address_that_is_not_openai_shaped_says_so():
    with Recorder() as stand_in:
        ollama = with_address(CATALOG.provider("ollama"), f"http://127.0.0.1:{stand_in.port}")
        stand_in.raw = (200, "<html>Ollama is running</html>")
        with pytest.raises(ProviderError) as html:
            list_models(ollama, None)
        stand_in.raw = (404, "404 page not found")
        with pytest.raises(ProviderError) as missing:
            list_models(ollama, None)
    assert html.value.key == "discovery_not_openai" and "/v1" in error_text(html.value, "zh")
    assert missing.value.key == "discovery_status" and missing.value.params["status"] == 404
    with pytest.raises(ProviderError) as bad:
        with_address(ollama, "localhost:11434")
    assert bad.value.key == "discovery_bad_address"


def test_a_server_that_says_what_its_models_are_is_listed_with_kinds_context_and_dimension(tmp_path):
    # the shape of Xinference's GET /v1/models (model_type, context_length, dimensions), from a local stand-in
    models = [{"id": "qwen2.5-instruct", "object": "model", "owned_by": "xinference", "model_type": "LLM",
               "context_length": 32768},
              {"id": "bge-m3", "object": "model", "owned_by": "xinference", "model_type": "embedding", "dimensions": 8},
              {"id": "bge-reranker-v2-m3", "object": "model", "owned_by": "xinference", "model_type": "rerank"}]
    with Recorder(models) as stand_in:
        xinference = with_address(CATALOG.provider("xinference"), f"http://127.0.0.1:{stand_in.port}/v1")
        listed = list_models(xinference, None)
    assert [(m.id, m.kind, m.context, m.dim) for m in listed] == [
        ("qwen2.5-instruct", "chat", 32768, None), ("bge-m3", "embedding", None, 8), ("bge-reranker-v2-m3", "rerank", None, None)]
    assert stand_in.requests[0][:2] == ("GET", "/v1/models") and "authorization" not in stand_in.requests[0][3]


def test_adding_a_served_embedding_model_probes_its_dimension_and_keeps_the_address(tmp_path):
    with Recorder() as stand_in:
        address = f"http://127.0.0.1:{stand_in.port}/v1"
        settings = load_settings(tmp_path)
        model_id = add_served(settings, CATALOG, with_address(CATALOG.provider("ollama"), address), "nomic-embed-text",
                              "embedding")
    catalog = open_catalog(settings)
    entry = catalog.embedding(model_id)
    assert (model_id, entry.provider, entry.model, entry.dim) == ("ollama-nomic-embed-text", "ollama", "nomic-embed-text", 8)
    assert catalog.provider("ollama").base_url == address
    assert [r[1] for r in stand_in.requests] == ["/v1/embeddings"]
    with pytest.raises(ModelError) as empty:
        add_served(settings, catalog, catalog.provider("ollama"), "  ", "llm")
    assert empty.value.key == "served_model_name"


def test_a_shipped_providers_model_is_added_without_copying_the_provider_or_asking_it(tmp_path, no_network):
    settings = load_settings(tmp_path)
    model_id = add_served(settings, CATALOG, CATALOG.provider("siliconflow"), "BAAI/bge-m3", "embedding")
    raw = yaml.safe_load((tmp_path / "models.yaml").read_text(encoding="utf-8"))
    assert "providers" not in raw  # the preset stays the shipped one
    assert raw["embeddings"] == [{"id": "siliconflow-baai-bge-m3", "name": "BAAI/bge-m3 (SiliconFlow (硅基流动))",
                                  "provider": "siliconflow", "model": "BAAI/bge-m3", "dim": 1024}]  # the preset's dimension
    assert open_catalog(settings).embedding(model_id).dim == 1024


# --- the faces: the Models tab's section (without a browser) and the CLI ---------------------------------
@needs_server
def test_models_tab_lists_the_server_adds_its_model_and_it_answers(services, server):  # noqa: F811
    address = f"http://127.0.0.1:{server[1]}/v1"
    KeyStore(services.settings.home).set("llamacpp", KEY)
    assert [m.id for m in server_models(services, "llamacpp", address)] == ["smol"]
    model_id = add_offered(services, "llamacpp", address, "smol", "llm", {"smol": [None, 2048, None]})
    assert model_id == "llamacpp-smol" and services.catalog.llms[model_id].context == 2048
    assert services.catalog.provider("llamacpp").base_url == address  # the process's catalog, updated in place
    rows = catalog_frame(services, "zh")
    assert rows[rows.iloc[:, 1] == model_id].iloc[0, 6] == "服务器上"
    assert "".join(services.llms.get(model_id).chat(QUESTION, temperature=0, max_tokens=4)).strip()


def test_nothing_is_contacted_until_asked_and_a_space_has_no_servers_section(tmp_path, monkeypatch):
    with Recorder() as stand_in:
        home = tmp_path / "home"
        user_catalog(home, [moved("ollama", f"http://127.0.0.1:{stand_in.port}/v1")])
        monkeypatch.setenv("CHATCHAT_HOME", str(home))
        from chatchat.service import Services

        services = Services.open(load_settings(home))
        ids = {getattr(b, "elem_id", None) for b in build_ui(services).blocks.values()}
        assert {"servers-provider", "servers-list", "servers-add"} <= ids and stand_in.requests == []
        assert [m.id for m in server_models(services, "ollama", "")] == ["stand-in"]  # the List button
        assert [r[:2] for r in stand_in.requests] == [("GET", "/v1/models")]
        services.policy = SpacePolicy()
        assert "servers-list" not in {getattr(b, "elem_id", None) for b in build_ui(services).blocks.values()}


@needs_server
def test_cli_discovers_and_adds(settings, server, capsys):  # noqa: F811
    address = f"http://127.0.0.1:{server[1]}/v1"
    KeyStore(settings.home).set("vllm", KEY)
    home = ["--home", str(settings.home), "models", "discover", "vllm", "--base-url", address]
    assert cli_main([*home, "--json"]) == 0
    assert [m["id"] for m in json.loads(capsys.readouterr().out)] == ["smol"]
    assert cli_main([*home, "--add", "smol"]) == 0
    assert "added 'vllm-smol'" in capsys.readouterr().out
    assert open_catalog(settings).llms["vllm-smol"].model == "smol"
    assert cli_main(["--home", str(settings.home), "models", "discover", "vllm", "--base-url",
                     f"http://127.0.0.1:{free_port()}/v1"]) == 1
    assert "error: Cannot reach vLLM at" in capsys.readouterr().err


@needs_server
def test_api_lists_presets_asks_a_server_and_adds_its_model(tmp_path, server):  # noqa: F811
    from api_server import api_settings, running
    from chatchat.service import Services

    home = tmp_path / "home"
    user_catalog(home, [moved("llamacpp", f"http://127.0.0.1:{server[1]}/v1"),
                        moved("fastchat", f"http://127.0.0.1:{free_port()}/v1")])
    KeyStore(home).set("llamacpp", KEY)
    settings = api_settings(home)
    services = Services.open(settings)
    with running(settings, services) as base, httpx.Client(base_url=base, timeout=60) as client:
        presets = {p["id"]: p for p in client.get("/api/providers").json()["data"]}
        assert presets["ollama"]["discover"] and presets["azure"]["api"] == "azure" and presets["llamacpp"]["key_set"]
        listed = client.get("/api/providers/llamacpp/models")
        assert listed.status_code == 200 and [m["id"] for m in listed.json()["data"]] == ["smol"]
        added = client.post("/api/providers/llamacpp/models", json={"model": "smol"})
        assert added.status_code == 201 and added.json() == {"id": "llamacpp-smol", "kind": "llm"}
        assert "llamacpp-smol" in {m["id"] for m in client.get("/v1/models").json()["data"]}
        down = client.get("/api/providers/fastchat/models")
        assert down.status_code == 502 and "Cannot reach FastChat OpenAI API server" in down.json()["error"]["message"]
        services.policy = SpacePolicy()
        assert client.get("/api/providers/llamacpp/models").status_code == 403
        assert client.get("/api/providers").status_code == 200
