"""The Evaluate sub-tab of the Knowledge bases tab in a real browser (Debian chromium through Playwright, `python
app.py` on a free port, a data dir holding the demo knowledge base): the shipped test set, a run with its
progress, summary, per-question results, runs side by side and the hit@k chart; adding and deleting a
question; a malformed import as a toast; the panel in English and Chinese (screenshots under
test-artifacts/screenshots/). The tests run in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect  # noqa: E402

from browser import CHROMIUM, browser, new_page, open_tab, running_app, screenshot, text_field  # noqa: E402, F401 (browser: fixture)
from chatchat.config import load_settings  # noqa: E402
from chatchat.policy import DEMO_KB  # noqa: E402
from chatchat.service import Services  # noqa: E402
from chatchat.space import demo_documents  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium (apt-get install chromium)"),
]

WAIT = 90_000  # ms; a busy 2-core machine is slow
RUN_WAIT = 240_000


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The real app on a data dir that already holds the demo knowledge base (ingested here, before it starts)."""
    home = tmp_path_factory.mktemp("eval-ui") / "home"
    services = Services.open(load_settings(home=home))
    services.create_kb(DEMO_KB)
    assert all(r.status == "added" for r in services.add_files(DEMO_KB, demo_documents()))
    with running_app(home) as url:
        yield url, home


def evaluate_tab(app, browser, locale: str) -> Page:
    page = new_page(browser, app[0], locale)
    open_tab(page, "tab-kb")
    expect(page.locator("#kb-select input")).to_have_value(DEMO_KB, timeout=WAIT)
    open_tab(page, "kb-evaluate")
    return page


@pytest.fixture(scope="module")
def page(app, browser) -> Page:
    return evaluate_tab(app, browser, "en-US")


def toast(page: Page, text: str | re.Pattern) -> None:
    expect(page.locator(".toast-body", has_text=text).last).to_be_visible(timeout=WAIT)


def test_the_shipped_test_set_runs_with_progress_and_results(page: Page):
    expect(page.locator("#eval-count")).to_contain_text("24 questions", timeout=WAIT)
    expect(page.locator("#eval-testset")).to_contain_text("Where does Chatchat keep my data on Linux?")
    expect(page.locator("#eval-testset")).to_contain_text("7860 端口被占用了怎么办？")
    page.locator("#eval-run").click()
    expect(page.locator("#eval-cancel")).to_be_visible(timeout=WAIT)
    expect(page.locator("#eval-summary")).to_contain_text("24 questions", timeout=RUN_WAIT)
    summary = page.locator("#eval-summary").inner_text()
    assert re.search(r"hit@5 ([01]\.\d\d)", summary), summary
    expect(page.locator("#eval-run")).to_be_visible()
    expect(page.locator("#eval-cancel")).to_be_hidden()
    expect(page.locator("#eval-results")).to_contain_text("How do I stop Chatchat?")
    expect(page.locator("#eval-runs")).to_contain_text("hybrid")
    expect(page.locator("#eval-chart canvas, #eval-chart svg").first).to_be_visible(timeout=WAIT)
    screenshot(page, "evaluate-en")


def test_add_and_delete_a_question(page: Page):
    text_field(page, "eval-question").fill("How do I update after downloading a new version?")
    text_field(page, "eval-answers").fill("--update")
    page.locator("#eval-add").click()
    expect(page.locator("#eval-count")).to_contain_text("25 questions", timeout=WAIT)
    # the table draws only the rows in view: scroll it to the new last one
    page.locator("#eval-testset").get_by_text("Where does Chatchat keep my data on Linux?", exact=True).hover()
    for _ in range(12):
        page.mouse.wheel(0, 400)
    page.locator("#eval-testset").get_by_text("How do I update after downloading a new version?", exact=True).click()
    expect(page.locator("#eval-row")).to_contain_text("Editing: How do I update", timeout=WAIT)
    expect(text_field(page, "eval-answers")).to_have_value("--update")
    page.locator("#eval-delete").click()
    expect(page.locator("#eval-count")).to_contain_text("24 questions", timeout=WAIT)
    expect(page.locator("#eval-testset")).not_to_contain_text("How do I update after downloading")


def test_a_malformed_import_is_a_toast(page: Page, tmp_path: Path):
    bad = tmp_path / "问题.csv"
    bad.write_bytes("question,answers\n年假有几天？,五天\n".encode("gbk"))
    page.locator("#eval-import-file input[type=file]").set_input_files(str(bad))
    page.locator("#eval-import").click()
    toast(page, "not UTF-8 text")
    expect(page.locator("#eval-count")).to_contain_text("24 questions")


def test_the_panel_in_chinese(app, browser):
    page = evaluate_tab(app, browser, "zh-CN")
    expect(page.locator("#eval-count")).to_contain_text("共 24 个问题", timeout=WAIT)
    expect(page.locator("#eval-panel")).to_contain_text("试用这些设置")
    page.locator("#eval-run").click()
    expect(page.locator("#eval-summary")).to_contain_text("24 个问题", timeout=RUN_WAIT)
    expect(page.locator("#eval-summary")).to_contain_text("误拒")
    screenshot(page, "evaluate-zh")
