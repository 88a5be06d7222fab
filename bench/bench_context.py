"""What the model is given, and follow-up questions, on the ../shared/eval sets.

1. Context: for each question, the app's retrieval (top_k from Settings, hybrid) builds the prompt through
   chatchat.answer.answerer.build_prompt with the demo model's real tokenizer, once with each hit alone and once with its
   neighbouring chunks (chatchat.retrieval.context.expand). Counted: questions whose gold answer (from the gold passage,
   bench/eval_retrieval.py's Judge) is inside the passages that fitted, and the passages' size in tokens.
2. Follow-ups (bench/followup_pairs.jsonl, built by bench/make_followups.py): the follow-up question searched
   as it is, as the demo chat model (SmolLM2 135M) rewrites it (chatchat.answer.followup.standalone_query), and as
   the reference rewrite (the upper bound). Recall@1/@5 of the second question's gold answer.

    nice -n 10 python bench/bench_context.py --limit 150          # a few minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from eval_retrieval import Judge, load_set, pick, write_articles  # noqa: E402

SETS = ["xquad-en-a", "cmrc2018-trial", "xquad-zh-a"]
PAIRS = Path(__file__).resolve().parent / "followup_pairs.jsonl"


def contains(judge: Judge, passages, question: dict) -> bool:
    return any(judge.hit(p.text, question) for p in passages)


def context_rows(services, model, name: str, questions: list[dict], kb: str, judge: Judge) -> list[str]:
    from chatchat.retrieval.context import Passage, expand
    from chatchat.answer.answerer import build_prompt

    counts = {"hit alone": [0, 0], "with neighbours": [0, 0]}
    for q in questions:
        hits = services.search(kb, q["question"])
        for label, passages in (("hit alone", [Passage.of(h) for h in hits]),
                                ("with neighbours", expand(hits, services.chunk_spans))):
            prompt = build_prompt(model, q["question"], passages, [], services.settings.max_tokens, True)
            counts[label][0] += contains(judge, prompt.passages, q)
            counts[label][1] += sum(model.count_tokens(p.text) for p in prompt.passages)
    n = len(questions)
    return [f"| {name} | {label} | {found / n:.3f} | {tokens / n:.0f} | {n} |" for label, (found, tokens) in counts.items()]


def followup_rows(services, model, kbs: dict[str, str], judges: dict[str, Judge]) -> tuple[list[str], list[str]]:
    from chatchat.answer.followup import clean, standalone_query

    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    ranks: dict[tuple[str, str], list[int | None]] = {}
    examples, seconds, unusable = [], [], 0
    for pair in pairs:
        judge, kb = judges[pair["set"]], kbs[pair["set"]]
        history = [{"role": "user", "content": pair["question"]}, {"role": "assistant", "content": pair["answer"]}]
        start = time.perf_counter()
        rewritten = standalone_query(model, pair["followup"], history)
        seconds.append(time.perf_counter() - start)
        if clean(rewritten, pair["followup"], history) is None or rewritten.startswith(pair["question"]):
            unusable += 1  # the model's reply was unusable: the fallback (earlier question + follow-up) ran
        if pairs.index(pair) % 6 == 0:
            examples.append(f"| {pair['followup']} | {rewritten} | {pair['reference']} |")
        for label, query in (("follow-up as asked", pair["followup"]), ("rewritten by SmolLM2 135M", rewritten),
                             ("reference rewrite", pair["reference"])):
            hits = services.search(kb, query, top_k=5, score_threshold=-1.0)
            ranks.setdefault((pair["set"], label), []).append(judge.rank([h.text for h in hits], pair))
    rows = []
    for (name, label), found in ranks.items():
        n = len(found)
        r1 = sum(1 for r in found if r == 1) / n
        r5 = sum(1 for r in found if r is not None and r <= 5) / n
        rows.append(f"| {name} | {label} | {r1:.3f} | {r5:.3f} | {n} |")
    rows.append(f"\nRewriting took {sum(seconds) / len(seconds):.1f} s a question on average; the model's reply was "
                f"unusable (echo, wrong language, empty) for {unusable} of {len(pairs)}, which then fall back to the "
                "earlier question followed by the follow-up.")
    return rows, examples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=150, help="questions per set for the context figures")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from chatchat.llm import LLMManager

    load_before = common.load()
    scratch = common.scratch_dir("context-")
    try:
        services = common.open_services(scratch / "home")
        llms = LLMManager(services.settings, services.catalog)
        model = llms.get("smollm2-135m-instruct")
        kbs, judges, context = {}, {}, []
        for name in SETS:
            es = load_set(name)
            paths = write_articles(es, scratch / "docs" / name)
            kbs[name] = f"ctx-{name}"
            services.create_kb(kbs[name])
            with common.timer() as t:
                results = services.add_files(kbs[name], paths)
            assert all(r.status == "added" for r in results), results
            judges[name] = Judge(es)
            print(f"{name}: {sum(r.chunks for r in results)} chunks in {t['s']:.0f} s", flush=True)
            context += context_rows(services, model, name, pick(es.questions, args.limit), kbs[name], judges[name])
            print("\n".join(context[-2:]), flush=True)
        follow, examples = followup_rows(services, model, kbs, judges)
        print("\n".join(follow), flush=True)
        embedding = services.kb_info(kbs[SETS[0]]).embedding
        llms.unload_all()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    body = common.header(common.command_line(), load_before, common.load(),
                         f"embedding model {embedding}; top_k {services.settings.top_k}, hybrid; chunks "
                         f"{services.settings.chunk_size}/{services.settings.chunk_overlap}")
    body += ("\n### Is the answer in what the model reads?\n\nShare of questions whose gold answer is inside the "
             "passages given to the model (after the prompt's token budget), and those passages' size.\n\n"
             "| set | context | answer contained | tokens of passages | questions |\n|---|---|---|---|---|\n"
             + "\n".join(context))
    body += ("\n\n### Follow-up questions\n\n`bench/followup_pairs.jsonl` (33 pairs made by bench/make_followups.py "
             "from two questions of one article, the subject replaced by a pronoun). Recall of the second question's "
             "gold answer in the top 1 / top 5 chunks.\n\n| set | query searched | R@1 | R@5 | pairs |\n|---|---|---|---|---|\n"
             + "\n".join(follow)
             + "\n\nExamples:\n\n| follow-up | searched as | reference |\n|---|---|---|\n" + "\n".join(examples))
    if not args.no_write:
        common.write_section("Context and follow-ups (bench_context.py)", body)
    print(body)


if __name__ == "__main__":
    main()
