"""Retrieval quality on the ../shared/eval sets: each embedding model, each mode, fusion and tokenizer
variants, a plain BM25 baseline, and the relevance gate.

Each article (all passages with one title, joined by blank lines) is written as one .txt document and
ingested through Services.add_files into one knowledge base per embedding model. Scoring is the app's own
(chatchat.evaluation, what `chatchat kb eval` and the Evaluate panel run): each question is a test item
whose `context` is its gold passage, so a hit at k is one of the top-k chunks containing a gold answer in
text that comes from that passage (the answer plus up to 8 characters on one side occurs in it; spaces,
width and case ignored). Recall@1/3/5/10 and MRR@10. The three modes are evaluation runs; the sweep and the
baselines rank otherwise and are judged by the same chatchat.evaluation.judge.Judge.

For every question the store's candidates (KnowledgeBase.candidates: 40 by vector, 40 by full text, the
cosine of each; for a Chinese question also 40 by BM25 over character bigrams, the bigram column) are read
once per FTS tokenizer, and every ranking is computed from them with chatchat.retrieval.fusion.fuse /
fuse_weighted — what KnowledgeBase.search ranks with; the row "hybrid (default)" is the app's configuration
(vector + ICU, and for a Chinese question vector + ICU + bigrams, chatchat.retrieval.chunks). "BM25 over
passages" ranks whole gold passages by Okapi BM25 over character bigrams (Chinese) and words (English),
computed here (retrieval_tools.py).

Gate: the last 20% of each set's articles are removed; the gate's signal for every question's top 3 hits
(chatchat.retrieval.gate.signal: the best hit's cosine plus a little for the question's terms it holds) decides
"covered" or "not covered" at the catalog's thresholds (models.yaml `gate`); refusal = questions about a
removed article that the gate refuses, false refusal = answerable questions it refuses. The evaluation run
over the same questions (those of removed articles marked unanswerable) gives the same two figures at the
Settings level ("gate (evaluation run)"). --calibrate sets the thresholds from the calibration half (the
questions at even positions, pooled per language: the signals that refuse 2.5% / 5% / 10% of its answerable
questions for loose / balanced / strict) and reports refusals on the other half (odd positions) only.

Embeddings of passages and questions are cached under bench/out/ (git-ignored); ingest chunks/s and
search p50 are measured on uncached embedders.

    nice -n 10 python bench/eval_retrieval.py --limit 300 --no-seed        # all sets, both models
    nice -n 10 python bench/eval_retrieval.py --sets xquad-zh-a --limit 60 --no-write --models multilingual-e5-small-q4
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from retrieval_tools import BM25, CachedEmbedder  # noqa: E402

from chatchat.evaluation import runs  # noqa: E402
from chatchat.evaluation.judge import Judge, scores as eval_scores  # noqa: E402
from chatchat.evaluation.testset import Item  # noqa: E402

SETS = ["cmrc2018-trial", "xquad-en-a", "xquad-zh-a"]
KS = (1, 3, 5, 10)
MODELS = ["minilm-l6-v2-int8", "multilingual-e5-small-q4"]
CANDIDATES = 40  # what KnowledgeBase.search reads for top 10
TOKENIZERS = {
    "icu": dict(base_tokenizer="icu"),
    "ngram 2": dict(base_tokenizer="ngram", ngram_min_length=2, ngram_max_length=2),
    "ngram 1-2": dict(base_tokenizer="ngram", ngram_min_length=1, ngram_max_length=2),
}
FUSIONS = [  # label, method, vector share, rrf k
    ("rrf k60 w0.5", "rrf", 0.5, 60), ("rrf k10 w0.5", "rrf", 0.5, 10), ("rrf k60 w0.35", "rrf", 0.35, 60),
    ("rrf k60 w0.65", "rrf", 0.65, 60),
    ("minmax w0.3", "minmax", 0.3, 60), ("minmax w0.4", "minmax", 0.4, 60), ("minmax w0.5", "minmax", 0.5, 60),
    ("minmax w0.6", "minmax", 0.6, 60), ("minmax w0.7", "minmax", 0.7, 60),
    ("zscore w0.3", "zscore", 0.3, 60), ("zscore w0.5", "zscore", 0.5, 60), ("zscore w0.7", "zscore", 0.7, 60),
]
# vector share, the bigrams' part of the full text's (chatchat.retrieval.chunks: CJK_VECTOR_WEIGHT, BIGRAM_SHARE)
BIGRAM_FUSIONS = [(0.0, 0.4), (0.0, 0.5), (0.4, 0.3), (0.4, 0.4), (0.4, 0.5), (0.5, 0.4), (0.6, 0.4)]
HELD_OUT_SHARE = 0.2  # of the articles, removed for the out-of-corpus questions
HALVES = ("calibration", "test")  # the questions at even / odd positions
GATE_QUANTILES = (("loose", 2.5), ("balanced", 5.0), ("strict", 10.0))  # % of answerable questions refused


@dataclass
class EvalSet:
    name: str
    articles: dict[str, list[str]]  # title -> context_ids in order
    passages: dict[str, str]  # context_id -> text
    questions: list[dict]
    files: dict[str, str] = field(default_factory=dict)  # title -> file name in the knowledge base


def load_set(name: str) -> EvalSet:
    folder = common.SHARED / "eval"
    articles: dict[str, list[str]] = {}
    passages: dict[str, str] = {}
    for line in (folder / f"{name}.contexts.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        articles.setdefault(row["title"], []).append(row["context_id"])
        passages[row["context_id"]] = row["text"]
    questions = [json.loads(line) for line in (folder / f"{name}.questions.jsonl").read_text(encoding="utf-8").splitlines()]
    questions = [q for q in questions if q["question"].strip()]  # cmrc2018-trial has 2 empty questions
    return EvalSet(name, articles, passages, questions)


def write_articles(es: EvalSet, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (title, ids) in enumerate(es.articles.items()):
        stem = re.sub(r"[^\w\- ]+", "_", title).strip(" _")[:60] or "article"
        name = f"{index:03d} {stem}.txt"
        es.files[title] = name
        (folder / name).write_text("\n\n".join(es.passages[i] for i in ids) + "\n", encoding="utf-8")
        paths.append(folder / name)
    return paths


def pick(questions: list[dict], limit: int | None) -> list[dict]:
    """`limit` questions spread evenly over the set (so over its articles), or all."""
    if not limit or limit >= len(questions):
        return questions
    step = len(questions) / limit
    return [questions[int(i * step)] for i in range(limit)]


def items_of(es: EvalSet, questions: list[dict]) -> list[Item]:
    """The questions as test items: each answer must come from its gold passage (`context`)."""
    return [Item(question=q["question"], answers=q["answers"], context=es.passages[q["context_id"]], id=q["id"])
            for q in questions]


def rank_of(item: Item, texts: list[str]) -> int | None:
    """1-based rank of the first of (at most 10) texts that answers, by the app's judge."""
    return Judge(item).rank([(text, "") for text in texts[:10]])


def scores(ranks: list[int | None]) -> dict[str, float]:
    figures = eval_scores(ranks, KS)
    return {**{f"R@{k}": figures[f"hit_at_{k}"] for k in KS}, "MRR": figures["mrr"]}


def row(system: str, ranks: list[int | None], **extra) -> dict:
    return {"system": system, **scores(ranks), "n": len(ranks), **extra}


def fmt(r: dict) -> str:
    cells = " | ".join(f"{r[f'R@{k}']:.3f}" for k in KS)
    extra = r.get("note", "")
    return f"| {r['system']} | {cells} | {r['MRR']:.3f} | {extra} |"


TABLE_HEAD = "| system | R@1 | R@3 | R@5 | R@10 | MRR@10 | notes |\n|---|---|---|---|---|---|---|"



# --- running the systems ------------------------------------------------------------------


def ingest(services, kb: str, paths: list[Path], embedding: str) -> dict:
    if services.store.exists(kb):
        services.delete_kb(kb)
    services.create_kb(kb, embedding=embedding)
    with common.timer() as t:
        results = services.add_files(kb, paths)
    bad = [f"{r.file}: {r.error}" for r in results if r.status not in ("added", "replaced")]
    if bad:
        raise SystemExit("ingest failed:\n" + "\n".join(bad))
    return {"chunks": sum(r.chunks for r in results), "s": t["s"]}


def ask(services, kb: str, items: list[Item], mode: str, **options) -> runs.Run:
    """An evaluation run (chatchat.evaluation.runs): through Services.search_many as the app asks, top 10
    without a threshold, no reranker; not stored."""
    return runs.run(services, kb, items, runs.RunOptions(top_k=10, mode=mode, score_threshold=-1.0, rerank=False,
                                                         **options), save_as="")


def rebuild_fts(kb, config: dict) -> None:
    from lancedb.index import FTS

    from chatchat.retrieval.chunks import FTS_OPTIONS

    kb.chunks_table.create_index("content", config=FTS(**{**FTS_OPTIONS, **config}), replace=True)


def sweep(kb, items: list[Item], vectors: np.ndarray, tokenizer: str) -> dict[str, list]:
    """Ranks of every fusion variant (and full text alone) from one read of each question's candidates."""
    from chatchat.retrieval.fusion import fuse, fuse_weighted

    found = [kb.candidates(v, item.question, CANDIDATES, "hybrid") for item, v in zip(items, vectors)]

    def ranks(order) -> list[int | None]:
        return [rank_of(item, [c.rows[cid]["text"] for cid, _ in order(c)[:10]]) for c, item in zip(found, items)]

    out = {f"fulltext, {tokenizer}": ranks(lambda c: c.bm25)}
    for label, method, weight, k in FUSIONS:
        out[f"{label}, {tokenizer}"] = ranks(lambda c: fuse(c.cosine, c.bm25, method, weight, k))
    if any(c.bigrams for c in found):  # Chinese questions in a table with the bigram column
        out["fulltext, bigrams"] = ranks(lambda c: c.bigrams)
        for weight, share in BIGRAM_FUSIONS:
            label = f"minmax w{weight}, {tokenizer} {1 - share:g} + bigrams {share:g}"
            out[label] = ranks(lambda c: fuse_weighted([(c.cosine, weight), (c.bm25, (1 - weight) * (1 - share)),
                                                        (c.bigrams, (1 - weight) * share)]))
    return out


def run_seed(paths: list[Path], items: list[Item]) -> tuple[list[int | None], dict]:
    seed = common.SeedPipeline()
    with common.timer() as t:
        chunks = 0
        for path in paths:
            parts = seed.load_split(path)
            seed.add(parts)
            chunks += len(parts)
    ranks = [rank_of(item, [d.page_content for d in seed.search(item.question, 10)]) for item in items]
    return ranks, {"chunks": chunks, "s": t["s"]}


def answer_path(services, kb: str, es: EvalSet, held: set[str], count: int) -> dict:
    """`count` answerable questions and `count` about removed articles asked end to end (an evaluation run with
    answers: the app's defaults, at most 96 tokens an answer)."""
    inside = pick([q for q in es.questions if q["context_id"] not in held], count)
    outside = pick([q for q in es.questions if q["context_id"] in held], count)
    items = items_of(es, inside) + [Item(question=q["question"], unanswerable=True) for q in outside]
    record = runs.run(services, kb, items, runs.RunOptions(top_k=10, answers=True, max_tokens=96), save_as="")
    result = {}
    for label, group in (("answerable", record.results[: len(inside)]), ("not in corpus", record.results[len(inside) :])):
        n = len(group) or 1
        result[label] = {"n": len(group), "answer_contains_gold": sum(bool(r["answer_ok"]) for r in group) / n,
                         "with_sources": sum(bool(r["cited"]) for r in group) / n,
                         "cites_in_text": sum(bool(re.search(r"\[\d+\]", r["answer"])) for r in group) / n,
                         "refused": sum(r["refused"] for r in group) / n, "errors": sum(bool(r["error"]) for r in group),
                         "s_per_answer": sum(r["seconds"] for r in group) / n}
        print(f"  answer path, {label}: {result[label]}", flush=True)
    return result


def bm25_baseline(es: EvalSet, items: list[Item]) -> list[int | None]:
    ids = list(es.passages)
    index = BM25([es.passages[i] for i in ids])
    return [rank_of(item, [es.passages[ids[i]] for i in index.rank(item.question, 10)]) for item in items]


def speed(services, cached: CachedEmbedder, kb: str, questions: list[dict]) -> dict:
    """Uncached: chunks/s embedding 48 stored chunks, and the p50 of Services.search (query embedding included)."""
    base = services.store.get(kb)
    texts = [r["content"] for r in base.chunks_table.search().select(["content"]).limit(48).to_list()]
    with common.timer() as t:
        cached.inner.embed(texts)
    services.embedders._loaded[cached.model_id] = cached.inner
    times = []
    try:
        for q in questions[:30]:
            with common.timer() as s:
                services.search(kb, q["question"], top_k=3)
            times.append(s["s"])
    finally:
        services.embedders._loaded[cached.model_id] = cached
    return {"chunks_s": len(texts) / t["s"], "p50_ms": 1000 * common.percentile(times, 50)}


def hold_out(services, es: EvalSet, kb: str) -> set[str]:
    """Remove the last HELD_OUT_SHARE of the articles; returns their context ids."""
    titles = list(es.articles)[-max(1, int(len(es.articles) * HELD_OUT_SHARE)) :]
    base = services.store.get(kb)
    with base.writing():  # Services.remove_document, with one optimize at the end instead of one per file
        for title in titles:
            base.remove_file(es.files[title])
        base.optimize()
    return {cid for title in titles for cid in es.articles[title]}


def gate_signals(services, kb: str, questions: list[dict], held: set[str]
                 ) -> dict[str, tuple[list[float], list[float]]]:
    """The gate's signal (chatchat.retrieval.gate.signal) for answerable questions and for those whose article is
    gone, in each half: "calibration" (questions at even positions) and "test" (odd positions)."""
    from chatchat.retrieval import gate

    halves: dict[str, tuple[list[float], list[float]]] = {half: ([], []) for half in HALVES}
    for index, q in enumerate(questions):
        hits = services.search(kb, q["question"], top_k=3, score_threshold=-1.0)
        inside, outside = halves[HALVES[index % 2]]
        (outside if q["context_id"] in held else inside).append(gate.signal(q["question"], hits))
    return halves


def gate_rates(inside: list[float], outside: list[float], threshold: float) -> dict:
    return {"refusal": float(np.mean(np.asarray(outside) < threshold)) if outside else 0.0,
            "false_refusal": float(np.mean(np.asarray(inside) < threshold)) if inside else 0.0,
            "n_out": len(outside), "n_in": len(inside)}


# --- the evaluation -----------------------------------------------------------------------


def evaluate(services, es: EvalSet, questions: list[dict], docs: Path, models: list[str], tokenizers: list[str],
             seed: bool, answers: int) -> dict:
    from chatchat.retrieval.chunks import FTS_OPTIONS

    items = items_of(es, questions)
    paths = write_articles(es, docs / es.name)
    result = {"set": es.name, "questions": len(questions), "rows": [], "sweep": {}, "speed": {}, "gate": {},
              "lang": questions[0].get("lang", "en")}  # each set is in one language
    result["rows"].append(row("BM25 over passages (bigrams zh / words en)", bm25_baseline(es, items),
                              note=f"{len(es.passages)} passages"))
    print(f"\n== {es.name}: {len(es.articles)} articles, {len(questions)} questions", flush=True)
    print(fmt(result["rows"][-1]), flush=True)
    product = next(name for name, c in TOKENIZERS.items() if c["base_tokenizer"] == FTS_OPTIONS["base_tokenizer"]
                   and c.get("ngram_min_length") == FTS_OPTIONS.get("ngram_min_length"))
    bigrams = " + bigrams" if result["lang"] != "en" else ""  # a CJK question is also ranked by bigrams (chunks.py)
    for model in models:
        real = services.embedders.get(model)
        cached = CachedEmbedder(getattr(real, "inner", real), common.OUT)  # the previous set left its cache there
        services.embedders._loaded[model] = cached
        kb = f"eval-{es.name}-{model}"
        info = ingest(services, kb, paths, model)
        vectors = cached.embed_query([q["question"] for q in questions])
        cached.save()
        print(f"-- {model}: {info['chunks']} chunks in {info['s']:.1f} s ({cached.misses} embedded, rest cached)", flush=True)
        for mode in ("vector", "fulltext", "hybrid"):
            with common.timer() as t:
                ranks = [r["rank"] for r in ask(services, kb, items, mode).results]
            label = f"{model}, {mode}" + (f" ({product}{bigrams})" if mode == "fulltext" else " (default)" if mode == "hybrid" else "")
            result["rows"].append(row(label, ranks, note=f"{info['chunks']} chunks; {1000 * t['s'] / len(questions):.0f} ms/q"))
            print(fmt(result["rows"][-1]), flush=True)
        result["speed"][model] = speed(services, cached, kb, questions)
        print(f"   speed: {result['speed'][model]}", flush=True)
        base = services.store.get(kb)
        for name in tokenizers:
            rebuild_fts(base, TOKENIZERS[name])
            for label, ranks in sweep(base, items, vectors, name).items():
                result["sweep"].setdefault(label, {})[model] = scores(ranks)
        rebuild_fts(base, {})  # back to the store's own
        held = hold_out(services, es, kb)
        result["gate"][model] = gate_signals(services, kb, questions, held)
        thresholds = services.catalog.embedding(model).gate.get(result["lang"])
        if thresholds:
            for level in ("loose", "balanced", "strict"):
                rates = gate_rates(*result["gate"][model]["test"], getattr(thresholds, level))
                print(f"   gate {level} {getattr(thresholds, level):.3f}: {rates}", flush=True)
        outside = [dataclasses.replace(item, unanswerable=True) if q["context_id"] in held else item
                   for item, q in zip(items, questions)]
        summary = ask(services, kb, outside, None).summary  # the chat's 3 hits, the gate at the Settings level
        result.setdefault("gate_run", {})[model] = {k: summary[k] for k in ("refusal_rate", "false_refusal_rate",
                                                                             "unanswerable", "answerable")}
        print(f"   gate (evaluation run, {services.settings.relevance_gate}): {result['gate_run'][model]}", flush=True)
        if answers:
            result.setdefault("answers", {})[model] = answer_path(services, kb, es, held, answers)
        cached.save()
        services.delete_kb(kb)
    if seed:
        ranks, seed_info = run_seed(paths, items)
        result["rows"].append(row("seed (vector, 250/50)", ranks, note=f"{seed_info['chunks']} chunks"))
        print(fmt(result["rows"][-1]), flush=True)
    return result


def calibrate(results: list[dict], model: str) -> dict[str, dict[str, float]]:
    """Per language, the thresholds at which the answerable questions of the calibration halves of its sets
    are refused 2.5 / 5 / 10% of the time (loose / balanced / strict)."""
    out = {}
    for lang in dict.fromkeys(r["lang"] for r in results):
        inside = [x for r in results if r["lang"] == lang and model in r["gate"]
                  for x in r["gate"][model]["calibration"][0]]
        if inside:
            out[lang] = {level: round(float(np.percentile(inside, share)), 3) for level, share in GATE_QUANTILES}
    return out


# --- RESULTS.md ---------------------------------------------------------------------------


def section(results: list[dict], models: list[str], services, header: str, calibrated: dict | None) -> str:
    from chatchat.retrieval.gate import WORDS_WEIGHT

    parts = [header]
    for r in results:
        parts += ["", f"**{r['set']}** ({r['questions']} questions)", "", TABLE_HEAD, *(fmt(x) for x in r["rows"])]
    parts += ["", "*Embedding speed and search latency* (uncached; chunks/s over 48 stored chunks, p50 of "
              "Services.search top 3 over 30 questions, hybrid, query embedding included)", "",
              "| model | set | chunks/s | search p50 ms |", "|---|---|---|---|"]
    parts += [f"| {m} | {r['set']} | {s['chunks_s']:.1f} | {s['p50_ms']:.0f} |" for r in results for m, s in r["speed"].items()]
    parts += ["", "*Fusion and FTS tokenizer* (R@1 / MRR@10; candidates 40 + 40; `w` = the vector share)", "",
              "| configuration | " + " | ".join(f"{r['set']} {m}" for r in results for m in models) + " |",
              "|---|" + "---|" * (len(results) * len(models))]
    labels = list(dict.fromkeys(label for r in results for label in r["sweep"]))
    for label in labels:
        cells = []
        for r in results:
            for m in models:
                s = r["sweep"].get(label, {}).get(m)
                cells.append(f"{s['R@1']:.3f} / {s['MRR']:.3f}" if s else "")
        parts.append(f"| {label} | " + " | ".join(cells) + " |")
    source = ("calibrated on the calibration half, the questions at even positions (--calibrate), as in models.yaml"
              if calibrated else "from models.yaml")
    parts += ["", f"*Relevance gate* ({HELD_OUT_SHARE:.0%} of each set's articles removed; signal "
              f"(chatchat.retrieval.gate): the best of the top 3 hits' cosine + {WORDS_WEIGHT} × the share of the question's "
              f"terms in it; thresholds per model and language, {source}; rates over the test half, the questions at "
              "odd positions; the evaluation run: all questions at the Settings level)", "",
              "| model | set | level (threshold) | refusal (not in KB) | false refusal (in KB) |", "|---|---|---|---|---|"]
    for r in results:
        for m in models:
            if calibrated:
                thresholds = calibrated[m].get(r["lang"])
            else:
                gate = services.catalog.embedding(m).gate.get(r["lang"])
                thresholds = gate.model_dump() if gate else None
            if not thresholds or m not in r["gate"]:
                continue
            for level in ("loose", "balanced", "strict"):
                rates = gate_rates(*r["gate"][m]["test"], thresholds[level])
                parts.append(f"| {m} | {r['set']} | {level} ({thresholds[level]:.3f}) | "
                             f"{rates['refusal']:.2f} (n {rates['n_out']}) | {rates['false_refusal']:.2f} (n {rates['n_in']}) |")
            run = r.get("gate_run", {}).get(m)
            if run:
                parts.append(f"| {m} | {r['set']} | evaluation run ({services.settings.relevance_gate}) | "
                             f"{run['refusal_rate']:.2f} (n {run['unanswerable']}) | {run['false_refusal_rate']:.2f} (n {run['answerable']}) |")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--tokenizers", default=",".join(TOKENIZERS))
    parser.add_argument("--limit", type=int, help="questions per set (spread over the set); default all")
    parser.add_argument("--seed", action="store_true", help="also the seed's pipeline (needs the bench extra)")
    parser.add_argument("--answers", type=int, default=0, help="questions per set and kind through the answer path")
    parser.add_argument("--calibrate", action="store_true", help="print the gate thresholds these sets give")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    load_before = common.load()
    started = time.perf_counter()
    home = common.scratch_dir("eval-")
    models = args.models.split(",")
    results = []
    try:
        services = common.open_services(home)
        for name in args.sets.split(","):
            es = load_set(name)
            results.append(evaluate(services, es, pick(es.questions, args.limit), home / "docs", models,
                                    args.tokenizers.split(","), args.seed, args.answers))
        note = (f"{(time.perf_counter() - started) / 60:.1f} min; chunks {services.settings.chunk_size}/"
                f"{services.settings.chunk_overlap} tokens (chatchat.ingest.split.measure); top 10 without threshold; "
                "questions spread evenly over each set")
        calibrated = {model: calibrate(results, model) for model in models} if args.calibrate else None
        (common.OUT / "gate-signals.json").write_text(json.dumps({r["set"]: r["gate"] for r in results}))
        text = section(results, models, services, common.header(common.command_line(), load_before, common.load(), note),
                       calibrated)
        print("\n" + text)
        for model, thresholds in (calibrated or {}).items():
            print(f"gate thresholds for {model}: {thresholds}")
        if not args.no_write:
            common.write_section("Retrieval quality (eval_retrieval.py)", text)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
