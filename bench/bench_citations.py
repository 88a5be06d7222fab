"""Citation markers on the ../shared/eval sets: how often the demo model writes them, and how well the app
attaches them where it does not (chatchat.answer.citations).

1. Demo model: for --limit questions of each set, the app's retrieval (hybrid, Settings.top_k, each hit with
   its neighbouring chunks) and prompt (chatchat.answer.answerer.build_prompt, which asks for a marker after
   each sentence), answered by SmolLM2 135M (temperature 0, the model's default answer length); each answer
   through citations.cite. Counted: answers where the model wrote a valid marker, where the app attached
   them, where nothing was attached; markers the model wrote outside 1..n (dropped).
2. Matcher: every sentence of the passages given for a question, as it is and with every third word (Latin)
   or character (Han) dropped, should get the marker of a passage holding it; every sentence of another
   article (not given) should get none. Character n-gram containment at several thresholds against the
   embedder (the knowledge base's embedding model: cosine of sentence and passage).

One section of RESULTS.md holds every set, each set's rows from its latest run (a run of some of the sets
keeps the rows of the others, and says which run each set's rows come from).

    python bench/bench_citations.py --limit 30        # about ten minutes on 2 cores
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from eval_retrieval import EvalSet, load_set, pick, write_articles  # noqa: E402

SETS = ["xquad-en-a", "xquad-zh-a"]
LLM = "smollm2-135m-instruct"
NGRAM_THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7]
COSINE_THRESHOLDS = [0.6, 0.7, 0.8, 0.85, 0.9]
SECTION = "Citation markers (bench_citations.py)"


def first_articles(es: EvalSet, count: int) -> EvalSet:
    """The set cut to its first `count` articles and their questions (a knowledge base that ingests in a minute)."""
    articles = dict(list(es.articles.items())[:count])
    kept = {cid for ids in articles.values() for cid in ids}
    return EvalSet(es.name, articles, {c: es.passages[c] for c in kept}, [q for q in es.questions if q["context_id"] in kept])


def given_passages(services, model, kb: str, question: str) -> tuple[object, list[str]]:
    from chatchat.answer.answerer import build_prompt
    from chatchat.retrieval.context import expand

    hits = services.search_many([kb], question)
    limit = services.catalog.default_max_tokens(LLM, services.settings.max_tokens)
    prompt = build_prompt(model, question, expand(hits, services.chunk_spans), [], limit, True)
    return prompt, [p.text for p in prompt.passages]


def model_rows(services, model, name: str, kb: str, questions: list[dict],
               examples: list[str]) -> tuple[str, list[tuple[dict, list[str]]]]:
    from chatchat.answer.citations import MARKER, cite

    counts = {"model": 0, "app": 0, "none": 0}
    dropped = markers = 0
    cases = []
    for q in questions:
        prompt, passages = given_passages(services, model, kb, q["question"])
        answer = "".join(model.chat(prompt.messages, temperature=0.0, max_tokens=prompt.max_tokens))
        cited = cite(answer, passages)
        written = sum(len(re.findall(r"\d+", m.group(1))) for m in MARKER.finditer(answer))
        kind = "app" if cited.attached else "model" if cited.markers else "none"
        counts[kind] += 1
        markers += len(cited.markers)
        dropped += max(0, written - sum(1 for m in cited.markers if m.by == "model"))
        cases.append((q, passages))
        if len(examples) < 6 and len(cited.markers) and len(answer) < 400:
            examples.append(f"| {name} | {q['question']} | {' '.join(cited.text.split())} |")
        print(f"{name}: {kind} {len(cited.markers)} markers: {' '.join(answer.split())[:120]}", flush=True)
    n = len(questions)
    row = (f"| {name} | {n} | {counts['model'] / n:.2f} | {counts['app'] / n:.2f} | {counts['none'] / n:.2f} | "
           f"{markers / n:.1f} | {dropped} |")
    return row, cases


def _drop_every_third(sentence: str) -> str:
    from chatchat.answer.prompts import detect_language

    if detect_language(sentence) == "zh":
        return "".join(ch for i, ch in enumerate(sentence) if i % 3 != 2)
    return " ".join(w for i, w in enumerate(sentence.split()) if i % 3 != 2)


def matcher_cases(cases: list[tuple[dict, list[str]]], es: EvalSet) -> list[tuple[str, list[str], set[int]]]:
    """(sentence, passages given, right markers); an empty set: no marker is right. The foreign sentences
    come from the question's own article where it has a paragraph the model was not given (the same topic
    and names: the hard case), else from the next article."""
    from chatchat.answer.citations import MIN_GRAMS, grams, sentences

    found = []
    titles = list(es.articles)
    for q, passages in cases:
        for text in passages:
            for start, end in sentences(text):
                sentence = text[start:end]
                if len(grams(sentence)) < MIN_GRAMS:
                    continue
                right = {i for i, p in enumerate(passages, 1) if sentence in p}
                found.append((sentence, passages, right))
                found.append((_drop_every_third(sentence), passages, right))
        title = next(t for t, ids in es.articles.items() if q["context_id"] in ids)
        nearby = [es.passages[c] for c in es.articles[title]]
        nearby += [es.passages[c] for c in es.articles[titles[(titles.index(title) + 1) % len(titles)]]]
        for text in nearby:
            foreign = [text[a:b] for a, b in sentences(text) if len(grams(text[a:b])) >= MIN_GRAMS
                       and not any(text[a:b] in p for p in passages)]
            found += [(sentence, passages, set()) for sentence in foreign[:4]]
            if foreign:
                break
    return found


def score(choices: list[int | None], cases) -> tuple[float, float, float]:
    """Right marker on sentences a given passage holds, wrong or missing there, any marker where none is right."""
    held = [(c, right) for c, (_, _, right) in zip(choices, cases) if right]
    foreign = [c for c, (_, _, right) in zip(choices, cases) if not right]
    right = sum(1 for c, r in held if c in r) / max(1, len(held))
    return right, 1 - right, sum(1 for c in foreign if c is not None) / max(1, len(foreign))


def matcher_rows(services, kb: str, name: str, cases) -> list[str]:
    from chatchat.answer.citations import best_passage, grams

    rows = []
    cache: dict[str, set[str]] = {}
    for threshold in NGRAM_THRESHOLDS:
        choices = []
        for sentence, passages, _ in cases:
            found = best_passage(sentence, [cache.setdefault(p, grams(p)) for p in passages], threshold)
            choices.append(found[0] if found else None)
        rows.append((f"n-grams ≥ {threshold}", *score(choices, cases)))
    embedder = services.embedders.get(services.kb_info(kb).embedding)
    texts = list(dict.fromkeys([s for s, _, _ in cases] + [p for _, ps, _ in cases for p in ps]))
    vectors = dict(zip(texts, np.asarray(embedder.embed(texts))))
    for threshold in COSINE_THRESHOLDS:
        choices = []
        for sentence, passages, _ in cases:
            sims = [float(vectors[sentence] @ vectors[p]) for p in passages]
            best = int(np.argmax(sims)) if sims else -1
            choices.append(best + 1 if sims and sims[best] >= threshold else None)
        rows.append((f"embedder cosine ≥ {threshold}", *score(choices, cases)))
    held = sum(1 for _, _, r in cases if r)
    return [f"| {name} | {label} | {a:.3f} | {b:.3f} | {c:.3f} | {held} / {len(cases) - held} |" for label, a, b, c in rows]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=30, help="questions per set")
    parser.add_argument("--articles", type=int, default=8, help="articles per set in the knowledge base")
    parser.add_argument("--sets", nargs="+", default=SETS, choices=SETS)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from chatchat.llm.manager import LLMManager

    load_before = common.load()
    scratch = common.scratch_dir("citations-")
    model_table, matcher_table, examples = [], [], []
    try:
        services = common.open_services(scratch / "home")
        llms = LLMManager(services.settings, services.catalog)
        model = llms.get(LLM)
        for name in args.sets:
            es = first_articles(load_set(name), args.articles)
            kb = f"cite-{name}"
            services.create_kb(kb)
            with common.timer() as took:
                results = services.add_files(kb, write_articles(es, scratch / "docs" / name))
            assert all(r.status == "added" for r in results), results
            print(f"{name}: {sum(r.chunks for r in results)} chunks in {took['s']:.0f} s", flush=True)
            row, cases = model_rows(services, model, name, kb, pick(es.questions, args.limit), examples)
            model_table.append(row)
            matcher_table += matcher_rows(services, kb, name, matcher_cases(cases, es))
            print(row, *matcher_table[-len(NGRAM_THRESHOLDS) - len(COSINE_THRESHOLDS):], sep="\n", flush=True)
        embedding = services.kb_info(kb).embedding
        llms.unload_all()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    run = f"| {{}} | {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} | {load_before}; {common.load()} | `{common.command_line()}` |"
    kept = kept_rows(args.sets)
    tables = {"Runs": [run.format(name) for name in args.sets], "Who writes the markers": model_table,
              "Matching sentences to passages": matcher_table, "Examples": examples}
    rows = {table: sorted(kept[table] + new, key=_set_order) for table, new in tables.items()}
    body = common.header(common.command_line(), load_before, common.load(),
                         f"model {LLM} (temperature 0); embedding model {embedding}; top_k {services.settings.top_k}, hybrid, neighbours")
    body += ("\nEach set's rows come from its run below: a run of some of the sets keeps the rows of the others.\n\n"
             "### Runs\n\n| set | date | load average before; after | command |\n|---|---|---|---|\n" + "\n".join(rows["Runs"]))
    body += ("\n\n### Who writes the markers\n\nShare of answers whose markers the model wrote (at least one valid), "
             "the app attached (the model wrote none valid), or nobody (no sentence matched a passage).\n\n"
             "| set | answers | model wrote | app attached | none | markers an answer | model's markers dropped (outside 1..n) |\n"
             "|---|---|---|---|---|---|---|\n" + "\n".join(rows["Who writes the markers"]))
    body += ("\n\n### Matching sentences to passages\n\nSentences of the passages given (as they are, and with every "
             "third word or Han character dropped) and sentences the model was not given, of the question's own "
             "article where it has one, else of the next (no marker is right).\n\n"
             "| set | matcher | right marker | wrong or missing | marker where none is right | sentences held / foreign |\n"
             "|---|---|---|---|---|---|\n" + "\n".join(rows["Matching sentences to passages"]))
    body += ("\n\n### Examples\n\nMarkers as cite() left them.\n\n| set | question | answer |\n|---|---|---|\n"
             + "\n".join(rows["Examples"]))
    if not args.no_write:
        common.write_section(SECTION, body)
    print(body)


def _set_order(row: str) -> int:
    return SETS.index(row.split("|")[1].strip())  # stable: a table's rows stay in their order within a set


def kept_rows(run: list[str]) -> dict[str, list[str]]:
    """The rows of the sets not in this run, per table, from this bench's section of RESULTS.md; a section
    written before runs were listed gives its date, load and command as the run of each of its sets."""
    text = common.RESULTS.read_text(encoding="utf-8") if common.RESULTS.exists() else ""
    found = re.search(rf"^## {re.escape(SECTION)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    section = found.group(1) if found else ""
    rows: dict[str, list[str]] = {"Runs": [], "Who writes the markers": [], "Matching sentences to passages": [],
                                  "Examples": []}
    table = None
    for line in section.splitlines():
        if line.startswith("### ") or line.startswith("Examples"):
            table = "Examples" if line.startswith(("Examples", "### Examples")) else line[4:].strip()
        elif table in rows and line.startswith("| ") and line.split("|")[1].strip() in set(SETS) - set(run):
            rows[table].append(line)
    if not rows["Runs"]:
        date, load, command = (re.search(pattern, section, re.M) for pattern in (
            r"^- date: (.*)$", r"load average before ([\d. ]+), after ([\d. ]+)", r"^- command: `(.*)`$"))
        old = dict.fromkeys(line.split("|")[1].strip() for line in rows["Who writes the markers"])
        if date and load and command:
            rows["Runs"] = [f"| {name} | {date.group(1)} | {load.group(1).strip()}; {load.group(2).strip()} | `{command.group(1)}` |" for name in old]
    return rows

if __name__ == "__main__":
    main()
