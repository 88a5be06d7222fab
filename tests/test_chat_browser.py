"""The Chat tab in a real browser (Debian chromium through Playwright) against `python app.py` with a fresh
data dir, the packaged MiniLM embedder and the SmolLM2 demo model: the page is in the browser's language
from its first paint, a file chat waits for its file, Stop works before the first word and keeps the
question, the bubble says what the answer is waiting for, the demo model says what it is, an export
follows a rename, and no internal knowledge base is offered anywhere."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from browser import CHROMIUM, app, browser, new_page, open_tab, radio, text_field  # noqa: E402, F401 (app, browser: fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium (apt-get install chromium)"),
]

SHARED_DOCS = Path(__file__).resolve().parents[1].parent / "shared" / "docs"
MEMO = SHARED_DOCS / "unstructured" / "fake-text.txt"
WAIT = 90_000  # ms; the first model load and ingest are slow on a busy 2-core machine
LONG_QUESTION = "Summarise this text in one line. " + "The quick brown fox jumps over the lazy dog. " * 500


def test_chinese_first_paint_has_no_english(app, browser):
    """The welcome text is Chinese before the server has said anything to this session: the events that
    would set it (the session's first refresh) are held back."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 950})
    page = context.new_page()
    page.route(re.compile(r".*/queue/join.*"), lambda route: None)  # no event ever reaches the server
    page.goto(app[0] + "/")
    chat = page.locator("#chat-box")
    expect(chat).to_contain_text("有什么可以帮你", timeout=WAIT)
    expect(page.locator("#chat-input textarea")).to_have_attribute("placeholder", re.compile("输入问题"))
    assert "Ask me anything" not in chat.inner_text()
    context.close()


def test_demo_model_says_what_it_is_and_where_to_go(app, browser):
    page = new_page(browser, app[0])
    hint = page.locator("#chat-hint")
    expect(hint).to_contain_text("tiny demo model", timeout=WAIT)
    expect(hint).to_contain_text("Qwen2.5 0.5B")
    page.locator("#chat-hint-models").click()
    expect(page.locator("#tab-models")).to_be_visible(timeout=WAIT)
    open_tab(page, "tab-chat")
    page.locator("#chat-hint-settings").click()
    expect(page.locator("#tab-settings")).to_be_visible(timeout=WAIT)
    page.context.close()


def test_stop_before_the_first_word_ends_the_turn_and_keeps_the_question(app, browser):
    page = new_page(browser, app[0])
    radio(page, "chat-mode", "LLM chat")
    text_field(page, "chat-input").fill(LONG_QUESTION)
    page.locator("#chat-send").click()
    bubble = page.locator("#chat-box .message.bot").last
    expect(bubble).to_contain_text(re.compile("Loading model|Thinking"), timeout=WAIT)  # a sign of life
    expect(bubble).to_contain_text("Thinking", timeout=WAIT)  # reading the long prompt, before any word
    started = time.monotonic()
    page.locator("#chat-stop").click()
    expect(page.locator("#chat-send")).to_be_visible(timeout=10_000)
    assert time.monotonic() - started < 10
    expect(page.locator("#chat-box")).to_contain_text("(stopped)", timeout=WAIT)
    page.reload()  # the question was saved when it was sent
    expect(page.locator("#chat-list label")).to_have_count(1, timeout=WAIT)
    page.locator("#chat-list label").first.click()
    expect(page.locator("#chat-box .message.user").first).to_contain_text("Summarise this text", timeout=WAIT)
    page.context.close()


def test_closing_the_tab_mid_answer_keeps_the_question(app, browser):
    page = new_page(browser, app[0])
    page.locator("#chat-new").click()
    text_field(page, "chat-input").fill("Tell me a long story about a lighthouse keeper.")
    page.locator("#chat-send").click()
    # the answer has begun (a stage line or the first words; a fast machine skips the stage) and is still running
    expect(page.locator("#chat-box .message.bot").last).not_to_be_empty(timeout=WAIT)
    expect(page.locator("#chat-stop")).to_be_visible()
    page.context.close()  # gone mid-answer
    page = new_page(browser, app[0])
    item = page.locator("#chat-list label", has_text="lighthouse keeper")
    expect(item).to_have_count(1, timeout=WAIT)
    item.click()
    expect(page.locator("#chat-box .message.user").first).to_contain_text("lighthouse keeper", timeout=WAIT)
    page.context.close()


def test_file_chat_waits_for_its_file_and_hides_its_knowledge_base(app, browser):
    page = new_page(browser, app[0])
    page.locator("#chat-new").click()
    radio(page, "chat-mode", "File chat")
    page.locator("#chat-files input[type=file]").set_input_files([str(MEMO)])
    send = page.locator("#chat-send")
    expect(send).to_be_disabled(timeout=WAIT)  # while the file is read, there is nothing to answer from
    expect(send).to_have_text("Reading files…")
    expect(send).to_be_enabled(timeout=3 * WAIT)
    expect(page.locator("#chat-attached")).to_contain_text(MEMO.name)
    text_field(page, "chat-input").fill("How do I bake sourdough bread?")
    send.click()
    expect(send).to_be_visible(timeout=3 * WAIT)
    expect(page.locator("#chat-box .message.bot").last).not_to_be_empty(timeout=WAIT)
    assert "_conv" not in page.locator("#chat-box").inner_text()
    radio(page, "chat-mode", "Knowledge base")  # the file chat's own knowledge base is no one's to pick
    page.locator("#chat-kb input").first.click()
    assert not page.locator("ul[role=listbox] li[role=option]", has_text="_conv").count()
    open_tab(page, "tab-kb")
    assert "_conv" not in page.locator("#tab-kb").inner_text()
    page.context.close()


def test_export_follows_a_rename(app, browser, tmp_path):
    page = new_page(browser, app[0])
    page.locator("#chat-list label").first.click()
    page.locator("#chat-rename").click()
    text_field(page, "chat-title").fill("Fox notes 狐狸")
    page.locator("#chat-rename-save").click()
    expect(page.locator("#chat-list")).to_contain_text("Fox notes 狐狸", timeout=WAIT)
    with page.expect_download(timeout=WAIT) as download:
        page.locator("#chat-export").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "Fox notes 狐狸.md"
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("# Fox notes 狐狸\n")
    assert re.search(r"\*\*You\*\* · \d{4}-\d\d-\d\d \d\d:\d\d\n", text), text[:300]  # local time, to the minute
    page.context.close()
