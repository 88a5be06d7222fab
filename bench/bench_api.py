"""The REST API under load, on loopback: requests/s and p50/p95 latency of /v1/embeddings and of a
knowledge-base search with 8 concurrent clients (asyncio + httpx), beside the same calls made in
process (no HTTP); then a schemathesis run over every route of the app's OpenAPI spec.

Each load run stops at --requests requests or --seconds seconds, whichever comes first. The server
runs in lite mode (chat routes answer without loading a model); nothing leaves 127.0.0.1.

    python bench/bench_api.py [--clients 8] [--requests 400] [--seconds 60] [--max-examples 10]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx

from common import SHARED, command_line, header, load, open_services, percentile, scratch_dir, write_section

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from api_server import free_port  # noqa: E402  (the tests' helper: a free loopback port)

from chatchat.server import make_server, url_of  # noqa: E402

KB = "bench"
DOCS = [SHARED / "docs" / "chatchat-samples" / name for name in (
    "大模型推理优化策略.md", "分布式训练技术原理.md", "大模型应用技术原理.md", "大模型指令对齐训练原理.md", "test.txt")]
QUERIES = ["PagedAttention 如何管理显存", "数据并行和模型并行的区别", "What is RLHF?", "指令微调", "KV cache 量化",
           "pipeline parallelism bubbles", "向量数据库", "LangChain agents"]
SENTENCES = ["大模型推理优化", "How does tensor parallelism split a layer?", "检索增强生成的原理", "a short English sentence"]
EMBEDDING = "minilm-l6-v2-int8"


@dataclass
class Run:
    name: str
    clients: int
    latencies: list[float]
    seconds: float
    errors: int

    def row(self) -> str:
        rps = len(self.latencies) / self.seconds if self.seconds else float("nan")
        return (f"| {self.name} | {self.clients} | {len(self.latencies)} | {rps:.1f} | "
                f"{percentile(self.latencies, 50) * 1000:.1f} | {percentile(self.latencies, 95) * 1000:.1f} | {self.errors} |")


async def load_loop(base: str, name: str, make_request: Callable[[int], tuple[str, dict]], clients: int,
                    requests: int, seconds: float) -> Run:
    """`clients` workers send requests back to back until `requests` are done or `seconds` pass."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            if time.perf_counter() > deadline:
                return
            path, body = make_request(i)
            start = time.perf_counter()
            response = await client.post(path, json=body)
            if response.status_code == 200:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        for i in range(clients):  # warm-up: one request per connection
            path, body = make_request(i)
            await client.post(path, json=body)
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return Run(name, clients, latencies, elapsed, errors)


def in_process(name: str, call: Callable[[int], object], requests: int, seconds: float) -> Run:
    latencies = []
    call(0)
    start = time.perf_counter()
    for i in range(requests):
        if time.perf_counter() - start > seconds:
            break
        t = time.perf_counter()
        call(i)
        latencies.append(time.perf_counter() - t)
    return Run(name, 1, latencies, time.perf_counter() - start, 0)


def schemathesis_summary(base: str, max_examples: int, workdir: Path) -> tuple[str, str]:
    """Run the schemathesis CLI over every route; returns (its command, the lines of its summary)."""
    config = workdir / "schemathesis.toml"
    # the one rule JSON Schema cannot state: chunk_overlap < chunk_size (a valid-looking body may get 400)
    config.write_text(
        '[[operations]]\ninclude-path = "/api/knowledge_bases"\ninclude-method = "POST"\n'
        '[operations.checks.positive_data_acceptance]\nexpected-statuses = ["2xx", "400", "404", "409"]\n',
        encoding="utf-8",
    )
    cli = shutil.which("schemathesis") or shutil.which("st")
    if cli is None:
        return "schemathesis", "schemathesis is not installed (pip install -e '.[test]')"
    args = [cli, "--no-color", "--config-file", str(config), "run", base + "/openapi.json", "--max-examples", str(max_examples),
            "--mode", "all", "--generation-deterministic", "--workers", "2"]
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    lines = [line.rstrip() for line in output.splitlines()]
    summary_start = next((i for i, line in enumerate(lines) if "SUMMARY" in line), max(0, len(lines) - 25))
    summary = "\n".join(line for line in lines[summary_start:] if line.strip())
    shown = "schemathesis " + " ".join(a if not a.startswith(("/", "http")) else Path(a).name for a in args[1:])
    return shown, f"exit code {done.returncode}, {time.perf_counter() - started:.0f} s\n\n```\n{summary}\n```"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per run")
    parser.add_argument("--seconds", type=float, default=60, help="per run")
    parser.add_argument("--max-examples", type=int, default=10, help="schemathesis examples per route and phase")
    args = parser.parse_args()
    load_before = load()
    work = scratch_dir("api-")
    try:
        services = open_services(work / "home", lite=True, port=free_port())
        services.create_kb(KB)
        ingested = services.add_files(KB, DOCS)
        chunks = sum(r.chunks for r in ingested)
        print(f"knowledge base: {len(DOCS)} documents, {chunks} chunks", flush=True)
        server, sock = make_server(services.settings, services, ui=False)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = url_of(sock)

        def embed_request(i: int) -> tuple[str, dict]:
            return "/v1/embeddings", {"model": EMBEDDING, "input": SENTENCES[i % len(SENTENCES)]}

        def search_request(i: int) -> tuple[str, dict]:
            return f"/api/knowledge_bases/{KB}/search", {"query": QUERIES[i % len(QUERIES)], "top_k": 3}

        runs = [
            in_process("embed 1 text, in process (no HTTP)", lambda i: services.embed([SENTENCES[i % 4]], EMBEDDING),
                       args.requests, args.seconds),
            asyncio.run(load_loop(base, "POST /v1/embeddings (1 text)", embed_request, 1, args.requests, args.seconds)),
            asyncio.run(load_loop(base, "POST /v1/embeddings (1 text)", embed_request, args.clients, args.requests, args.seconds)),
            in_process("hybrid search top-3, in process (no HTTP)", lambda i: services.search(KB, QUERIES[i % 8], top_k=3),
                       args.requests, args.seconds),
            asyncio.run(load_loop(base, "POST /api/knowledge_bases/{kb}/search (hybrid, top 3)", search_request, 1,
                                  args.requests, args.seconds)),
            asyncio.run(load_loop(base, "POST /api/knowledge_bases/{kb}/search (hybrid, top 3)", search_request, args.clients,
                                  args.requests, args.seconds)),
        ]
        for run in runs:
            print(run.row(), flush=True)
        fuzz_command, fuzz = schemathesis_summary(base, args.max_examples, work)
        print(fuzz, flush=True)
        server.should_exit = True
        thread.join(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = "\n".join(["| route | clients | requests | req/s | p50 ms | p95 ms | errors |", "|---|---|---|---|---|---|---|",
                       *(run.row() for run in runs)])
    body = (
        header(command_line(), load_before, load(),
               f"server: uvicorn {__import__('uvicorn').__version__} in this process, lite mode, loopback; knowledge base "
               f"of {len(DOCS)} Chinese/English documents ({chunks} chunks, MiniLM int8 384-d); each run stops at "
               f"{args.requests} requests or {args.seconds:g} s")
        + f"\n### Load ({args.clients} concurrent clients: asyncio + httpx, keep-alive)\n\n{table}\n\n"
        "The embedder runs one ONNX session behind a lock and a search embeds its query first, so on 2 shared "
        "cores more clients mostly add queueing: p95 grows while req/s stays near the single-client rate. "
        "The gap between the in-process row and the 1-client HTTP row is the cost of HTTP, JSON and the threadpool.\n\n"
        f"### Schemathesis over every route\n\n- command: `{fuzz_command}`\n- {fuzz}\n"
    )
    write_section("REST API under load, and schemathesis (bench_api.py)", body)


if __name__ == "__main__":
    main()
