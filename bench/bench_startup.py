"""Cold start and idle memory of the app: `python app.py` on a fresh data dir until the first HTTP 200,
then its resident memory idle, and again once a browser has opened the UI (every tab's refresh has run;
no model is loaded: models load on first use).

    python bench/bench_startup.py [--rounds 5] [--no-write]

Targets (issue 3): first HTTP 200 within 3 s, idle memory without a model at most 400 MB. The CPU time the
app used until its first 200 is printed too: unlike the wall clock, it does not depend on other processes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, command_line, header, load, scratch_dir, write_section  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
from browser import free_port, launch_browser  # noqa: E402

IDLE_SECONDS = 3.0


def rss_mb(pid: int) -> float:
    """Resident memory of the app and any child processes it started."""
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def open_ui(url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        page = browser.new_page()
        page.goto(url)
        expect(page.locator("#cc-lang input:checked")).to_have_count(1, timeout=120_000)
        for tab in ("tab-kb", "tab-models", "tab-settings", "tab-chat"):
            page.locator(f"button[role=tab][aria-controls='{tab}']").click()
            page.wait_for_timeout(1500)
        browser.close()


def one_round(with_browser: bool) -> dict:
    home = scratch_dir("startup-")
    port = free_port()
    env = {**os.environ, "CHATCHAT_HOME": str(home / "home")}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"app.py exited with {process.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.02)
        first_200 = time.perf_counter() - start
        cpu = psutil.Process(process.pid).cpu_times()
        time.sleep(IDLE_SECONDS)
        result = {"first_200": first_200, "cpu": cpu.user + cpu.system, "idle_rss": rss_mb(process.pid)}
        if with_browser:
            open_ui(url)
            time.sleep(IDLE_SECONDS)
            result["ui_rss"] = rss_mb(process.pid)
        return result
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    load_before = load()
    rounds = [one_round(with_browser=i == 0) for i in range(args.rounds)]
    load_after = load()
    starts = [r["first_200"] for r in rounds]
    cpus = [r["cpu"] for r in rounds]
    idles = [r["idle_rss"] for r in rounds]
    ui = rounds[0]["ui_rss"]
    body = header(command_line(), load_before, load_after) + f"""
| measure | median | min | max | target |
|---|---|---|---|---|
| process start → first HTTP 200 (s, wall clock) | {statistics.median(starts):.2f} | {min(starts):.2f} | {max(starts):.2f} | ≤ 3 |
| CPU time of the app until then (s, user + system) | {statistics.median(cpus):.2f} | {min(cpus):.2f} | {max(cpus):.2f} | |
| idle RSS after start, no model (MB) | {statistics.median(idles):.0f} | {min(idles):.0f} | {max(idles):.0f} | ≤ 400 |
| idle RSS after a browser opened every tab, no model (MB) | {ui:.0f} | | | ≤ 400 |

raw first-200 seconds: {[round(s, 2) for s in starts]}; idle RSS MB: {[round(m) for m in idles]}

The start is one thread importing Python modules, so on an idle machine its wall clock is about its CPU time;
on a loaded one (see the load average) the wall clock is stretched by the other processes.
"""
    print(body)
    if not args.no_write:
        write_section("App start-up and idle memory (bench_startup.py)", body)


if __name__ == "__main__":
    main()
