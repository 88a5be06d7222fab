"""The Models tab's Model servers section in a real browser, in Chinese (issue 18): the Ollama preset, its address
moved to a local stand-in of an OpenAI-compatible server (tests/provider_stand_in.py: no Ollama runs here), is
not contacted until List is clicked; its model is listed, added as a chat model and shows in the models table
as on a server; an address where nothing answers reads as a keyed error in Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from browser import CHROMIUM, choose, free_port, launch_browser, new_page, open_tab, running_app, screenshot, text_field  # noqa: E402
from chatchat.models.catalog import load_catalog  # noqa: E402
from chatchat.models.user_catalog import open_catalog  # noqa: E402
from chatchat.config import load_settings  # noqa: E402
from provider_stand_in import Recorder  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium (apt-get install chromium)"),
]
WAIT = 60_000


def test_list_a_servers_models_add_one_and_see_it_in_the_table(tmp_path):
    home = tmp_path / "home"
    home.mkdir(parents=True)
    with Recorder([{"id": "qwen2.5:0.5b", "object": "model", "owned_by": "library"}]) as stand_in:
        address = f"http://127.0.0.1:{stand_in.port}/v1"
        ollama = load_catalog().provider("ollama").model_copy(update={"base_url": address})
        (home / "models.yaml").write_text(yaml.safe_dump({"providers": [ollama.model_dump(exclude_defaults=True)]}))
        with running_app(home) as url, sync_playwright() as playwright:
            browser = launch_browser(playwright)
            page = new_page(browser, url, "zh-CN", height=1600, wait=WAIT)
            open_tab(page, "tab-settings")  # the session's first render has reached the last tab, past the Models tab
            expect(page.locator("#set-keys-table")).to_contain_text("DeepSeek", timeout=WAIT)
            open_tab(page, "tab-models")
            expect(text_field(page, "servers-address")).to_have_value(address, timeout=WAIT)
            assert stand_in.requests == []  # the app started and drew the tab without asking the server
            page.locator("#servers-list").click()
            expect(page.locator("#servers-found")).to_contain_text("Ollama 提供 1 个模型", timeout=WAIT)
            expect(page.locator("#servers-table")).to_contain_text("qwen2.5:0.5b", timeout=WAIT)
            assert [r[:2] for r in stand_in.requests] == [("GET", "/v1/models")]
            choose(page, "servers-model", "qwen2.5:0.5b")
            page.locator("#servers-add").click()
            expect(page.get_by_text("已添加「qwen2.5:0.5b」", exact=False).first).to_be_visible(timeout=WAIT)
            expect(page.locator("#models-table")).to_contain_text("ollama-qwen2.5-0.5b", timeout=WAIT)
            expect(page.locator("#models-table")).to_contain_text("服务器上")
            screenshot(page, "models-servers-zh")
            text_field(page, "servers-address").fill(f"http://127.0.0.1:{free_port()}/v1")
            page.locator("#servers-list").click()
            expect(page.get_by_text("无法连接", exact=False).first).to_be_visible(timeout=WAIT)
            browser.close()
    entry = open_catalog(load_settings(home)).llms["ollama-qwen2.5-0.5b"]
    assert (entry.engine, entry.provider, entry.model) == ("openai", "ollama", "qwen2.5:0.5b")
