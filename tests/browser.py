"""Driving the real app in Debian's chromium: start `python app.py` on a free port with its own data dir,
open pages in Playwright, and keep screenshots under test-artifacts/screenshots/ (git ignores them)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
START_TIMEOUT = 180  # seconds; a loaded 2-core CI machine is slow to import gradio and lancedb
PAGE_WAIT = 90_000  # ms a new session's first refresh may take on a busy machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float = START_TIMEOUT) -> float:
    """Seconds until `url` answered 200; fails with the server's log if it died or never answered."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s:\n{log.read_text(errors='replace')}")


@contextmanager
def running_app(home: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`python app.py --port N` with CHATCHAT_HOME=home; yields its base URL and stops it afterwards."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    log = home.parent / f"app-{port}.log"
    environment = {**os.environ, "CHATCHAT_HOME": str(home), "PYTHONPATH": str(REPO), **(env or {})}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "app.py"), "--port", str(port), *args],
            cwd=REPO, env=environment, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(url + "/", process, log)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# fixtures for the browser test modules (each imports them: one app and one chromium per module)
@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The real app on its own data dir: (base URL, home)."""
    home = tmp_path_factory.mktemp("ui") / "home"
    with running_app(home) as url:
        yield url, home


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


def new_page(browser, url: str, locale: str = "en-US", *, height: int = 1000, wait: float = PAGE_WAIT,
             **context: Any) -> Page:
    """The app at `url` in a new browser context (a new session: its own cookies) with this locale, once the
    session's first refresh ran (the language switch has its value). `context`: more new_context options."""
    page = browser.new_context(locale=locale, viewport={"width": 1400, "height": height}, **context).new_page()
    page.goto(url + "/")
    expect(page.locator("#cc-lang input:checked")).to_have_count(1, timeout=wait)
    return page


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- Gradio widgets by elem_id ------------------------------------------------------------------------
def text_field(page, elem_id: str):
    return page.locator(f"#{elem_id} textarea, #{elem_id} input[type=text], #{elem_id} input[type=password]").first


def choose(page, elem_id: str, option: str) -> None:
    """Pick `option` in a gr.Dropdown. A refresh that lands while the list is open re-renders it (on a busy
    machine a tab's refresh can come seconds after the tab opened), so a pick that lost its list is tried again."""
    for attempt in range(3):
        page.locator(f"#{elem_id} input").first.click()
        try:
            page.locator("ul[role=listbox] li[role=option]", has_text=option).first.click(timeout=10_000)
            return
        except PlaywrightTimeout:  # the option was detached or hidden by a re-render
            if attempt == 2:
                raise
            page.keyboard.press("Escape")


def radio(page, elem_id: str, label: str) -> None:
    page.locator(f"#{elem_id} label", has_text=label).first.click()


def open_tab(page, elem_id: str) -> None:
    """Click the tab button of the gr.Tab with this elem_id (tab buttons carry the tab's id)."""
    page.locator(f"button[role=tab][aria-controls='{elem_id}']").first.click()
