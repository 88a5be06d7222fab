"""Knowledge-base chats at once over HTTP, with an ingest running: p95 time to the first token of 8
concurrent chats ÷ that of one chat alone, the real server on a fresh data dir, the demo model.

The server is `chatchat serve` in its own process (so the clients here share no GIL with it), on a free
loopback port. Through the REST API a knowledge base "demo" is made of the shipped demo documents; then
the chats are `POST /v1/chat/completions` with `model: kb:demo`, streamed (httpx), and the first token is
the first chunk whose delta carries content. First `--alone` chats one after another; then `--clients`
clients at once, each asking `--rounds` questions back to back, while one upload of `--ingest` documents
into a second knowledge base runs through `POST /api/knowledge_bases/{kb}/documents`. Every question is
asked once in the whole run (a question asked again would reuse its query vector).

    python bench/bench_concurrency.py [--clients 8] [--rounds 2] [--alone 6] [--max-tokens 64] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from api_server import free_port  # noqa: E402  (the tests' helper: a free loopback port)

from chatchat.resources import ASSETS_DIR  # noqa: E402

MODEL = "smollm2-135m-instruct"
INGEST_DOCS = [common.SHARED / "docs" / "chatchat-samples" / name for name in (
    "大模型推理优化策略.md", "分布式训练技术原理.md", "大模型应用技术原理.md", "大模型指令对齐训练原理.md")]
# about what the demo documents say (a question they do not cover is refused without the model: no first token)
QUESTIONS = [
    "Does Chatchat need the internet?", "Why is the answer wrong or in English?", "Which files can I add?",
    "Can other programs use my knowledge base?", "What do I do when port 7860 is busy?", "Where is the log?",
    "How do I ask my first question?", "How do I make a knowledge base of my own?", "Which models can I use?",
    "Where does my data live?", "How do I start and stop Chatchat?", "Can I use Chatchat offline?",
    "What file types does a knowledge base take?", "How can another program ask my knowledge base?",
    "Where are the log files kept?", "How do I create a knowledge base?", "Where are my files stored?",
    "How do I stop the app?", "Chatchat 需要联网吗？", "为什么回答不准确，或者是英文？", "可以添加哪些文件？",
    "其他程序能使用我的知识库吗？", "7860 端口被占用了怎么办？", "日志在哪里？", "怎样第一次提问？",
    "怎样创建自己的知识库？", "可以用哪些模型？", "数据目录在哪里？", "怎样启动和停止 Chatchat？",
    "文件存放在哪里？", "如何新建知识库？", "日志文件保存在哪里？",
]
REFUSALS = ("I found nothing", "The knowledge base does not cover", "在知识库", "知识库中没有涉及")


def start_server(home: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "CHATCHAT_HOME": str(home), "PYTHONUNBUFFERED": "1", "RUST_LOG": "error"}
    return subprocess.Popen([sys.executable, "-m", "chatchat", "serve", "--home", str(home), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(home / "server.log", "w"))


def wait_ready(base: str, server: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(base + "/v1/models", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not answer in time")


def upload(client: httpx.Client, kb: str, paths: list[Path]) -> dict:
    client.post("/api/knowledge_bases", json={"name": kb}).raise_for_status()
    files = [("files", (p.name, p.read_bytes(), "text/markdown")) for p in paths]
    response = client.post(f"/api/knowledge_bases/{kb}/documents", files=files, timeout=3600)
    response.raise_for_status()
    return response.json()


async def chat(client: httpx.AsyncClient, question: str, max_tokens: int) -> dict:
    """One streamed kb:demo chat (the default model answers): seconds to the first content delta and to the
    end; a refusal (the relevance gate: no model asked) or an error as such."""
    body = {"model": "kb:demo", "stream": True, "max_tokens": max_tokens, "temperature": 0,
            "messages": [{"role": "user", "content": question}]}
    start = time.perf_counter()
    first = None
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                return {"error": f"HTTP {response.status_code}: {(await response.aread())[:200]!r}"}
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    return {"error": str(chunk["error"])[:200]}
                text = "".join(c.get("delta", {}).get("content") or "" for c in chunk.get("choices", []))
                if first is None and text:
                    if text.startswith(REFUSALS):
                        return {"refused": question}
                    first = time.perf_counter() - start
    except httpx.HTTPError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    if first is None:
        return {"error": "no content"}
    return {"first": first, "total": time.perf_counter() - start}


async def concurrent(base: str, questions: list[str], clients: int, rounds: int, max_tokens: int) -> tuple[list[dict], dict]:
    """`clients` clients asking `rounds` questions each, back to back, while one upload runs."""
    pending = iter(questions)
    results: list[dict] = []

    async def client_loop(client: httpx.AsyncClient) -> None:
        for _ in range(rounds):
            results.append(await chat(client, next(pending), max_tokens))

    def ingest() -> dict:
        with httpx.Client(base_url=base, timeout=3600) as client:
            started = time.perf_counter()
            out = upload(client, "ingest", INGEST_DOCS)
            return {"s": time.perf_counter() - started, "chunks": sum(r["chunks"] for r in out["results"])}

    limits = httpx.Limits(max_connections=clients + 2)
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits) as client:
        ingesting = asyncio.create_task(asyncio.to_thread(ingest))
        await asyncio.sleep(1.0)  # the upload under way: its parse and embedding compete with the chats
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        ingested = await ingesting
    return results, ingested


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="questions each concurrent client asks")
    parser.add_argument("--alone", type=int, default=6, help="chats one after another, for the reference")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.alone + args.clients * args.rounds > len(QUESTIONS):
        raise SystemExit(f"at most {len(QUESTIONS)} questions in all")
    load_before = common.load()
    work = common.scratch_dir("concurrency-")
    home = work / "home"
    home.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(home, port)
    try:
        wait_ready(base, server)
        with httpx.Client(base_url=base, timeout=3600) as client:
            upload(client, "demo", sorted(p for p in (ASSETS_DIR / "demo").iterdir() if p.is_file()))
        asked = iter(QUESTIONS)

        async def alone_runs() -> list[dict]:
            async with httpx.AsyncClient(base_url=base, timeout=600) as client:
                await chat(client, "What is Chatchat?", args.max_tokens)  # loads the model and the embedder
                return [await chat(client, next(asked), args.max_tokens) for _ in range(args.alone)]

        alone = asyncio.run(alone_runs())
        rest = [next(asked) for _ in range(args.clients * args.rounds)]
        together, ingested = asyncio.run(concurrent(base, rest, args.clients, args.rounds, args.max_tokens))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log = (home / "server.log").read_text(errors="replace")[-2000:] if (home / "server.log").exists() else ""
        shutil.rmtree(work, ignore_errors=True)

    def firsts(runs: list[dict]) -> list[float]:
        return [r["first"] for r in runs if "first" in r]

    errors = [r["error"] for r in alone + together if "error" in r]
    refused = [r["refused"] for r in alone + together if "refused" in r]
    alone_p50 = common.percentile(firsts(alone), 50)
    together_p95 = common.percentile(firsts(together), 95)
    ratio = together_p95 / alone_p50
    rows = ["| run | chats | refused (gate) | errors | first token p50 s | p95 s | whole answer p50 s |",
            "|---|---|---|---|---|---|---|"]
    for name, runs in ((f"one chat alone, {args.alone} in a row", alone),
                       (f"{args.clients} clients × {args.rounds} chats at once + one ingest", together)):
        ok = [r for r in runs if "first" in r]
        rows.append(f"| {name} | {len(runs)} | {sum('refused' in r for r in runs)} | {sum('error' in r for r in runs)} | "
                    f"{common.percentile(firsts(ok), 50):.2f} | "
                    f"{common.percentile(firsts(ok), 95):.2f} | {common.percentile([r['total'] for r in ok], 50):.2f} |")
    table = "\n".join(rows) + (
        f"\n\np95 first token with {args.clients} concurrent chats and an ingest ÷ one chat alone (p50): **{ratio:.2f}** "
        f"(goal ≤ 3, no errors); errors: {len(errors)}{' — ' + '; '.join(errors[:3]) if errors else ''}. "
        f"The ingest ({len(INGEST_DOCS)} documents, {ingested['chunks']} chunks) took {ingested['s']:.0f} s."
        + (f" Refused by the relevance gate (no first token, left out): {', '.join(refused)}." if refused else ""))
    print(table)
    if errors:
        print("server log tail:\n" + log, file=sys.stderr)
    if not args.no_write:
        extra = (f"`chatchat serve` in its own process on loopback, fresh data dir, default settings (embedding "
                 f"multilingual-e5-small-q4, llm_threads 0); {MODEL} through `kb:demo` (the demo documents), streamed, "
                 f"max_tokens {args.max_tokens}, temperature 0; each question asked once")
        common.write_section("Concurrent chats with an ingest (bench_concurrency.py)",
                             common.header(common.command_line(), load_before, common.load(), extra) + "\n" + table)


if __name__ == "__main__":
    main()
