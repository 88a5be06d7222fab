"""Linux launcher first and second run, plain app.py start, and the Space's cold start.

    python bench/bench_launcher.py [--rounds 3] [--no-write]

First run: installer/chatchat.sh in a clean HOME until it prints "ready at" (install + start). As in
tests/test_launcher.py the install is the offline one (the environment sees the system's packages;
pip installs only Chatchat from this checkout), so it measures the launcher's own work, not
downloading ~1.3 GB of wheels. Second run: the same HOME again (rounds times; median). For reference,
`python app.py` straight to HTTP 200, and `SPACE_ID=… python app.py` (Space mode: demo knowledge base
built before serving) to HTTP 200 and to a demo search that finds the right file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, command_line, header, load, scratch_dir, write_section  # noqa: E402

SCRIPT = REPO / "installer" / "chatchat.sh"
OFFLINE_INSTALL = {
    "CHATCHAT_VENV_ARGS": "--system-site-packages --without-pip",
    "CHATCHAT_PIP_ARGS": "--no-index --no-build-isolation --no-deps",
    "CHATCHAT_WHEELS_INDEX": "",
    "CHATCHAT_USE_UV": "0",
}
TIMEOUT = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATCHAT_", "XDG_", "PIP_", "SPACE_"))}
    env.update(HOME=str(home), LANG="C.UTF-8", HF_HUB_OFFLINE="1", CHATCHAT_PORT=str(free_port()), **extra)
    return env


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def run_until(command: list[str], env: dict[str, str], log: Path, ready) -> tuple[float, str]:
    """Start `command` in its own process group, wait until ready(output_text) gives a URL that answers;
    returns (seconds, output) and stops the group."""
    started = time.monotonic()
    with log.open("w") as sink:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while time.monotonic() - started < TIMEOUT:
            if proc.poll() is not None:
                raise SystemExit(f"{command} ended early:\n{log.read_text()[-3000:]}")
            url = ready(log.read_text(errors="replace"))
            if url and answers(url):
                return time.monotonic() - started, log.read_text(errors="replace")
            time.sleep(0.1)
        raise SystemExit(f"{command} not ready in {TIMEOUT} s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def launcher_ready(text: str) -> str | None:
    match = re.search(r"ready at (http://\S+)", text)
    return match.group(1) if match else None


def app_ready(port: str):
    return lambda text: f"http://127.0.0.1:{port}/" if "running at" in text else None


def demo_search_s(port: str) -> float:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/knowledge_bases/demo/search",
        data=json.dumps({"query": "Where does Chatchat keep my files?", "top_k": 3}).encode(),
        headers={"Content-Type": "application/json"},
    )
    begin = time.monotonic()
    with urllib.request.urlopen(request, timeout=120) as response:
        assert "Getting started with Chatchat.md" in response.read().decode("utf-8")
    return time.monotonic() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load_before = load()
    work = scratch_dir("launcher")

    home = work / "user"
    home.mkdir()
    env = clean_env(home, **OFFLINE_INSTALL)
    first_s, output = run_until(["sh", str(SCRIPT), "--no-browser"], env, work / "first.log", launcher_ready)
    install_s = float(re.search(r"Installed in (\d+) s", output).group(1))
    seconds = []
    for round_ in range(args.rounds):
        took, output = run_until(["sh", str(SCRIPT), "--no-browser"], env, work / f"second{round_}.log", launcher_ready)
        assert "Installing" not in output
        seconds.append(took)
    second_s = statistics.median(seconds)

    plain = []
    for round_ in range(args.rounds):
        app_env = clean_env(work / "plain", CHATCHAT_HOME=str(work / "plain-home"))
        took, _ = run_until([sys.executable, "app.py"], app_env, work / f"plain{round_}.log", app_ready(app_env["CHATCHAT_PORT"]))
        plain.append(took)

    space_env = clean_env(work / "space", CHATCHAT_HOME=str(work / "space-home"), SPACE_ID="bench/chatchat")
    port = space_env["CHATCHAT_PORT"]
    space_s, _ = run_until([sys.executable, "app.py"], space_env, work / "space.log", app_ready(port))
    # again with the demo already built (a restarted Space with persistent storage), then a search
    started = time.monotonic()
    with (work / "space2.log").open("w") as sink:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=space_env, stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not answers(f"http://127.0.0.1:{port}/"):
            time.sleep(0.1)
        warm_space_s = time.monotonic() - started
        search_s = demo_search_s(port)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)

    rows = [
        ("launcher, first run (offline install + start, to HTTP 200)", first_s),
        ("  of which the install (venv + pip install -e, as the launcher reports it)", install_s),
        (f"launcher, second run (median of {args.rounds})", second_s),
        (f"python app.py, to HTTP 200 (median of {args.rounds})", statistics.median(plain)),
        ("Space cold start: SPACE_ID set, fresh data dir (demo KB built), to HTTP 200", space_s),
        ("Space restart with the demo already built, to HTTP 200", warm_space_s),
        ("then the first demo search over HTTP", search_s),
    ]
    table = "| what | seconds |\n|---|---|\n" + "\n".join(f"| {name} | {value:.1f} |" for name, value in rows)
    raw = f"raw: second runs {[round(s, 1) for s in seconds]}, app.py {[round(s, 1) for s in plain]}"
    print(table + "\n" + raw)
    shutil.rmtree(work, ignore_errors=True)
    if not args.no_write:
        body = header(command_line(), load_before, load(), "first run uses the offline install of tests/test_launcher.py "
                      "(system site packages, pip --no-index --no-deps): a real first run adds downloading ~1.3 GB of wheels")
        write_section("Launcher and Space start (bench_launcher.py)", body + "\n" + table + "\n\n" + raw)


if __name__ == "__main__":
    main()
