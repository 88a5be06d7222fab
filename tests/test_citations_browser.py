"""Answers you can check, in a real browser (Debian chromium through Playwright) against `python app.py`
with a fresh data dir and the packaged SmolLM2 demo model: a knowledge-base answer's source opens a side
panel with the passage where it stands (a PDF's page as an image with the passage highlighted, a docx's and
a Markdown file's passage in its context), with the original to download; a marker in an answer is a chip
that opens the same panel from the keyboard (Enter) and gives the focus back on Escape; a thumb and a
reason are saved with the answer and are in the export. Documents come from ../shared/docs, uploaded
through the REST API of the app under test."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path

import httpx
import numpy as np
import pytest

pytest.importorskip("playwright.sync_api")
from PIL import Image  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402

from browser import CHROMIUM, app, browser, choose, radio, screenshot, text_field  # noqa: E402, F401 (fixtures)
from browser import new_page as app_page  # noqa: E402
from chatchat.answer.citations import Marker  # noqa: E402
from chatchat.answer.conversations import ConversationStore  # noqa: E402
from chatchat.config import load_settings  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium (apt-get install chromium)"),
]

SHARED_DOCS = Path(__file__).resolve().parents[1].parent / "shared" / "docs"
MEMO = SHARED_DOCS / "unstructured" / "fake-memo.pdf"
WORD = SHARED_DOCS / "unstructured" / "page-breaks.docx"
NOTES = SHARED_DOCS / "chatchat-samples" / "大模型推理优化策略.md"
WAIT = 120_000  # ms; the first model load and answer are slow on a busy 2-core machine
HIGHLIGHT = (255, 214, 0)  # answer/preview_pdf.py's yellow, blended at 96/255 over the white page


@pytest.fixture(scope="module")
def kbs(app):
    """One knowledge base a document, filled through the API, so each answer's sources are that document's."""
    url, _ = app
    with httpx.Client(base_url=url, timeout=600) as client:
        for name, path in (("memo", MEMO), ("word", WORD), ("notes", NOTES)):
            assert client.post("/api/knowledge_bases", json={"name": name}).status_code == 201
            with path.open("rb") as handle:
                done = client.post(f"/api/knowledge_bases/{name}/documents", files=[("files", (path.name, handle))])
            assert done.status_code == 200, done.text
    return app


def new_page(browser, url: str, locale: str = "en-US") -> Page:
    page = app_page(browser, url, locale, wait=WAIT, accept_downloads=True)
    # the session's first render is done (a pick made before it ends would be drawn over)
    notice = "当前对话模型是" if locale.startswith("zh") else "You are chatting with"
    expect(page.locator("#chat-hint")).to_contain_text(notice, timeout=WAIT)
    return page


def ask(page: Page, kb: str, question: str, mode: str = "Knowledge base") -> None:
    page.locator("#chat-new").click()
    radio(page, "chat-mode", mode)
    choose(page, "chat-kb", kb)
    page.keyboard.press("Escape")
    text_field(page, "chat-input").fill(question)
    page.locator("#chat-send").click()
    # the question's bubble comes with Send hidden (Stop shown); Send is back when the answer has ended
    expect(page.locator("#chat-box .message.user").last).to_contain_text(question[:12], timeout=WAIT)
    expect(page.locator("#chat-send")).to_be_visible(timeout=3 * WAIT)


def open_source(page: Page, file: str) -> None:
    """Unfold the last answer's sources and click the one of `file`."""
    sources = page.locator("#chat-box .message.bot", has_text=re.compile(r"Sources \(\d+\)|出处（\d+）")).last
    sources.locator(".title").first.click()
    sources.locator("a.cc-source", has_text=file).first.click()
    expect(page.locator("#chat-source")).to_be_visible(timeout=WAIT)


def highlighted_share(data_uri: str) -> float:
    """The share of the page image's pixels in the highlight's yellow."""
    image = Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1]))).convert("RGB")
    r, g, b = np.asarray(image).astype(int).transpose(2, 0, 1)
    return float(((r > 235) & (g > 220) & (g < 250) & (b < 200)).mean())


def test_a_pdf_source_opens_its_page_with_the_passage_highlighted_and_the_original(kbs, browser, tmp_path):
    url, _ = kbs
    page = new_page(browser, url)
    ask(page, "memo", "How many bottles of water were delivered on January 23, 2023?")
    open_source(page, MEMO.name)
    panel = page.locator("#chat-source")
    expect(panel.locator(".cc-viewer-title")).to_contain_text(MEMO.name)
    expect(panel.locator(".cc-viewer-title")).to_be_focused()  # the panel takes the focus
    expect(panel).to_contain_text("page 1")
    image = panel.locator("img.cc-viewer-page")
    expect(image).to_be_visible(timeout=WAIT)
    assert image.evaluate("img => img.naturalWidth") > 500
    assert image.get_attribute("alt") == f"Page 1 of {MEMO.name}, the cited passage highlighted"
    assert highlighted_share(image.get_attribute("src")) > 0.005  # the passage is marked on the page
    screenshot(page, "citations-pdf-viewer-en")
    with page.expect_download(timeout=WAIT) as download:
        panel.locator("#chat-source-original").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == MEMO.name
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(MEMO.read_bytes()).digest()
    link = panel.locator("a.cc-viewer-open")  # the API's original, in the browser's PDF viewer at the page
    assert link.get_attribute("href").endswith(f"/api/knowledge_bases/memo/documents/{MEMO.name}/original#page=1")
    original = httpx.get(url + link.get_attribute("href").split("#")[0], timeout=60)
    assert original.status_code == 200 and original.headers["content-type"] == "application/pdf"
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden(timeout=WAIT)
    expect(page.locator("#chat-box a.cc-source", has_text=MEMO.name).first).to_be_focused(timeout=WAIT)  # given back
    page.context.close()


@pytest.mark.parametrize(("kb", "file", "question", "locale", "mode", "in_passage"), [
    ("word", WORD.name, "What happens to the text on the second page when the font is big?", "en-US",
     "Knowledge base", "second page"),
    ("notes", NOTES.name, "PagedAttention 如何管理 KV cache？", "zh-CN", "知识库问答", "KV cache"),
])
def test_a_docx_or_markdown_source_opens_its_passage_in_context(kbs, browser, kb, file, question, locale, mode,
                                                                in_passage):
    url, _ = kbs
    page = new_page(browser, url, locale)
    ask(page, kb, question, mode)
    open_source(page, file)
    panel = page.locator("#chat-source")
    expect(panel.locator(".cc-viewer-title")).to_contain_text(file)
    frame = panel.locator("iframe.cc-viewer-passage")
    expect(frame).to_be_visible(timeout=WAIT)
    assert frame.get_attribute("sandbox") == ""  # document text only: nothing in it runs
    passage = page.frame_locator("#chat-source iframe.cc-viewer-passage").locator("mark#passage")
    expect(passage).to_contain_text(in_passage, timeout=WAIT)
    screenshot(page, f"citations-{kb}-viewer-{locale[:2]}")
    panel.locator("#chat-source-close").click()
    expect(panel).to_be_hidden(timeout=WAIT)
    page.context.close()


@pytest.mark.parametrize(("locale", "answer", "page_word"), [
    ("en-US", "The memo counts 20,000 bottles of water [1]. It names no other delivery [9].", "page 1"),
    ("zh-CN", "备忘录记载了 20,000 瓶水[1]。没有提到其他交付[9]。", "第 1 页"),
])
def test_a_marker_is_a_chip_that_opens_its_source_from_the_keyboard(kbs, browser, locale, answer, page_word):
    """The last memo answer, its text given markers as a model writes them: a chip, reached with
    Tab-focus and opened with Enter; Escape gives the focus back to it."""
    url, home = kbs
    store = ConversationStore(load_settings(home).conversations_dir)
    conversation = next(c for c in store.list() if c.kb == "memo" and len(c.messages) >= 2)
    reply = conversation.messages[-1]
    assert reply.role == "assistant" and reply.sources
    reply.content = answer
    # as the answerer stores a model's markers: [1] kept, [9] (no such passage) dropped
    reply.markers = [Marker(1, m.start(), m.end(), "model").to_dict() for m in re.finditer(r"\[1\]", answer)]
    store.save(conversation)
    page = new_page(browser, url, locale)
    page.locator("#chat-list label", has_text=conversation.title).first.click()
    chip = page.locator("#chat-box a.cc-cite")
    expect(chip).to_have_count(1, timeout=WAIT)  # [9] points at no passage the model was given: plain text
    expect(chip).to_have_text("1")
    assert chip.get_attribute("title") == f"{MEMO.name} · {page_word}"  # the model's own: no "matched by the app"
    expect(page.locator("#chat-box")).to_contain_text("[9]")
    chip.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#chat-source")
    expect(panel).to_be_visible(timeout=WAIT)
    expect(panel.locator("img.cc-viewer-page")).to_be_visible(timeout=WAIT)
    expect(panel).to_contain_text(page_word)
    # Enter on the chip is the chip's: the answer around it is not selected, so the feedback bar stays shut
    page.wait_for_timeout(1500)  # a select event would have drawn the bar by now
    expect(page.locator("#chat-feedback:visible")).to_have_count(0)
    screenshot(page, f"citations-marker-viewer-{locale[:2]}")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden(timeout=WAIT)
    expect(chip).to_be_focused()
    page.context.close()


def test_a_marker_the_app_attached_says_so_on_the_chip_and_in_the_viewer(kbs, browser):
    """The model cited nothing, so the app matched the sentence to its passage: the chip's hover and the
    viewer's head tell the user the citation is the app's, not the model's."""
    url, home = kbs
    store = ConversationStore(load_settings(home).conversations_dir)
    conversation = next(c for c in store.list() if c.kb == "memo" and len(c.messages) >= 2)
    reply = conversation.messages[-1]
    reply.content = "The memo counts 20,000 bottles of water.[1]"
    reply.markers = [Marker(1, len(reply.content) - 3, len(reply.content), "app", 0.9).to_dict()]
    store.save(conversation)
    page = new_page(browser, url, "en-US")
    page.locator("#chat-list label", has_text=conversation.title).first.click()
    chip = page.locator("#chat-box a.cc-cite.cc-by-app")
    expect(chip).to_have_count(1, timeout=WAIT)
    assert chip.get_attribute("title").startswith(f"{MEMO.name} · page 1 — Matched by the app")
    chip.click()
    panel = page.locator("#chat-source")
    expect(panel.locator(".cc-viewer-note")).to_contain_text("Matched by the app", timeout=WAIT)
    page.context.close()


def test_a_thumb_and_its_reason_are_saved_and_exported(kbs, browser, tmp_path):
    url, home = kbs
    page = new_page(browser, url)
    store = ConversationStore(load_settings(home).conversations_dir)
    conversation = store.list()[0]
    page.locator("#chat-list label", has_text=conversation.title).first.click()
    expect(page.locator("#chat-box .message.bot").first).to_be_visible(timeout=WAIT)
    page.locator("#chat-box button[aria-label=Dislike]").last.click()
    bar = page.locator("#chat-feedback").first
    expect(bar).to_contain_text("What was wrong?", timeout=WAIT)
    text_field(page, "chat-feedback-reason").fill("The memo gives the number; the answer does not.")
    page.locator("#chat-feedback-save").click()
    expect(bar).to_be_hidden(timeout=WAIT)
    rated = store.get(conversation.id).messages[-1]
    assert rated.feedback.score == 0 and rated.feedback.reason == "The memo gives the number; the answer does not."
    page.reload()  # the export as the conversation opens, from what is stored
    page.locator("#chat-list label", has_text=conversation.title).first.click()
    expect(page.locator("#chat-box button[aria-label=Disliked]")).to_have_count(1, timeout=WAIT)  # the thumb kept
    expect(page.locator("#chat-export")).to_be_enabled(timeout=WAIT)
    with page.expect_download(timeout=WAIT) as download:
        page.locator("#chat-export").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    exported = saved.read_text(encoding="utf-8")
    assert "👎 0/100 — The memo gives the number; the answer does not." in exported
    page.context.close()
