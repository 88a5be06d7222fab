"""Agent and search-engine chat in the Chat tab, in a real browser (Debian chromium through Playwright)
against `python app.py`. The model is a provider model pointing at tests/tool_model_stand_in.py, a scripted
OpenAI-compatible server that returns tool calls (the stand-in for a cloud model: none is reachable here);
the MCP server (tests/mcp_test_server.py) is real and configured in settings.yaml as a person would; the
search engine is tests/web_stand_in.py, a local server speaking SearXNG's JSON API and serving real HTML
pages. All three are started by this module on loopback ports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect  # noqa: E402

import tool_model_stand_in  # noqa: E402
from browser import (  # noqa: E402, F401 (browser: fixture)
    CHROMIUM, browser, choose, new_page, open_tab, radio, running_app, screenshot, text_field)
from chatchat.config import load_settings, save_settings  # noqa: E402
from web_stand_in import StandIn  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium (apt-get install chromium)"),
]

SERVER = Path(__file__).with_name("mcp_test_server.py")
MODEL = "standin/stand-in"
WAIT = 90_000  # ms
WEB_QUESTION = "元宵节为什么要吃汤圆？"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(base URL, the model stand-in, the web stand-in, the MCP server's notes file)."""
    root = tmp_path_factory.mktemp("agent-ui")
    home, notes = root / "home", root / "notes.txt"
    home.mkdir()
    with tool_model_stand_in.running([]) as model, StandIn() as web:
        (home / "models.yaml").write_text(yaml.safe_dump(
            {"providers": [{"id": "standin", "name": "Tool-calling stand-in", "base_url": model.url,
                            "chat_models": ["stand-in"]}]}))
        save_settings(load_settings(home=home), {
            "default_llm": MODEL, "web_provider": "searxng", "web_searxng_url": web.url,
            "mcp_servers": [{"name": "notes", "command": f"{sys.executable} {SERVER} stdio {notes}"}],
        })
        with running_app(home) as url:
            yield url, model, web, notes


def ask(page: Page, text: str) -> None:
    expect(page.locator("#chat-send")).to_be_visible(timeout=WAIT)  # the last answer has ended
    text_field(page, "chat-input").fill(text)
    page.locator("#chat-send").click()


def open_steps(page: Page, title: str):
    """The folded steps message under the last answer, opened."""
    return unfold(page, title, "code")


def unfold(page: Page, title: str, inside: str):
    """The last chatbot message titled `title`, unfolded once the answer has ended (its last redraw
    folds every message again) until `inside` in it shows."""
    expect(page.locator("#chat-send")).to_be_visible(timeout=WAIT)
    page.wait_for_timeout(2000)  # the redraws that follow the answer (its conversation's list and export) land
    message = page.locator("#chat-box .message", has_text=title).last
    expect(message).to_be_visible(timeout=WAIT)
    for _ in range(3):  # a click also selects the message, and the answer's feedback bar redraws it folded
        if message.locator(inside).first.is_visible():
            break
        message.locator("button").first.click()
        page.wait_for_timeout(1500)
    expect(message.locator(inside).first).to_be_visible(timeout=WAIT)
    return message


def test_agent_steps_show_under_the_answer_live_and_after_a_reload(setup, browser):
    url, model, _, _ = setup
    page = new_page(browser, url)
    radio(page, "chat-mode", "Agent")
    expect(page.locator("#chat-use-web")).to_be_visible(timeout=WAIT)
    # a slow model (the packaged demo one takes minutes): the bubble says which step the agent is at meanwhile
    model.script = [{"tool_calls": [("calculator", {"expression": "(3+4)*2"})], "wait": 4},
                    {"content": "It is 14.", "wait": 4}]
    ask(page, "What is (3+4)*2?")
    chat = page.locator("#chat-box")
    expect(chat).to_contain_text("Thinking… step 1 of 6", timeout=WAIT)
    expect(chat).to_contain_text("Thinking… step 2 of 6", timeout=WAIT)
    assert "It is 14." not in chat.inner_text()  # the stage came before the answer
    expect(chat).to_contain_text("It is 14.", timeout=WAIT)
    expect(chat).not_to_contain_text("Thinking…")
    steps = open_steps(page, "Tool steps (1)")
    expect(steps).to_contain_text("calculator", timeout=WAIT)
    expect(steps).to_contain_text("(3+4)*2")
    expect(steps).to_contain_text("14")
    screenshot(page, "agent-steps-en")
    page.reload()
    expect(page.locator("#cc-lang input:checked")).to_have_count(1, timeout=WAIT)
    page.locator("#chat-list label").first.click()
    expect(chat).to_contain_text("It is 14.", timeout=WAIT)
    expect(open_steps(page, "Tool steps (1)")).to_contain_text("calculator", timeout=WAIT)
    page.context.close()


def test_a_tool_that_asks_first_waits_for_allow_or_deny(setup, browser):
    url, model, _, notes = setup
    page = new_page(browser, url)
    radio(page, "chat-mode", "Agent")
    panel = page.locator("#chat-approval-text")
    model.script = [{"tool_calls": [("notes__remember", {"note": "buy milk"})]}, {"content": "Noted."}]
    ask(page, "Remember: buy milk")
    expect(panel).to_be_visible(timeout=WAIT)
    expect(panel).to_contain_text("notes__remember")
    expect(panel).to_contain_text("buy milk")
    assert not notes.exists()  # nothing ran before the OK
    page.locator("#chat-allow").click()
    expect(page.locator("#chat-box")).to_contain_text("Noted.", timeout=WAIT)
    expect(panel).to_be_hidden()
    assert notes.read_text(encoding="utf-8") == "buy milk\n"

    page.locator("#chat-new").click()
    model.script = [{"tool_calls": [("notes__remember", {"note": "eggs"})]}, {"content": "Not noted."}]
    ask(page, "Remember: eggs")
    expect(panel).to_be_visible(timeout=WAIT)
    page.locator("#chat-deny").click()
    expect(page.locator("#chat-box")).to_contain_text("Not noted.", timeout=WAIT)
    expect(open_steps(page, "Tool steps (1)")).to_contain_text("failed", timeout=WAIT)
    assert "did not allow" in model.requests[-1]["messages"][-1]["content"]
    assert notes.read_text(encoding="utf-8") == "buy milk\n"
    page.context.close()


def test_agent_steps_in_chinese(setup, browser):
    url, model, _, _ = setup
    page = new_page(browser, url, locale="zh-CN")
    radio(page, "chat-mode", "智能体")
    model.script = [{"tool_calls": [("convert_units", {"value": 10, "from_unit": "斤", "to_unit": "kg"})], "wait": 4},
                    {"content": "10 斤是 5 公斤。"}]
    ask(page, "10斤是多少公斤？")
    expect(page.locator("#chat-box")).to_contain_text("思考中…第 1 步，共 6 步", timeout=WAIT)
    expect(page.locator("#chat-box")).to_contain_text("10 斤是 5 公斤。", timeout=WAIT)
    expect(open_steps(page, "工具调用（1）")).to_contain_text("10 斤 = 5 kg", timeout=WAIT)
    screenshot(page, "agent-steps-zh")
    page.context.close()


def test_a_web_answer_cites_the_page_and_its_source_opens_it(setup, browser):
    url, model, web, _ = setup
    page = new_page(browser, url)
    radio(page, "chat-mode", "Search engine")
    model.script = [{"content": "Tangyuan are round, for the family's reunion [1]."}]
    ask(page, WEB_QUESTION)
    chat = page.locator("#chat-box")
    expect(chat).to_contain_text("reunion", timeout=WAIT)
    assert any(path.startswith("/search") for path in web.requests)  # the SearXNG stand-in was asked
    unfold(page, "Sources (", "a.cc-source")
    link = chat.locator(f'a.cc-source[href="{web.url}/pages/lantern-festival.html"]')
    expect(link).to_be_visible(timeout=WAIT)
    screenshot(page, "web-answer-en")
    with page.context.expect_page(timeout=WAIT) as opened:
        link.click()
    expect(opened.value).to_have_url(f"{web.url}/pages/lantern-festival.html", timeout=WAIT)
    page.context.close()


def test_settings_keep_the_search_engine_and_the_mcp_servers(setup, browser):
    url, _, _, notes = setup
    home = notes.parent / "home"
    page = new_page(browser, url)
    open_tab(page, "tab-settings")
    table = page.locator("#set-mcp-table")
    expect(table).to_contain_text("notes", timeout=WAIT)
    expect(table).to_contain_text("mcp_test_server.py")
    text_field(page, "set-mcp-name").fill("clock")
    text_field(page, "set-mcp-target").fill("http://127.0.0.1:9/mcp")
    page.locator("#set-mcp-ask input").uncheck()
    page.locator("#set-mcp-add").click()
    expect(table).to_contain_text("http://127.0.0.1:9/mcp", timeout=WAIT)
    choose(page, "set-web-provider", "Brave")
    page.locator("#set-web-save").click()
    expect(page.locator("#set-web-provider input")).to_have_value("Brave Search", timeout=WAIT)
    page.wait_for_timeout(1000)
    saved = yaml.safe_load((home / "settings.yaml").read_text(encoding="utf-8"))
    assert saved["web_provider"] == "brave"
    servers = {s["name"]: s for s in saved["mcp_servers"]}
    assert servers["clock"]["url"] == "http://127.0.0.1:9/mcp" and not servers["clock"]["ask_before_run"]
    assert servers["notes"]["ask_before_run"]
    page.context.close()
