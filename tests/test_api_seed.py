"""The Langchain-Chatchat 0.2.x contract (what the seed's `webui_pages/utils.py` ApiRequest and its
tests/api scripts send and read), driven over HTTP with httpx against the real app on a loopback port:
the packaged SmolLM2 GGUF model, MiniLM embeddings, real LanceDB, real documents from the shared folder.
Answers are kept short: the model is real, the CPU is small."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from api_server import api_settings, running
from chatchat.models.catalog import load_catalog
from chatchat.service import Services
from conftest import SAMPLES, UNSTRUCTURED_DOCS

LLM = "smollm2-135m-instruct"
EMBEDDING = "minilm-l6-v2-int8"
INFERENCE = SAMPLES / "大模型推理优化策略.md"
TEXT = UNSTRUCTURED_DOCS / "fake-text.txt"


DEFAULT_ANSWER_TOKENS = 12  # the demo model's answer length when a chat gives none (models.yaml says 512)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    home = tmp_path_factory.mktemp("api-seed") / "home"
    home.mkdir()
    # the user's own catalog entry for the demo model, with a short default answer the tests can wait for
    entry = load_catalog().llms[LLM].model_dump(exclude_none=True) | {"max_tokens": DEFAULT_ANSWER_TOKENS}
    (home / "models.yaml").write_text(yaml.safe_dump({"llms": [entry]}, allow_unicode=True), encoding="utf-8")
    settings = api_settings(home, llm_threads=1)
    services = Services.open(settings)
    with running(settings, services) as base, httpx.Client(base_url=base, timeout=300) as client:
        yield client, services


def seed_events(response: httpx.Response) -> list[dict]:
    return [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]


def upload(client: httpx.Client, kb: str, files: dict[str, Path], **fields) -> dict:
    parts = [("files", (name, path.read_bytes())) for name, path in files.items()]
    return client.post("/knowledge_base/upload_docs", data={"knowledge_base_name": kb, **fields}, files=parts).json()


def test_create_knowledge_base_answers_with_the_seed_messages(app):
    client, _ = app
    blank = client.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": " "}).json()
    assert (blank["code"], blank["msg"]) == (404, "知识库名称不能为空，请重新填写知识库名称")
    made = client.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "seed_kb"}).json()
    assert (made["code"], made["msg"]) == (200, "已新增知识库 seed_kb")
    again = client.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "seed_kb"}).json()
    assert (again["code"], again["msg"]) == (404, "已存在同名知识库 seed_kb")


def test_folder_upload_keeps_sub_paths_in_every_route(app):
    client, services = app
    client.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "folders"})
    files = {"wiki/推理优化.md": INFERENCE, "sub/test.txt": TEXT}
    assert upload(client, "folders", files, override=True)["data"]["failed_files"] == {}
    listed = client.get("/knowledge_base/list_files", params={"knowledge_base_name": "folders"}).json()["data"]
    assert sorted(listed) == sorted(files)
    kept = services.store.get("folders").files_dir
    assert (kept / "wiki" / "推理优化.md").read_bytes() == INFERENCE.read_bytes()
    assert upload(client, "folders", files)["data"]["failed_files"] == {n: f"文件 {n} 已存在。" for n in files}

    updated = client.post("/knowledge_base/update_docs", json={"knowledge_base_name": "folders", "file_names": list(files)}).json()
    assert updated["code"] == 200 and updated["data"]["failed_files"] == {}
    wiki = client.post("/knowledge_base/search_docs", json={"knowledge_base_name": "folders", "file_name": "wiki/%"}).json()
    assert wiki and {d["metadata"]["source"] for d in wiki} == {"wiki/推理优化.md"}
    only = client.post("/knowledge_base/search_docs", json={"knowledge_base_name": "folders", "metadata": {"source": "sub/test.txt"}}).json()
    assert only and {d["metadata"]["source"] for d in only} == {"sub/test.txt"}
    assert client.post("/knowledge_base/search_docs", json={"knowledge_base_name": "folders", "file_name": "sub/t_st.txt",
                                                           "metadata": {"chunk_index": 0}}).json()[0]["id"] == only[0]["id"]

    preview = client.get("/knowledge_base/download_doc", params={"knowledge_base_name": "folders", "file_name": "sub/test.txt", "preview": True})
    assert preview.content == TEXT.read_bytes() and preview.headers["content-disposition"].startswith("inline")
    rest = client.get("/api/knowledge_bases/folders/documents/wiki/推理优化.md/chunks").json()["data"]
    assert rest and rest[0]["file"] == "wiki/推理优化.md"

    deleted = client.post("/knowledge_base/delete_docs", json={"knowledge_base_name": "folders", "file_names": ["wiki/推理优化.md"]}).json()
    assert deleted["data"]["failed_files"] == {} and not (kept / "wiki").exists()
    assert client.delete("/api/knowledge_bases/folders/documents/sub/test.txt").json()["deleted"] is True
    assert client.get("/knowledge_base/list_files", params={"knowledge_base_name": "folders"}).json()["data"] == []


def test_one_document_name_whichever_api_uploaded_it(app):
    client, _ = app
    client.post("/api/knowledge_bases", json={"name": "names"})
    body = TEXT.read_bytes()
    rest = client.post("/api/knowledge_bases/names/documents", files=[("files", ("new\nline.txt", body))]).json()["results"]
    assert rest[0]["file"] == "newline.txt" and rest[0]["status"] == "added"
    seed = upload(client, "names", {"new\nline.txt": TEXT})  # httpx sends new%0Aline.txt, as browsers do
    assert seed["data"]["failed_files"] == {"newline.txt": "文件 newline.txt 已存在。"}
    assert client.get("/knowledge_base/list_files", params={"knowledge_base_name": "names"}).json()["data"] == ["newline.txt"]
    removed = client.post("/knowledge_base/delete_docs", json={"knowledge_base_name": "names", "file_names": ["newline.txt"]}).json()
    assert removed["data"]["failed_files"] == {}


def test_links_in_the_files_folder_are_never_served(app):
    client, services = app
    client.post("/api/knowledge_bases", json={"name": "links"})
    client.post("/api/knowledge_bases/links/documents", files=[("files", ("note.txt", TEXT.read_bytes()))])
    files = services.store.get("links").files_dir
    (files / "passwd.txt").symlink_to("/etc/passwd")
    (files / "etc").symlink_to("/etc", target_is_directory=True)

    def fetch(name: str) -> httpx.Response:
        """The same answer from both API styles' download routes."""
        rest = client.get(f"/api/knowledge_bases/links/documents/{name}/original")
        seed = client.get("/knowledge_base/download_doc", params={"knowledge_base_name": "links", "file_name": name})
        assert rest.status_code == seed.status_code
        return seed

    for name in ("passwd.txt", "etc/passwd"):
        r = fetch(name)
        assert r.status_code == 404 and b"root:" not in r.content
    (files / "note.txt").unlink()
    (files / "note.txt").symlink_to("/etc/passwd")  # a registered document's original swapped for a link
    r = fetch("note.txt")
    assert r.status_code == 404 and b"root:" not in r.content
    with client.stream("POST", "/knowledge_base/recreate_vector_store", json={"knowledge_base_name": "links"}) as stream:
        list(stream.iter_lines())
    assert "passwd.txt" not in client.get("/knowledge_base/list_files", params={"knowledge_base_name": "links"}).json()["data"]


def test_update_info_search_of_an_unknown_kb_and_update_by_id(app):
    client, services = app
    client.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "info"})
    r = client.post("/knowledge_base/update_info", json={"knowledge_base_name": "info", "kb_info": "推理优化的笔记"}).json()
    assert (r["code"], r["msg"], r["data"]) == (200, "知识库介绍修改完成", {"kb_info": "推理优化的笔记"})
    assert services.kb_info("info").description == "推理优化的笔记"
    assert client.post("/knowledge_base/search_docs", json={"knowledge_base_name": "no_such_kb", "query": "x"}).json() == []

    upload(client, "info", {"推理.md": INFERENCE})
    [hit] = client.post("/knowledge_base/search_docs", json={"knowledge_base_name": "info", "query": "PagedAttention", "top_k": 1}).json()
    new_text = "Zebras graze on the savanna at dawn."
    r = client.post("/knowledge_base/update_docs_by_id", json={
        "knowledge_base_name": "info", "docs": {hit["id"]: {"page_content": new_text, "metadata": {}}, "nope:0": {"page_content": "x"}}}).json()
    assert r["code"] == 200 and r["data"]["failed_ids"] == ["nope:0"]
    [found] = client.post("/knowledge_base/search_docs", json={"knowledge_base_name": "info", "query": "zebras savanna", "top_k": 1}).json()
    assert found["id"] == hit["id"] and found["page_content"] == new_text


def test_llm_model_routes_map_onto_the_model_manager(app):
    client, services = app
    running = client.post("/llm_model/list_running_models").json()
    assert running["code"] == 200 and running["data"][LLM]["online_api"] is False
    configured = client.post("/llm_model/list_config_models", json={"types": ["local", "online"]}).json()["data"]
    assert LLM in configured["local"] and configured["local"][LLM]["max_tokens"] == DEFAULT_ANSWER_TOKENS
    assert all(config["online_api"] for config in configured["online"].values())
    config = client.post("/llm_model/get_model_config", json={"model_name": LLM}).json()["data"]
    assert config["model_path_exists"] is True and not any("key" in k for k in config)
    assert client.post("/llm_model/get_model_config", json={"model_name": "chatglm3-6b"}).json()["code"] == 404

    changed = client.post("/llm_model/change", json={"model_name": LLM, "new_model_name": LLM}).json()
    assert changed["code"] == 200 and services.llms.loaded() == [LLM]
    assert client.post("/llm_model/change", json={"model_name": LLM, "new_model_name": "gemma3-270m-base"}).json()["code"] == 404
    stopped = client.post("/llm_model/stop", json={"model_name": LLM}).json()
    assert stopped["code"] == 200 and services.llms.loaded() == []
    assert client.post("/llm_model/stop", json={"model_name": "gemma3-270m-base"}).json()["code"] == 404


def test_server_state_routes(app):
    client, services = app
    configs = client.post("/server/configs").json()
    assert configs["CHUNK_SIZE"] == services.settings.chunk_size and configs["LLM_MODELS"]
    assert client.post("/server/list_search_engines").json() == {"code": 200, "msg": "success", "data": []}
    template = client.post("/server/get_prompt_template", json={"type": "llm_chat"})
    assert "{{ input }}" in template.json()
    assert "{{ context }}" in client.post("/server/get_prompt_template", json={"type": "knowledge_base_chat", "name": "en"}).json()
    assert client.post("/server/get_prompt_template", json={"type": "agent_chat"}).json()["code"] == 404


def test_embed_texts(app):
    client, services = app
    texts = ["大模型推理", "PagedAttention manages the KV cache"]
    r = client.post("/other/embed_texts", json={"texts": texts, "embed_model": EMBEDDING}).json()
    assert r["code"] == 200 and np.allclose(r["data"], services.embed(texts, EMBEDDING), atol=1e-6)
    assert client.post("/other/embed_texts", json={"texts": texts, "embed_model": "bge-large-zh-v1.5"}).json()["code"] == 404


def test_chat_without_max_tokens_stops_at_the_models_default(app):
    client, services = app
    r = client.post("/chat/chat", json={"query": "Write a very long story about a dragon, with twenty chapters.", "temperature": 0})
    [event] = seed_events(r)
    tokens = services.llms.get(LLM).count_tokens(event["text"])
    assert 0 < tokens <= DEFAULT_ANSWER_TOKENS + 1, tokens  # a token may split across deltas
    assert client.post("/chat/chat", json={"query": "Write a very long story about a dragon.", "max_tokens": 0}).status_code == 200


def test_feedback_is_kept_with_the_conversation(app):
    client, services = app
    body = {"query": "Say hi", "max_tokens": 4, "conversation_id": "3f2c7a9e-seed-webui", "stream": True}
    events = seed_events(client.post("/chat/chat", json=body))
    message_id = events[0]["message_id"]
    assert len(message_id) == 32 and {e["message_id"] for e in events} == {message_id}
    r = client.post("/chat/feedback", json={"message_id": message_id, "score": 90, "reason": "简洁"}).json()
    assert (r["code"], r["msg"]) == (200, f"已反馈聊天记录 {message_id}")
    conversation = services.conversations.get(message_id[:16])
    question, answer = conversation.messages[-2:]
    assert question.content == "Say hi" and answer.content == "".join(e["text"] for e in events)
    assert (answer.feedback.score, answer.feedback.reason) == (90, "简洁")
    follow = seed_events(client.post("/chat/chat", json={**body, "history_len": 1, "stream": False}))
    assert len(services.conversations.get(message_id[:16]).messages) == 4 and follow[0]["message_id"][:16] == message_id[:16]
    missing = client.post("/chat/feedback", json={"message_id": "0" * 32, "score": 10}).json()
    assert missing["code"] == 404 and missing["msg"]


def test_file_chat_with_temporary_documents(app):
    client, services = app
    r = client.post("/knowledge_base/upload_temp_docs", files=[("files", ("推理.md", INFERENCE.read_bytes()))]).json()
    assert r["code"] == 200 and r["data"]["failed_files"] == []
    knowledge_id = r["data"]["id"]
    events = seed_events(client.post("/chat/file_chat", json={
        "query": "PagedAttention 如何管理显存？", "knowledge_id": knowledge_id, "max_tokens": 6, "stream": True, "top_k": 1}))
    assert any("answer" in e for e in events) and "推理.md" in events[-1]["docs"][0]
    assert knowledge_id in [c.id for c in services.conversations.list()]
    listed = client.get("/knowledge_base/list_knowledge_bases").json()["data"]
    assert not any(knowledge_id in name for name in listed)  # the file chat's knowledge base is internal
    gone = client.post("/chat/file_chat", json={"query": "x", "knowledge_id": "nope"}).json()
    assert gone["code"] == 404 and "upload_temp_docs" in gone["msg"]


def _drop(base: str, body: dict, wait_for_data: bool) -> bool:
    """Send a streamed /chat/chat on a raw socket, then drop the connection the way a killed client does
    (RST): after its first event, or at once while the request still waits for the engine. True if an
    event arrived first (or none was awaited)."""
    host, port = base.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    with socket.create_connection((host, int(port)), timeout=120) as sock:
        sock.sendall(b"POST /chat/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
        received = b""
        while wait_for_data and b"data: " not in received:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            received += chunk
        if not wait_for_data:
            time.sleep(0.3)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    return True


def test_clients_killed_mid_stream_leave_the_server_answering(app):
    """Killed clients used to keep their requests alive: each one waiting for the engine still ran its
    whole prompt once its turn came (55 s of work for five dead clients before a 4-token answer)."""
    client, _ = app
    base = str(client.base_url).rstrip("/")
    story = {"query": "Write a long story about a dragon.", "stream": True, "max_tokens": 400}
    for _ in range(3):
        assert _drop(base, story, wait_for_data=True)
    busy = threading.Thread(target=lambda: client.post("/chat/chat", json={**story, "max_tokens": 150}))
    busy.start()
    time.sleep(0.5)
    long_prompt = {**story, "query": "Tell me about dragons and their history in many cultures. " * 120}
    dropped = [threading.Thread(target=_drop, args=(base, long_prompt, False)) for _ in range(5)]
    for t in dropped:
        t.start()
    for t in dropped:
        t.join()
    busy.join()
    start = time.monotonic()
    r = client.post("/chat/chat", json={"query": "Say hi", "max_tokens": 4}, timeout=120)
    assert r.status_code == 200 and seed_events(r)[0]["text"]
    assert time.monotonic() - start < 10, time.monotonic() - start
