"""Generation through `rag` (retrieve from a knowledge base → prompt → stream events) against raw
llama-cpp-python on the same loaded model and the same prompt messages.

Each round asks one question both ways, alternating which goes first. The model's KV cache is
reset before every run, so both evaluate the whole prompt (no prefix reuse flatters either).
- time to first token: from the call to the first text delta; for rag that includes embedding the
  question, the hybrid search and building the prompt; "added" = rag − raw, per round, median;
- tokens/s: tokens after the first one / time from the first to the last token, median;
- the search and prompt-building parts of rag's head start are also timed on their own.

    python bench/bench_generation.py [--rounds 5] [--max-tokens 64] [--threads 0] [--no-write]
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

from chatchat.llm import LLMManager  # noqa: E402
from chatchat.rag import Answerer, build_prompt  # noqa: E402

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


def rag_deltas(answerer: Answerer, question: str, max_tokens: int):
    for event in answerer.answer(question, kb="docs", model=MODEL, temperature=0, max_tokens=max_tokens):
        if event.kind == "error":
            raise SystemExit(event.text)
        if event.kind == "delta":
            yield event.text


def raw_deltas(model, messages: list, max_tokens: int):
    for chunk in model.llama.create_chat_completion(messages, stream=True, temperature=0, max_tokens=max_tokens):
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            yield text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="questions asked (cycling through the list)")
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
        llms = LLMManager(services.settings, services.catalog)
        model = llms.get(MODEL)
        answerer = Answerer(services.settings, llms, services)
        services.search("docs", "warm up")  # load the embedder before timing
        rows = []
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
            runs = {}
            for name in (("rag", "raw") if i % 2 == 0 else ("raw", "rag")):
                model.llama.reset()
                stream = rag_deltas(answerer, question, args.max_tokens) if name == "rag" else raw_deltas(model, messages, args.max_tokens)
                runs[name] = timed(stream)
            rows.append(runs)
            print(f"round {i + 1}: " + ", ".join(
                f"{name} ttft {ttft * 1000:.0f} ms, {tokens} tokens, {(tokens - 1) / span:.1f} tok/s"
                for name, (ttft, tokens, span) in runs.items()), flush=True)
        llms.unload_all()
    finally:
        shutil.rmtree(home, ignore_errors=True)

    def rate(run: tuple[float, int, float]) -> float:
        return (run[1] - 1) / run[2]

    rag_ttft = statistics.median(r["rag"][0] for r in rows) * 1000
    raw_ttft = statistics.median(r["raw"][0] for r in rows) * 1000
    added = statistics.median((r["rag"][0] - r["raw"][0]) * 1000 for r in rows)
    rag_rate = statistics.median(rate(r["rag"]) for r in rows)
    raw_rate = statistics.median(rate(r["raw"]) for r in rows)
    threads = args.threads or "all physical cores"
    table = (
        "| path | time to first token (median) | tokens/s (median) |\n|---|---|---|\n"
        f"| raw llama-cpp-python, same prompt | {raw_ttft:.0f} ms | {raw_rate:.1f} |\n"
        f"| rag: search + prompt + events | {rag_ttft:.0f} ms | {rag_rate:.1f} |\n\n"
        f"rag / raw tokens/s: **{rag_rate / raw_rate:.3f}** (goal ≥ 0.97); time added before the first token: "
        f"**{added:.0f} ms** median per round (goal ≤ 50 ms). Of that, timed apart: hybrid search "
        f"(embed the question + LanceDB) {statistics.median(search_ms):.1f} ms, building the prompt "
        f"(token counting with the model's tokenizer) {statistics.median(prompt_ms):.1f} ms (medians)."
    )
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
