"""Cold start and idle memory of the app: `python app.py` on a fresh data dir until the first HTTP 200,
against a bare Gradio Blocks app with one textbox started the same way in the same run (interleaved, so
the load of the shared machine hits both alike); then the app's resident memory idle, and again once a
browser has opened the UI (every tab's refresh has run; no model is loaded: models load on first use).
A start on a data dir that already holds a knowledge base is timed too (its crash recovery reads the
tables after the first paint).

    python bench/bench_startup.py [--rounds 5] [--no-write]

Targets (issue 17): first HTTP 200 at most 1.3× the bare Gradio app's; idle memory without a model at most
400 MB. The CPU time each process used until its first 200 is printed too: unlike the wall clock, it does
not depend on other processes.
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
# the reference: what any Gradio app costs to start (Gradio's import, FastAPI, uvicorn, its first page)
BARE_GRADIO = """
import sys
import gradio as gr
with gr.Blocks() as demo:
    gr.Textbox()
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True)
"""


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


def start(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str, float, float]:
    """Start a server on a free port; its URL, the seconds until it answered / with 200, and its CPU
    seconds (user + system) by then."""
    port = free_port()
    begin = time.perf_counter()
    process = subprocess.Popen([sys.executable, *argv, str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{argv[0]} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.02)
    wall = time.perf_counter() - begin
    cpu = psutil.Process(process.pid).cpu_times()
    return process, url, wall, cpu.user + cpu.system


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def bare_round() -> dict:
    process, _, wall, cpu = start(["-c", BARE_GRADIO], dict(os.environ))
    stop(process)
    return {"first_200": wall, "cpu": cpu}


def app_round(with_browser: bool, with_kb: bool = False) -> dict:
    home = scratch_dir("startup-")
    env = {**os.environ, "CHATCHAT_HOME": str(home / "home")}
    if with_kb:
        subprocess.run([sys.executable, "-m", "chatchat", "kb", "create", "bench"], cwd=REPO, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    process, url, wall, cpu = start([str(REPO / "app.py"), "--port"], env)
    try:
        time.sleep(IDLE_SECONDS)
        result = {"first_200": wall, "cpu": cpu, "idle_rss": rss_mb(process.pid)}
        if with_browser:
            open_ui(url)
            time.sleep(IDLE_SECONDS)
            result["ui_rss"] = rss_mb(process.pid)
        return result
    finally:
        stop(process)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    load_before = load()
    bare, apps, with_kb = [], [], []
    for i in range(args.rounds):  # interleaved: a burst of load hits each alike
        bare.append(bare_round())
        apps.append(app_round(with_browser=False))
        with_kb.append(app_round(with_browser=False, with_kb=True))
    ui = app_round(with_browser=True)["ui_rss"]
    load_after = load()

    def med(rounds: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    def row(what: str, rounds: list[dict]) -> str:
        starts = [r["first_200"] for r in rounds]
        return (f"| {what} | {med(rounds, 'first_200'):.2f} | {min(starts):.2f} | {max(starts):.2f} "
                f"| {med(rounds, 'cpu'):.2f} | {med(rounds, 'first_200') / med(bare, 'first_200'):.2f} "
                f"| {med(rounds, 'cpu') / med(bare, 'cpu'):.2f} |")

    idles = [r["idle_rss"] for r in apps + with_kb]
    body = header(command_line(), load_before, load_after, f"{args.rounds} rounds, interleaved; each a fresh "
                  "process and, for the app, a fresh data dir") + f"""
| process start → first HTTP 200 | wall median (s) | min | max | CPU median (s) | wall ÷ bare Gradio | CPU ÷ bare Gradio |
|---|---|---|---|---|---|---|
{row("bare Gradio Blocks app, one textbox (`demo.launch`)", bare)}
{row("`python app.py`, fresh data dir", apps)}
{row("`python app.py`, data dir with one knowledge base", with_kb)}

Goal (issue 17): `python app.py` ≤ 1.3× the bare Gradio app.

| memory | median | min | max | target |
|---|---|---|---|---|
| idle RSS after start, no model (MB) | {statistics.median(idles):.0f} | {min(idles):.0f} | {max(idles):.0f} | ≤ 400 |
| idle RSS after a browser opened every tab, no model (MB) | {ui:.0f} | | | ≤ 400 |

raw first-200 seconds: bare {[round(r['first_200'], 2) for r in bare]}, app {[round(r['first_200'], 2) for r in apps]}, \
app with a knowledge base {[round(r['first_200'], 2) for r in with_kb]}
"""
    print(body)
    if not args.no_write:
        write_section("App start-up and idle memory (bench_startup.py)", body)


if __name__ == "__main__":
    main()
