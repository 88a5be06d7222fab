"""The evaluation routes over HTTP (httpx) against the real app on a loopback port (tests/api_server.py): a real
knowledge base of ../shared/docs documents, test sets uploaded as CSV/XLSX/JSONL, runs and their listing, and
the refusals (a malformed file, a run while files are being added)."""

from __future__ import annotations

import io
import threading

import httpx
import pytest
from openpyxl import Workbook

from api_server import api_settings, running
from chatchat.evaluation import runs
from chatchat.service import Services
from conftest import SAMPLES

DOCS = [SAMPLES / "大模型推理优化策略.md", SAMPLES / "大模型指令对齐训练原理.md"]
BASE = "/api/knowledge_bases/样例/evaluations"
CSV = ("question,answers,source,unanswerable\n"
       "什么是 PagedAttention？,PagedAttention,大模型推理优化策略.md,\n"
       "KV cache 每个 token 需要多少显存？,0.7M-1M|0.7M,,\n"
       "明天北京的天气怎么样？,,,yes\n")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = api_settings(tmp_path_factory.mktemp("api-eval") / "home")
    services = Services.open(settings)
    services.create_kb("样例")
    services.add_files("样例", DOCS)
    with running(settings, services) as base, httpx.Client(base_url=base, timeout=300) as client:
        yield client, services


def upload(client: httpx.Client, name: str, data: bytes, replace: bool = True) -> httpx.Response:
    return client.post(f"{BASE}/testset/import", files=[("files", (name, data))], data={"replace": str(replace).lower()})


def test_test_set_import_edit_export_and_a_run(app) -> None:
    client, services = app
    r = upload(client, "问题.csv", CSV.encode("utf-8"))
    assert r.status_code == 200, r.text
    items = r.json()["data"]
    assert [i["answers"] for i in items] == [["PagedAttention"], ["0.7M-1M", "0.7M"], []] and items[2]["unanswerable"]

    r = client.patch(f"{BASE}/testset/items/{items[1]['id']}", json={"answers": ["0.7M-1M"]})
    assert r.status_code == 200 and r.json()["answers"] == ["0.7M-1M"]
    r = client.post(f"{BASE}/testset/items", json={"items": [{"question": "红烧肉怎么做？", "unanswerable": True}]})
    assert r.status_code == 201
    extra = r.json()["data"][0]["id"]
    assert client.delete(f"{BASE}/testset/items/{extra}").json()["deleted"] is True
    assert len(client.get(f"{BASE}/testset").json()["data"]) == 3
    exported = client.get(f"{BASE}/testset/export", params={"format": "csv"})
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    assert exported.text.lstrip("\ufeff").splitlines()[0] == "question,answers,source,unanswerable"
    assert "0.7M-1M" in exported.text and "0.7M|" not in exported.text

    r = client.post(f"{BASE}/runs", json={"top_k": 5})
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["summary"]["n"] == 3 and run["summary"]["answerable"] == 2
    assert run["results"][0]["rank"] is not None and run["results"][0]["retrieved"][0]["file"].endswith(".md")
    assert run["settings"]["top_k"] == 5 and run["settings"]["embedding"] == services.kb_info("样例").embedding
    stored = runs.get_run(services, "样例", run["id"])  # what the API answered is what was stored
    assert stored.summary == run["summary"]

    r = client.post(f"{BASE}/runs", json={"top_k": 5, "mode": "fulltext"})
    assert r.status_code == 201 and r.json()["trial"] and r.json()["settings"]["mode"] == "fulltext"
    listed = client.get(f"{BASE}/runs").json()
    assert [x["id"] for x in listed["data"]][-2:] == [run["id"], r.json()["id"]] and listed["data"][0]["results"] == []
    assert listed["compared"][-1]["changed"] == ["mode"]
    assert client.get(f"{BASE}/runs/{run['id']}").json()["results"] == run["results"]
    assert client.delete(f"{BASE}/runs/{run['id']}").status_code == 200
    assert client.get(f"{BASE}/runs/{run['id']}").status_code == 404


def test_an_xlsx_with_chinese_headers_and_inline_items(app) -> None:
    client, _ = app
    book = Workbook()
    book.active.append(["问题", "答案", "来源"])
    book.active.append(["指令对齐训练用什么方法？", "RLHF", "大模型指令对齐训练原理.md"])
    data = io.BytesIO()
    book.save(data)
    r = upload(client, "集合.xlsx", data.getvalue(), replace=False)
    assert r.status_code == 200, r.text
    assert r.json()["data"][-1]["question"] == "指令对齐训练用什么方法？"
    r = client.post(f"{BASE}/runs", json={"items": [{"question": "指令对齐训练用什么方法？", "answers": ["RLHF"]}]})
    assert r.status_code == 201 and r.json()["summary"]["n"] == 1


def test_malformed_imports_answer_422_naming_the_problem(app) -> None:
    client, _ = app
    before = client.get(f"{BASE}/testset").json()["data"]
    r = upload(client, "bad.csv", b"query,answer\nwhat?,x\n")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_test_set"
    assert "'question'" in r.json()["error"]["message"]
    r = upload(client, "gbk.csv", "question,answers\n年假有几天？,五天\n".encode("gbk"))
    assert r.status_code == 422 and "UTF-8" in r.json()["error"]["message"]
    r = upload(client, "empty.jsonl", b'{"question": "  ", "answers": ["a"]}\n')
    assert r.status_code == 422 and "Row 1: the question is empty" in r.json()["error"]["message"]
    r = upload(client, "set.docx", b"PK")
    assert r.status_code == 422 and ".docx" in r.json()["error"]["message"]
    r = client.put(f"{BASE}/testset", json={"items": [{"question": "no answers, no source"}]})
    assert r.status_code == 422 and "Row 1" in r.json()["error"]["message"]
    assert client.get(f"{BASE}/testset").json()["data"] == before  # nothing half imported
    assert client.post(f"{BASE}/runs", json={"top_k": 2}).status_code == 400  # below hit@5
    assert client.get("/api/knowledge_bases/nope/evaluations/testset").status_code == 404


def test_a_run_while_files_are_added_answers_409(app) -> None:
    client, services = app
    answers: list[httpx.Response] = []

    def during_ingest(step) -> None:  # from inside the ingest job's write
        if step.stage in ("embed", "store") and not answers:
            answers.append(client.post(f"{BASE}/runs", json={"top_k": 5}))

    worker = threading.Thread(target=services.add_files, args=("样例", [SAMPLES / "分布式训练技术原理.md"]),
                              kwargs={"progress": during_ingest})
    worker.start()
    worker.join()
    assert answers and answers[0].status_code == 409, answers[0].text if answers else None
    assert answers[0].json()["error"]["code"] == "kb_busy" and "being changed" in answers[0].json()["error"]["message"]
    assert client.post(f"{BASE}/runs", json={"top_k": 5}).status_code == 201  # once the ingest is done
