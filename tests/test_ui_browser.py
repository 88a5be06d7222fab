"""The real app in a real browser (Debian chromium through Playwright): `python app.py` on a free port with
a fresh data dir, the packaged MiniLM embedder and the SmolLM2 chat model. One app serves the whole module;
the tests run in order, each building on what the one before left (as a person using it would).
Screenshots of every tab go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect  # noqa: E402

from browser import (  # noqa: E402, F401 (app, browser: fixtures)
    CHROMIUM, app, browser, choose, new_page, open_tab, radio, screenshot, text_field,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium (apt-get install chromium)"),
]

SHARED_DOCS = Path(__file__).resolve().parents[1].parent / "shared" / "docs"
CHINESE_DOC = SHARED_DOCS / "chatchat-samples" / "大模型推理优化策略.md"
ENGLISH_DOC = SHARED_DOCS / "unstructured" / "eng_spa_mult.md"
BROKEN_PDF = SHARED_DOCS / "unstructured" / "password.pdf"
KB = "docs-测试"
WAIT = 60_000  # ms; ingest and the first model load are slow on a busy 2-core machine


@pytest.fixture
def page_en(app, browser) -> Page:
    page = new_page(browser, app[0], height=950, wait=WAIT)
    expect(page.locator("#tab-chat-button")).to_have_text("Chat", timeout=WAIT)
    yield page
    page.context.close()


def loaded(page: Page) -> None:
    """The session's first refresh has run (the language switch has its value)."""
    expect(page.locator("#cc-lang input:checked")).to_have_count(1, timeout=WAIT)


def test_empty_install_in_chinese(app, browser):
    """A browser asking for Chinese gets the Chinese UI; an empty install explains what to do first."""
    page = new_page(browser, app[0], "zh-CN", height=950, wait=WAIT)
    expect(page.locator("#tab-kb-button")).to_have_text("知识库", timeout=WAIT)
    expect(page.locator("#cc-lang input:checked")).to_have_value("zh", timeout=WAIT)
    expect(page.locator("#chat-box")).to_contain_text("有什么可以帮你", timeout=WAIT)
    # written on the server for this session, in the language it chose for it from the first render on
    hint = page.locator("#chat-hint")
    expect(hint).to_contain_text("演示模型", timeout=WAIT)
    assert "demo model" not in hint.inner_text()
    screenshot(page, "chat-empty-zh")
    open_tab(page, "tab-kb")
    expect(page.locator("#tab-kb")).to_contain_text("还没有知识库", timeout=WAIT)
    expect(page.locator("#kb-demo")).to_be_visible()
    expect(text_field(page, "kb-new-name")).to_be_visible()
    expect(page.locator("#kb-select")).to_be_hidden()
    screenshot(page, "kb-empty-zh")
    open_tab(page, "tab-chat")
    radio(page, "chat-mode", "知识库问答")
    expect(page.locator("#chat-hint")).to_contain_text("还没有知识库", timeout=WAIT)
    page.context.close()




def test_a_first_chinese_session_stays_chinese_whatever_lands_last(app, browser):
    """Gradio fires the first tab's select as a page loads, alongside the load itself: a render chained to
    that select read the language switch before the session's language was decided (English), and when it
    landed last a first Chinese session showed the demo notice in English. Here every event sent with an
    English value is held until the Chinese page is up, then let through."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 950})
    page = context.new_page()
    held = []

    def hold_english(route) -> None:
        data = (route.request.post_data_json or {}).get("data") or []
        if "en" in data:
            held.append(route)
        else:
            route.continue_()

    page.route(re.compile(r".*/queue/join.*"), hold_english)
    page.goto(app[0] + "/")
    hint = page.locator("#chat-hint")
    expect(hint).to_contain_text("演示模型", timeout=WAIT)
    expect(page.locator("#cc-lang input:checked")).to_have_value("zh")
    for route in held:
        route.continue_()
    page.wait_for_timeout(5000)  # what was held has landed
    expect(hint).to_contain_text("演示模型")
    assert "demo model" not in hint.inner_text()
    context.close()

def test_create_kb_and_upload_with_progress(page_en: Page, tmp_path: Path):
    page = page_en
    open_tab(page, "tab-kb")
    name = text_field(page, "kb-new-name")
    expect(name).to_be_visible(timeout=WAIT)  # with no knowledge base yet, the form is open
    name.fill("bad/name")
    page.locator("#kb-create").click()
    expect(page.locator(".toast-body").last).to_contain_text("not a valid knowledge-base name", timeout=WAIT)
    text_field(page, "kb-new-name").fill(KB)
    page.locator("#kb-create").click()
    expect(page.locator("#kb-select input")).to_have_value(KB, timeout=WAIT)

    unsupported = tmp_path / "notes <img src=x onerror=alert(1)>.exe"  # unsupported, and a hostile name
    unsupported.write_bytes(b"MZ\x90\x00 not a document")
    page.locator("#kb-upload-files input[type=file]").set_input_files(
        [str(CHINESE_DOC), str(ENGLISH_DOC), str(BROKEN_PDF), str(unsupported)]
    )
    expect(page.locator("#kb-upload-files")).to_contain_text(CHINESE_DOC.name, timeout=WAIT)
    page.locator("#kb-add").click()
    progress = page.locator("#kb-progress")
    expect(progress).to_contain_text("4 of 4 files", timeout=3 * WAIT)
    expect(progress.locator(".cc-added")).to_have_count(2)
    expect(progress.locator(".cc-failed")).to_have_count(2)
    expect(progress.locator(".cc-failed").first).to_contain_text("password")  # a readable reason per file
    expect(progress).to_contain_text("files of type .exe are not supported")
    table = page.locator("#kb-docs-table")
    expect(table).to_contain_text(CHINESE_DOC.name)
    expect(table).to_contain_text(ENGLISH_DOC.name)
    expect(table).to_contain_text("ready")
    expect(page.locator("#kb-add")).to_be_enabled()  # usable after a batch with failures
    screenshot(page, "kb-documents-en")
    open_tab(page, "tab-chat")  # no reload: the Chat tab heard of the new knowledge base (events.kbs)
    radio(page, "chat-mode", "Knowledge base")
    choose(page, "chat-kb", KB)
    expect(page.locator("#chat-kb")).to_contain_text(KB)


def test_test_search_and_chunks(page_en: Page):
    page = page_en
    open_tab(page, "tab-kb")
    loaded(page)
    page.locator("#kb-docs-table [role=gridcell]", has_text=CHINESE_DOC.name).first.click()
    expect(page.locator("#kb-doc-selected")).to_contain_text(CHINESE_DOC.name, timeout=WAIT)
    page.locator("#kb-doc-chunks").click()
    expect(page.locator("#kb-chunks")).to_contain_text("推理", timeout=WAIT)
    page.get_by_role("tab", name="Test search").click()
    text_field(page, "kb-search-query").fill("推理优化")
    page.locator("#kb-search-go").click()
    hits = page.locator("#kb-search-results .cc-hit")
    expect(hits.first).to_contain_text(CHINESE_DOC.name, timeout=WAIT)
    expect(hits.first.locator(".cc-score")).to_have_text(re.compile(r"^-?\d\.\d{3}$"))
    text_field(page, "kb-search-query").fill("")
    page.locator("#kb-search-go").click()
    expect(page.locator(".toast-body").last).to_contain_text("query is empty", timeout=WAIT)
    screenshot(page, "kb-search-en")


def test_kb_chat_streams_an_answer_with_sources(page_en: Page):
    page = page_en
    loaded(page)
    radio(page, "chat-mode", "Knowledge base")
    choose(page, "chat-kb", KB)
    text_field(page, "chat-input").fill("What are all human beings born with?")
    page.locator("#chat-send").click()
    expect(page.locator("#chat-stop")).to_be_visible(timeout=WAIT)
    bot = page.locator("#chat-box .message.bot")
    expect(bot.first).not_to_be_empty(timeout=WAIT)
    expect(page.locator("#chat-send")).to_be_visible(timeout=3 * WAIT)
    expect(page.locator("#chat-box")).to_contain_text("Sources", timeout=WAIT)
    page.locator("#chat-box").get_by_text("Sources").first.click()
    expect(page.locator("#chat-box")).to_contain_text(ENGLISH_DOC.name)
    expect(page.locator("#chat-list label")).to_have_count(1, timeout=WAIT)
    expect(page.locator("#chat-export")).to_be_enabled()
    screenshot(page, "chat-answer-en")


def test_stop_a_streaming_answer(page_en: Page):
    page = page_en
    loaded(page)
    page.locator("#chat-new").click()
    radio(page, "chat-mode", "LLM chat")
    text_field(page, "chat-input").fill("Write a very long story about a dragon who learns to cook, in many chapters.")
    page.locator("#chat-send").click()
    stop = page.locator("#chat-stop")
    expect(stop).to_be_visible(timeout=WAIT)
    expect(page.locator("#chat-box .message.bot").first).not_to_be_empty(timeout=WAIT)
    stop.click()
    expect(page.locator("#chat-send")).to_be_visible(timeout=WAIT)
    expect(page.locator("#chat-box")).to_contain_text("(stopped)", timeout=WAIT)
    expect(page.locator("#chat-list label")).to_have_count(2, timeout=WAIT)


def test_switch_language(page_en: Page):
    page = page_en
    loaded(page)
    open_tab(page, "tab-kb")
    expect(page.locator("#kb-docs-table")).to_contain_text("File", timeout=WAIT)
    radio(page, "cc-lang", "中文")
    expect(page.locator("#tab-kb-button")).to_have_text("知识库", timeout=WAIT)
    expect(page.locator("#kb-docs-table")).to_contain_text("文件", timeout=WAIT)  # server-written header
    expect(page.locator("#kb-docs-table")).to_contain_text("就绪")
    page.reload()  # the choice stays with this browser
    expect(page.locator("#tab-kb-button")).to_have_text("知识库", timeout=WAIT)
    expect(page.locator("#cc-lang input:checked")).to_have_value("zh", timeout=WAIT)
    radio(page, "cc-lang", "English")
    expect(page.locator("#tab-kb-button")).to_have_text("Knowledge bases", timeout=WAIT)


def test_provider_key_is_masked(page_en: Page, app):
    page = page_en
    loaded(page)
    open_tab(page, "tab-settings")
    key = "sk-test-0123456789abcdef"
    choose(page, "set-provider", "DeepSeek")
    text_field(page, "set-key").fill(key)
    page.locator("#set-key-save").click()
    table = page.locator("#set-keys-table")
    expect(table).to_contain_text("sk-••••••••cdef", timeout=WAIT)
    expect(text_field(page, "set-key")).to_have_value("")
    assert key not in page.content()
    keys_file = app[1] / "keys.yaml"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert key in keys_file.read_text()
    screenshot(page, "settings-en")
    open_tab(page, "tab-models")
    expect(page.locator("#models-table")).to_contain_text("smollm2-135m-instruct", timeout=WAIT)
    screenshot(page, "models-en")
    # a new default made in the Models tab shows in Settings without a reload (events.models)
    page.locator("#models-table [role=gridcell]", has_text="minilm-l6-v2-int8").first.click()
    page.locator("#models-default").click()
    expect(page.locator("#models-table")).to_contain_text("★ all-MiniLM-L6-v2", timeout=WAIT)
    open_tab(page, "tab-settings")
    expect(page.locator("#set-embedding input")).to_have_value(re.compile("all-MiniLM-L6-v2"), timeout=WAIT)


def test_delete_document_removes_it_from_search(page_en: Page):
    page = page_en
    open_tab(page, "tab-kb")
    loaded(page)
    page.locator("#kb-docs-table [role=gridcell]", has_text=ENGLISH_DOC.name).first.click()
    expect(page.locator("#kb-doc-selected")).to_contain_text(ENGLISH_DOC.name, timeout=WAIT)
    page.locator("#kb-doc-delete").click()
    expect(page.locator("#kb-docs-table")).not_to_contain_text(ENGLISH_DOC.name, timeout=WAIT)
    page.get_by_role("tab", name="Test search").click()
    text_field(page, "kb-search-query").fill("human beings born free")
    page.locator("#kb-search-go").click()
    results = page.locator("#kb-search-results")
    expect(results.locator(".cc-hit, .cc-empty").first).to_be_visible(timeout=WAIT)
    expect(results).not_to_contain_text(ENGLISH_DOC.name)


def test_delete_kb_with_confirmation_then_one_click_demo(page_en: Page):
    """Deleting the last knowledge base brings back the first-run page, whose button builds the demo."""
    page = page_en
    open_tab(page, "tab-kb")
    loaded(page)
    expect(page.locator("#kb-select input")).to_have_value(KB, timeout=WAIT)
    page.locator("#kb-delete").click()
    expect(page.locator("#tab-kb")).to_contain_text(f"Delete {KB} with all its documents (1)", timeout=WAIT)
    page.locator("#kb-delete-yes").click()
    expect(page.locator("#tab-kb")).to_contain_text("No knowledge base yet", timeout=WAIT)
    page.locator("#kb-demo").click()
    progress = page.locator("#kb-progress")
    expect(progress).to_contain_text("3 of 3 files", timeout=3 * WAIT)
    expect(progress.locator(".cc-added")).to_have_count(3)
    expect(page.locator("#kb-select input")).to_have_value("demo")
    expect(page.locator("#kb-docs-table")).to_contain_text("Getting started with Chatchat.md")
    screenshot(page, "kb-demo-en")
