"""Generation through `rag` (retrieve from a knowledge base → prompt → stream events) against raw
llama-cpp-python on the same loaded model and the same prompt messages.

Each round asks one question both ways, alternating which goes first, twice:
- cold: the model's KV cache is reset before each run, so both evaluate the whole prompt (what a
  user waits for on a new question);
- warm: the prompt is already in the KV cache (llama.cpp reuses the matching prefix), so prompt
  evaluation, which dwarfs and blurs everything else on a busy CPU, drops out and the difference
  in time to first token is rag's own work: embedding the question, hybrid search, building the
  prompt, and the event plumbing.
Time to first token is from the call to the first text delta; tokens/s is tokens after the first
/ time from the first to the last token. The search and the prompt building are also timed alone,
and so is rag's cost per token (from llama-cpp-python yielding a chunk to the consumer holding the
event), which contention cannot blur the way it blurs tokens/s.

    python bench/bench_generation.py [--rounds 6] [--max-tokens 64] [--threads 0] [--no-write]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from chatchat.llm.llama_cpp_engine import REPEAT_PENALTY  # noqa: E402
from chatchat.answer.answerer import build_prompt  # noqa: E402
from chatchat.service import Services  # noqa: E402

DOCS = [
    common.SHARED / "docs" / "unstructured" / "fake-memo.pdf",
    common.SHARED / "docs" / "unstructured" / "multi-column-2p.pdf",
    common.SHARED / "docs" / "unstructured" / "layout-parser-paper-fast.pdf",
]
QUESTIONS = [
    "What are the two weaknesses of ICT pretraining?",
    "How many laptops were delivered on January 23, 2023?",
    "What is LayoutParser?",
    "Which retriever does the paper compare against BM25?",
]
MODEL = "smollm2-135m-instruct"


def timed(stream) -> tuple[float, int, float]:
    """(seconds to the first token, tokens, seconds from the first to the last token)."""
    start = time.perf_counter()
    first = last = None
    tokens = 0
    for _ in stream:
        last = time.perf_counter()
        first = first or last
        tokens += 1
    if first is None:
        raise SystemExit("a run produced no tokens")
    return first - start, tokens, last - first


def rag_deltas(answerer: Services, question: str, max_tokens: int):
    for event in answerer.answer(question, kb="docs", model=MODEL, temperature=0, max_tokens=max_tokens):
        if event.kind == "error":
            raise SystemExit(event.text)
        if event.kind == "delta":
            yield event.text


def raw_deltas(model, messages: list, max_tokens: int):
    for chunk in model.llama.create_chat_completion(messages, stream=True, temperature=0, max_tokens=max_tokens,
                                                    repeat_penalty=REPEAT_PENALTY):  # the sampling rag uses
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            yield text


def plumbing_latency(answerer: Services, model, question: str, max_tokens: int) -> list[float]:
    """Seconds from llama-cpp-python yielding a token's chunk to the consumer holding its rag event,
    per token: rag's own cost per token, free of the CPU contention that blurs tokens/s."""
    create = model.llama.create_chat_completion
    made: list[float] = []

    def stamped(*args, **kwargs):
        for chunk in create(*args, **kwargs):
            if chunk["choices"][0]["delta"].get("content"):
                made.append(time.perf_counter())
            yield chunk

    model.llama.create_chat_completion = stamped  # instrumentation on this instance only
    try:
        got = [time.perf_counter() for _ in rag_deltas(answerer, question, max_tokens)]
    finally:
        del model.llama.create_chat_completion
    return [b - a for a, b in zip(made, got)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6, help="questions asked (cycling through the list)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: every physical core)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()

    load_before = common.load()
    home = common.scratch_dir("generation-")
    try:
        services = common.open_services(home, llm_threads=args.threads)
        services.create_kb("docs")
        results = services.add_files("docs", DOCS)
        if any(r.status != "added" for r in results):
            raise SystemExit(f"ingest failed: {results}")
        llms = services.llms
        model = llms.get(MODEL)
        answerer = services
        services.search("docs", "warm up")  # load the embedder before timing
        rows: dict[str, list] = {"cold": [], "warm": []}
        search_ms: list[float] = []
        prompt_ms: list[float] = []
        for i in range(args.rounds):
            question = QUESTIONS[i % len(QUESTIONS)]
            started = time.perf_counter()
            hits = services.search("docs", question)
            searched = time.perf_counter()
            messages = build_prompt(model, question, hits, [], args.max_tokens, bool(hits)).messages
            search_ms.append((searched - started) * 1000)
            prompt_ms.append((time.perf_counter() - searched) * 1000)
            for cache in ("cold", "warm"):
                runs = {}
                for name in (("rag", "raw") if i % 2 == 0 else ("raw", "rag")):
                    if cache == "cold":
                        model.llama.reset()
                    stream = rag_deltas(answerer, question, args.max_tokens) if name == "rag" else raw_deltas(model, messages, args.max_tokens)
                    runs[name] = timed(stream)
                rows[cache].append(runs)
                print(f"round {i + 1} {cache}: " + ", ".join(
                    f"{name} ttft {ttft * 1000:.0f} ms, {tokens} tokens, {(tokens - 1) / span:.1f} tok/s"
                    for name, (ttft, tokens, span) in runs.items()), flush=True)
        latency = [x for q in QUESTIONS for x in plumbing_latency(answerer, model, q, args.max_tokens)]
        llms.unload_all()
    finally:
        shutil.rmtree(home, ignore_errors=True)

    def rate(run: tuple[float, int, float]) -> float:
        return (run[1] - 1) / run[2]

    def median(values) -> float:
        return statistics.median(list(values))

    lines = ["| KV cache | path | time to first token (median) | tokens/s (median) |", "|---|---|---|---|"]
    for cache, runs in rows.items():
        for name, label in (("raw", "raw llama-cpp-python, same messages"), ("rag", "rag: search + prompt + events")):
            lines.append(f"| {cache} | {label} | {median(r[name][0] for r in runs) * 1000:.0f} ms | {median(rate(r[name]) for r in runs):.1f} |")
    every = rows["cold"] + rows["warm"]
    ratio = median(rate(r["rag"]) / rate(r["raw"]) for r in every)
    added = {cache: median((r["rag"][0] - r["raw"][0]) * 1000 for r in runs) for cache, runs in rows.items()}
    table = "\n".join(lines) + (
        f"\n\nrag / raw tokens/s, median of per-run ratios: **{ratio:.3f}** (goal ≥ 0.97). Time rag adds "
        f"before the first token, median per round: **{added['warm']:.0f} ms** with the prompt cached "
        f"(goal ≤ 50 ms), {added['cold']:.0f} ms cold (inside the noise of prompt evaluation). Timed alone: "
        f"hybrid search (embed the question + LanceDB) {median(search_ms):.1f} ms, building the prompt "
        f"(token counting with the model's tokenizer) {median(prompt_ms):.1f} ms. Per token, rag's layers "
        f"(engine guard, event objects, generators) add {median(latency) * 1e6:.0f} µs median, "
        f"{common.percentile(latency, 99) * 1e6:.0f} µs p99, between llama-cpp-python yielding a token and the "
        f"consumer holding its event ({len(latency)} tokens)."
    )
    threads = args.threads or "all physical cores"
    print(table)
    if not args.no_write:
        import importlib.metadata

        extra = (
            f"model {MODEL} (Q4_1 GGUF), llama-cpp-python {importlib.metadata.version('llama-cpp-python')}, "
            f"threads: {threads}; {args.rounds} rounds, max_tokens {args.max_tokens}, temperature 0, KB of "
            f"{len(DOCS)} PDFs, top-k {services.settings.top_k}, hybrid search"
        )
        body = common.header(common.command_line(), load_before, common.load(), extra) + "\n" + table
        common.write_section("Generation: rag vs raw llama-cpp-python (issue 8)", body)


if __name__ == "__main__":
    main()
