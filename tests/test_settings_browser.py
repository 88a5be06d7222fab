"""The Settings tab in a real browser, in Chinese: Save writes only what the person changed there (not the
env's secret and top_k), the hub mirror and ModelScope are settings, a refused value reads in Chinese
(issue 11: security section and item 10)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from browser import CHROMIUM, launch_browser, new_page, open_tab, radio, running_app, screenshot, text_field  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium (apt-get install chromium)"),
]
WAIT = 60_000
WANTED = {"hf_endpoint": "https://hf-mirror.com", "download_source": "modelscope"}  # no api_key, no top_k


def saved_file(home: Path) -> dict:
    path = home / "settings.yaml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def test_settings_tab_saves_the_mirror_and_source_and_nothing_from_the_env(tmp_path):
    home = tmp_path / "home"
    env = {"CHATCHAT_API_KEY": "sk-from-env", "CHATCHAT_TOP_K": "7"}
    with running_app(home, env=env) as url, sync_playwright() as playwright:
        browser = launch_browser(playwright)
        page = new_page(browser, url, "zh-CN", height=1100, wait=WAIT)
        expect(page.locator("#cc-lang input:checked")).to_have_value("zh", timeout=WAIT)
        open_tab(page, "tab-settings")
        # the session's first render has reached this tab (it is the last one the load renders)
        expect(page.locator("#set-keys-table")).to_contain_text("DeepSeek", timeout=WAIT)
        mirror = text_field(page, "set-mirror")
        mirror.fill("https://hf-mirror.com")
        radio(page, "set-source", "ModelScope")
        open_tab(page, "tab-models")  # a tab switch re-renders nothing: what was typed stays (issue 13)
        open_tab(page, "tab-settings")
        expect(mirror).to_have_value("https://hf-mirror.com")
        page.locator("#set-save").click()
        expect(page.get_by_text("设置已保存").first).to_be_visible(timeout=WAIT)
        assert saved_file(home) == WANTED
        mirror.fill("ftp://mirror.example")
        page.locator("#set-save").click()
        expect(page.get_by_text("未保存", exact=False).first).to_be_visible(timeout=WAIT)
        screenshot(page, "settings-downloads-zh")
        browser.close()
    assert saved_file(home) == WANTED  # the refused value left it as it was
    assert not (home / "keys.yaml").exists()
