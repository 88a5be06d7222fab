"""A source's `url` and `preview_url` over HTTP (httpx) against the real app on a loopback port: real
documents from the shared folder (a PDF, a .docx, a Markdown file), the packaged MiniLM embedder, real
LanceDB. Both links answer with the right content type, refuse callers without the key when one is set,
and answer 404 once the document is deleted or replaced, never a stale page."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from api_server import api_settings, running
from chatchat.answer.links import source_links
from chatchat.service import Services
from conftest import SAMPLES, UNSTRUCTURED_DOCS

EMBEDDING = "minilm-l6-v2-int8"
PDF = SAMPLES / "langchain.pdf"
DOCX = UNSTRUCTURED_DOCS / "fake.docx"
MD = SAMPLES / "大模型推理优化策略.md"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = api_settings(tmp_path_factory.mktemp("api-sources") / "home")
    services = Services.open(settings)
    # 100/20 tokens: the 400/80 characters of English the chunk numbers below were written against
    services.create_kb("资料", embedding=EMBEDDING, chunk_size=100, chunk_overlap=20)
    results = services.add_files("资料", [PDF, DOCX, MD])
    assert [r.status for r in results] == ["added"] * 3, results
    with running(settings, services) as base, httpx.Client(base_url=base, timeout=300) as client:
        yield client, services


def links(services: Services, file: str, index: int, base: str = "") -> tuple[str, str]:
    chunk = services.chunks("资料", file)[index]
    url, preview_url = source_links(chunk.kb, chunk.file, chunk.page, chunk.doc_id, chunk.chunk_index, base)
    assert preview_url is not None
    return url, preview_url


def test_a_pdf_source_opens_the_original_at_its_page_and_previews_the_page(app):
    client, services = app
    chunk = services.chunks("资料", PDF.name)[40]
    url, preview_url = links(services, PDF.name, 40)
    assert url.endswith(f"/original#page={chunk.page}") and chunk.page == 5
    original = client.get(url)
    assert original.status_code == 200 and original.headers["content-type"] == "application/pdf"
    assert original.content == PDF.read_bytes()

    shown = client.get(preview_url)
    assert shown.status_code == 200, shown.text
    assert shown.headers["content-type"] == "image/png" and shown.headers["x-chatchat-highlight"] == "found"
    image = Image.open(io.BytesIO(shown.content))
    assert image.format == "PNG" and 1.3 < image.height / image.width < 1.5  # a portrait page

    passage = client.get(preview_url + "&view=passage")
    assert passage.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in passage.headers["content-security-policy"]
    assert "Once LLMs can be utilized" in passage.text and "第" not in passage.text  # an English page


def test_docx_and_markdown_sources_preview_as_the_passage_in_its_context(app):
    client, services = app
    url, preview_url = links(services, DOCX.name, 0)
    assert "#page" not in url
    original = client.get(url)
    assert original.status_code == 200 and original.content == DOCX.read_bytes()
    assert original.headers["content-type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    shown = client.get(preview_url)
    assert shown.status_code == 200 and shown.headers["content-type"] == "text/html; charset=utf-8"
    assert '<mark id="passage">Lorem ipsum dolor sit amet.</mark>' in shown.text

    md = services.chunks("资料", MD.name)
    shown = client.get(links(services, MD.name, 1)[1])
    assert shown.status_code == 200 and '<html lang="zh-CN">' in shown.text
    assert "<h1>大模型推理优化策略</h1>" in shown.text  # the section title
    marked = shown.text.split('<mark id="passage">')[1].split("</mark>")[0]
    assert marked == html.escape(md[1].text)
    assert md[0].text[:30] in shown.text and md[2].text[-30:] in shown.text  # the neighbours around it


def test_links_need_the_key_when_one_is_set(app):
    client, services = app
    url, preview_url = links(services, PDF.name, 3)
    services.settings.api_key = "s3cret"
    try:
        for link in (url, preview_url):
            refused = client.get(link)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
            assert client.get(link, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    finally:
        services.settings.api_key = ""


def test_a_source_of_a_deleted_or_replaced_document_answers_404(app, tmp_path):
    client, services = app
    notes = tmp_path / "notes.md"
    notes.write_text(MD.read_text(encoding="utf-8")[:1500], encoding="utf-8")
    services.add_files("资料", [notes])
    url, preview_url = links(services, "notes.md", 0)
    assert client.get(preview_url).status_code == 200

    notes.write_text("# 新版本\n\n替换后的内容与原来的完全不同。", encoding="utf-8")
    services.add_files("资料", [notes])  # the same name, another version: the old citation is stale
    stale = client.get(preview_url)
    assert stale.status_code == 404 and stale.json()["error"]["code"] == "not_found"
    assert client.get(links(services, "notes.md", 0)[1]).status_code == 200

    assert client.delete(urlsplit(url).path.removesuffix("/original")).status_code == 200
    without_version = preview_url.split("&doc_id")[0]
    assert without_version.endswith("?chunk=0")
    for link in (url, preview_url, without_version):
        assert client.get(link).status_code == 404, link


def test_a_chunk_the_document_does_not_have_answers_404(app):
    client, services = app
    _, preview_url = links(services, DOCX.name, 0)
    assert client.get(preview_url.replace("chunk=0", "chunk=99")).status_code == 404
    assert client.get(preview_url.replace("chunk=0", "chunk=-1")).status_code == 400


def test_absolute_links_name_the_server(app):
    client, services = app
    url, preview_url = links(services, MD.name, 0, base=str(client.base_url) + "/")
    assert url.startswith(str(client.base_url) + "/api/knowledge_bases/%E8%B5%84%E6%96%99/documents/")
    assert client.get(preview_url).status_code == 200 and client.get(url).status_code == 200


def test_every_source_of_a_kb_answer_carries_links_that_open(app):
    """The demo model (SmolLM2) answers from the knowledge base over /v1 and the seed's route: each source
    has url and preview_url on this server, they open, and the answer's markers point at its sources."""
    client, services = app
    body = {"model": "kb:资料", "messages": [{"role": "user", "content": "What is the stuff method in LangChain?"}],
            "max_tokens": 48, "temperature": 0}
    reply = client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["sources"] and data["choices"][0]["message"]["content"] == data["cited_content"]
    for source in data["sources"]:
        assert source["url"].startswith("/api/knowledge_bases/") and source["preview_url"], source
        assert client.get(source["url"]).status_code == 200
        shown = client.get(source["preview_url"])
        assert shown.status_code == 200 and shown.headers["content-type"] in ("image/png", "text/html; charset=utf-8")
    assert all(1 <= m["index"] <= len(data["sources"]) and m["by"] in ("model", "app") for m in data["markers"])
    seed = client.post("/chat/knowledge_base_chat", json={"query": "What is the stuff method?", "knowledge_base_name": "资料",
                                                           "max_tokens": 24, "stream": False})
    assert "[预览](http" in seed.text and "/preview?chunk=" in seed.text


def test_a_file_chats_sources_open_while_its_conversation_lasts(app):
    """A file chat's own knowledge base is internal (no route reaches it by name), yet its answers' sources
    link there: the seed's file chat over HTTP, then its docs' original and preview links answer 200 until
    the conversation (and with it its files) is deleted."""
    client, services = app
    uploaded = client.post("/knowledge_base/upload_temp_docs", files=[("files", (PDF.name, PDF.read_bytes()))]).json()
    assert uploaded["code"] == 200 and uploaded["data"]["failed_files"] == [], uploaded
    knowledge_id = uploaded["data"]["id"]
    reply = client.post("/chat/file_chat", json={"query": "What is the stuff method in LangChain?", "knowledge_id": knowledge_id,
                                                 "max_tokens": 4, "stream": False, "top_k": 2})
    assert reply.status_code == 200, reply.text
    docs = " ".join(doc for line in reply.text.splitlines() if line.startswith("data: ")
                    for doc in json.loads(line[6:]).get("docs", []))
    original, preview_url = re.search(rf"\[{re.escape(PDF.name)}\]\((http[^)#]+)#page=\d+\) \[预览\]\((http[^)]+)\)", docs).groups()
    assert client.get(original).status_code == 200 and client.get(original).content == PDF.read_bytes()
    shown = client.get(preview_url)
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
    stored = services.conversations.get(knowledge_id).messages[-1].sources[0]  # what the conversation keeps
    assert client.get(stored["url"]).status_code == 200 and client.get(stored["preview_url"]).status_code == 200

    services.delete_conversation(knowledge_id)
    for link in (original, preview_url, stored["preview_url"]):
        assert client.get(link).status_code == 404, link
