"""Server memory under concurrent knowledge-base chats (issue 12, finding 9): `chatchat serve` in its own
process on the demo knowledge base with the packaged SmolLM2, N clients asking at once over HTTP; its RSS is
sampled throughout. The reference is one chat alone in the same run.

    python bench/bench_chat_memory.py [--clients 24] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import REPO, command_line, header, load, open_services, percentile, scratch_dir, write_section  # noqa: E402
from api_server import free_port  # noqa: E402  (the tests' helper: a free loopback port)

QUESTIONS = ["Where does Chatchat keep my data?", "数据保存在哪里？", "How do I add documents?", "支持哪些文件格式？"]


class Sampler(threading.Thread):
    """Peak RSS (MB) of one process, sampled every 0.1 s until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss / 2**20)
            time.sleep(0.1)

    def rss(self) -> float:
        return self.process.memory_info().rss / 2**20


def ask(base: str, question: str, max_tokens: int) -> tuple[float, str | None]:
    start = time.monotonic()
    try:
        r = httpx.post(f"{base}/v1/chat/completions", timeout=900, json={
            "model": "kb:demo", "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens,
            "temperature": 0})
        error = None if r.status_code == 200 else f"{r.status_code} {r.text[:120]}"
    except httpx.HTTPError as exc:
        error = repr(exc)
    return time.monotonic() - start, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    load_before = load()
    home = scratch_dir("chat-memory") / "home"
    services = open_services(home)
    services.create_kb("demo")
    services.add_files("demo", sorted((REPO / "assets" / "demo").glob("*.md")))
    del services
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-m", "chatchat", "--home", str(home), "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        sampler = Sampler(server.pid)
        idle = sampler.rss()
        sampler.start()
        alone, error = ask(base, QUESTIONS[0], args.max_tokens)  # loads the model and the embedder
        assert error is None, error
        after_one = sampler.rss()
        alone, error = ask(base, QUESTIONS[1], args.max_tokens)  # another prompt: no KV-cache reuse
        with ThreadPoolExecutor(args.clients) as pool:
            runs = list(pool.map(lambda i: ask(base, QUESTIONS[i % len(QUESTIONS)], args.max_tokens), range(args.clients)))
        sampler.done.set()
        sampler.join()
        after = sampler.rss()
    finally:
        server.terminate()
        server.wait(timeout=30)
    seconds = [s for s, _ in runs]
    errors = [e for _, e in runs if e]
    body = header(command_line(), load_before, load(), "model kb:demo (SmolLM2-135M, demo KB with the default "
                  f"embedding model), max_tokens {args.max_tokens}, {args.clients} clients at once") + f"""
| figure | value |
|---|---|
| server RSS idle (no model) | {idle:.0f} MB |
| after one chat (model and embedder loaded) | {after_one:.0f} MB |
| peak during {args.clients} concurrent chats | {sampler.peak:.0f} MB |
| after them | {after:.0f} MB |
| one chat alone, model loaded (reference) | {alone:.1f} s |
| concurrent chats p50 / p95 | {percentile(seconds, 50):.1f} / {percentile(seconds, 95):.1f} s |
| errors | {len(errors)} of {args.clients}{': ' + errors[0] if errors else ''} |
"""
    write_section("Server memory under concurrent chats (bench_chat_memory.py)", body)
    print(body)


if __name__ == "__main__":
    main()
