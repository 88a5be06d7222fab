"""Retrieval latency and recall at 10k / 100k / 1M chunks, flat and with the ANN index, through our
KnowledgeBase.search (chunks.py) and through raw LanceDB on the same table, so our overhead shows; and
the time an answer spends before its model is handed the prompt (retrieve + gate + neighbours + prompt).

The knowledge base is the app's own (Services, the default embedding model): the articles of xquad-en-a and
xquad-zh-a (../shared/eval) ingested through Services.add_files, then filled up to the scale with synthetic
chunks whose texts are cut from cmrc2018-trial and whose vectors are 384-d, unit length and clustered
(points around 2,000 random centres, like embeddings of text on many topics; uniform random vectors have no
neighbours and flatter recall). They are made and added in batches of 4,096 (one registered document each,
the ingest job's commit size), so memory stays bounded; the exact top-10 of every synthetic query is kept up
to date batch by batch, and recall@10 is against it. Peak RSS is sampled while the table is built.

Every query runs through each compared path in turn (the order rotating), so a load that changes during the
run weighs on all of them alike. Raw LanceDB is asked for the top 10 with the smallest refine_factor whose
recall@10 reaches ours (the same recall; nprobes 20 as the store sets). Hybrid's two halves are the raw
queries it makes: the vector query as the store asks it (40 candidates) and the full-text query (40).

    python bench/bench_search.py [--scales 10000,100000,1000000] [--queries 100] [--answers 20] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from lancedb.index import IvfHnswSq  # noqa: E402

from chatchat.retrieval.chunks import CANDIDATES_PER_HIT, ChunkRow  # noqa: E402
from chatchat.retrieval.registry import DocumentRecord  # noqa: E402

DIM = 384
CENTRES = 2000
NOISE = 0.05  # per dimension: a point's cosine to its centre is ~0.7, to its nearest neighbours ~0.5–0.8
BATCH = 4096
TOP_K = 10
KB = "bench"
EVAL = common.SHARED / "eval"
ARTICLES = ("xquad-en-a", "xquad-zh-a")  # ingested for real: the answers' passages
ARTICLE_COUNT = 8  # of each set: ingest through the embedding model is most of the build on a busy machine
FILLER = "cmrc2018-trial"  # the synthetic chunks' texts
REFINE_GRID = (1, 2, 3, 5, 10, 20, 40, 80)
MODEL = "smollm2-135m-instruct"


class Data:
    """Deterministic clustered vectors: batch i is the same on every run."""

    def __init__(self, seed: int = 7):
        rng = np.random.default_rng(seed)
        self.seed = seed
        self.centres = _unit(rng.standard_normal((CENTRES, DIM)).astype(np.float32))

    def batch(self, index: int, size: int, stream: int = 0) -> np.ndarray:
        rng = np.random.default_rng((self.seed, stream, index))
        labels = rng.integers(0, CENTRES, size)
        points = self.centres[labels] + NOISE * rng.standard_normal((size, DIM)).astype(np.float32)
        return _unit(points)

    def queries(self, count: int) -> np.ndarray:
        return self.batch(0, count, stream=1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def article_files(folder: Path) -> list[Path]:
    """Each article of the ARTICLES sets as one text file (its passages joined by blank lines)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ARTICLES:
        articles: dict[str, list[str]] = {}
        for context in _jsonl(EVAL / f"{name}.contexts.jsonl"):
            articles.setdefault(context["title"], []).append(context["text"])
        for title, texts in list(articles.items())[:ARTICLE_COUNT]:
            path = folder / f"{name}-{title}.txt"
            path.write_text("\n\n".join(texts), encoding="utf-8")
            paths.append(path)
    return paths


def filler_texts() -> list[str]:
    """Pieces of about 300 characters (50 overlapping) of the FILLER set's passages."""
    return [text[i : i + 300] for c in _jsonl(EVAL / f"{FILLER}.contexts.jsonl") for text in [c["text"]]
            for i in range(0, len(text), 250)]


def questions(count: int) -> list[str]:
    """`count` questions of each ARTICLES set about the articles ingested, alternating languages."""
    sets = []
    for name in ARTICLES:
        titles = list(dict.fromkeys(c["title"] for c in _jsonl(EVAL / f"{name}.contexts.jsonl")))[:ARTICLE_COUNT]
        asked = [q["question"] for q in _jsonl(EVAL / f"{name}.questions.jsonl") if q["context_id"].split(":")[1] in titles]
        sets.append(asked[:: max(1, len(asked) // count)][:count])
    return [q for pair in zip(*sets) for q in pair]


class ExactTopK:
    """Running exact top-k by cosine for a fixed set of queries, fed batch by batch."""

    def __init__(self, queries: np.ndarray, k: int = TOP_K):
        self.queries = queries
        self.k = k
        self.scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        self.ids = np.full((len(queries), k), -1, dtype=np.int64)

    def add(self, vectors: np.ndarray, first_id: int) -> None:
        sims = self.queries @ vectors.T
        ids = np.broadcast_to(np.arange(first_id, first_id + len(vectors)), sims.shape)
        all_scores = np.concatenate([self.scores, sims], axis=1)
        all_ids = np.concatenate([self.ids, ids], axis=1)
        top = np.argpartition(-all_scores, self.k - 1, axis=1)[:, : self.k]
        self.scores = np.take_along_axis(all_scores, top, axis=1)
        self.ids = np.take_along_axis(all_ids, top, axis=1)

    def recall(self, found: list[list[int]]) -> float:
        return float(np.mean([len(set(f[: self.k]) & set(t)) / self.k for f, t in zip(found, self.ids.tolist())]))


def build(services, data: Data, rows: int, exact: ExactTopK, work: Path) -> dict:
    """The real articles, then synthetic chunks up to `rows`. Synthetic chunk i has chunk_index i (its id in
    `exact`); the real ones, far from every synthetic query, are left out of the exact top-k."""
    services.create_kb(KB)
    kb = services.store.get(KB)
    texts = filler_texts()
    with common.RssSampler() as rss, common.timer() as t:
        ingested = services.add_files(KB, article_files(work / "articles"))
        real = sum(r.chunks for r in ingested)
        for batch_index, start in enumerate(range(0, rows - real, BATCH)):
            size = min(BATCH, rows - real - start)
            vectors = data.batch(batch_index, size)
            exact.add(vectors, start)
            record = DocumentRecord.new(f"doc{batch_index}.txt", "0" * 64, 0, None, doc_id=f"d{batch_index:05d}")
            with kb.document_writer(record) as writer:
                writer.add_chunks(
                    ChunkRow(text=texts[(start + i) % len(texts)], content=texts[(start + i) % len(texts)],
                             page=None, section=None, index=start + i, vector=vectors[i])
                    for i in range(size)
                )
    return {"add_s": t["s"], "rows_per_s": rows / t["s"], "rss_start_mb": rss.start_rss / 2**20,
            "rss_peak_mb": rss.peak_rss / 2**20, "real": real}


def _index_of(hit) -> int:
    return hit.chunk_index if hit.doc_id.startswith("d") and hit.doc_id[1:].isdigit() else -1


def ours(kb, mode: str):
    def run(q: np.ndarray, text: str) -> list[int]:
        return [_index_of(hit) for hit in kb.search(q, text, top_k=TOP_K, score_threshold=-1.0, mode=mode)]

    return run


def raw_vector(kb, limit: int, refine: int | None):
    def run(q: np.ndarray, text: str) -> list[int]:
        query = kb.chunks_table.search(q, vector_column_name="vector").distance_type("cosine")
        if refine is not None:
            query = query.nprobes(20).refine_factor(refine)
        ids = query.select(["id", "_distance"]).limit(limit).to_arrow().column("id").to_pylist()
        return [int(i.rsplit(":", 1)[1]) if i.startswith("d") else -1 for i in ids]

    return run


def raw_fulltext(kb, limit: int):
    def run(q: np.ndarray, text: str) -> list[int]:
        kb.chunks_table.search(text, query_type="fts", fts_columns="content").select(["id", "_score"]).limit(limit).to_arrow()
        return []

    return run


def side_by_side(runs: dict, queries: np.ndarray, texts: list[str], exact: ExactTopK, exact_for: set[str]) -> dict[str, dict]:
    """Each query through every run in turn, the first run rotating; p50/p95 per run, and recall@10 for those
    in `exact_for` (a run of top-10 vector search)."""
    names = list(runs)
    for name in names:  # the first query opens files and caches the index: not a steady-state figure
        runs[name](queries[0], texts[0])
    latencies: dict[str, list[float]] = {name: [] for name in names}
    found: dict[str, list[list[int]]] = {name: [] for name in names}
    for i, q in enumerate(queries):
        for name in names[i % len(names):] + names[: i % len(names)]:
            start = time.perf_counter()
            ids = runs[name](q, texts[i % len(texts)])
            latencies[name].append(time.perf_counter() - start)
            found[name].append(ids)
    rows = {}
    for name in names:
        recall = exact.recall(found[name]) if exact is not None and name in exact_for else None
        rows[name] = {"label": name, "p50_ms": common.percentile(latencies[name], 50) * 1e3,
                      "p95_ms": common.percentile(latencies[name], 95) * 1e3, "recall": recall, "n": len(queries)}
        print(f"  {name:<44} p50 {rows[name]['p50_ms']:8.1f} ms  p95 {rows[name]['p95_ms']:8.1f} ms"
              + (f"  recall@10 {recall:.3f}" if recall is not None else ""), flush=True)
    return rows


def same_recall_refine(kb, queries: np.ndarray, texts: list[str], exact: ExactTopK, target: float) -> int:
    """The smallest refine_factor of REFINE_GRID with which raw LanceDB's top 10 reach `target` recall@10."""
    for refine in REFINE_GRID:
        run = raw_vector(kb, TOP_K, refine)
        if exact.recall([run(q, texts[0]) for q in queries]) >= target:
            return refine
    return REFINE_GRID[-1]


def compare(kb, index: str, queries: np.ndarray, texts: list[str], exact: ExactTopK) -> dict:
    """ours against raw LanceDB at the same recall, and hybrid against its two raw halves."""
    indexed = index != "flat"
    vector = ours(kb, "vector")
    target = exact.recall([vector(q, texts[0]) for q in queries])
    refine = same_recall_refine(kb, queries, texts, exact, target) if indexed else None
    candidates = max(TOP_K * CANDIDATES_PER_HIT, 20)
    hybrid_refine = kb._chunks._refine_factor(candidates) if indexed else None
    raw_label = f"{index}: raw LanceDB, same recall" + (f" (refine {refine})" if indexed else "")
    runs = {f"{index}: ours (vector)": vector, raw_label: raw_vector(kb, TOP_K, refine),
            f"{index}: ours (hybrid)": ours(kb, "hybrid"),
            f"{index}: raw vector half ({candidates}" + (f", refine {hybrid_refine})" if indexed else ")"):
                raw_vector(kb, candidates, hybrid_refine),
            f"{index}: raw full-text half ({candidates})": raw_fulltext(kb, candidates)}
    rows = list(side_by_side(runs, queries, texts, exact, set(list(runs)[:2])).values())
    vector_ratio = rows[0]["p50_ms"] / rows[1]["p50_ms"]
    hybrid_ratio = rows[2]["p50_ms"] / max(rows[3]["p50_ms"], rows[4]["p50_ms"])
    print(f"  ours ÷ raw (vector, p50): {vector_ratio:.2f}; hybrid ÷ slower half: {hybrid_ratio:.2f}", flush=True)
    return {"index": index, "rows": rows, "vector_ratio": vector_ratio, "hybrid_ratio": hybrid_ratio}


def time_to_prompt(services, asked: list[str]) -> dict:
    """Services.answer with the demo model, from the call to the moment its engine is handed the prompt
    (retrieve: embed + search, gate, neighbours; then the prompt), beside Services.search_many alone (the
    search part), in turn on alternate questions (a question searched twice would reuse its query vector).
    The engine's stream is replaced on this instance by a hook that notes the moment and yields nothing."""
    model = services.llms.get(MODEL)
    handed: list[float] = []

    def hook(request):
        handed.append(time.perf_counter())
        return iter(())

    model.stream = hook  # instrumentation on this instance only
    total, search = [], []
    try:
        for i, question in enumerate(asked):
            start = time.perf_counter()
            if i % 2:
                services.search_many([KB], question, top_k=services.settings.top_k)
                search.append(time.perf_counter() - start)
                continue
            events = list(services.answer(question, kb=KB, model=MODEL, rewrite=False))
            if any(e.kind == "error" for e in events):
                raise SystemExit(f"answer failed: {events}")
            if len(handed) == len(total) + 1:
                total.append(handed[-1] - start)
    finally:
        del model.stream
    result = {"asked": (len(asked) + 1) // 2, "prompted": len(total), "top_k": services.settings.top_k, "total_ms": common.percentile(total, 50) * 1e3,
              "search_ms": common.percentile(search, 50) * 1e3}
    result["rest_ms"] = result["total_ms"] - result["search_ms"]
    print(f"  before the prompt (p50 of {len(total)} prompted of {len(asked)}): {result['total_ms']:.1f} ms, "
          f"of which search {result['search_ms']:.1f} ms, the rest {result['rest_ms']:.1f} ms", flush=True)
    return result


def bench_scale(rows: int, data: Data, queries: np.ndarray, texts: list[str], flat_queries: int,
                hnsw_max_rows: int, answers: int, no_index: bool = False) -> dict:
    print(f"\n== {rows:,} chunks", flush=True)
    folder = common.scratch_dir(f"search-{rows}-")
    try:
        services = common.open_services(folder / "home", vector_index_threshold=10**9)  # indexed when told below
        exact = ExactTopK(queries)
        built = build(services, data, rows, exact, folder)
        kb = services.store.get(KB)
        print(f"  add: {built['add_s']:.1f} s ({built['rows_per_s']:,.0f} rows/s; {built['real']} ingested), "
              f"RSS {built['rss_start_mb']:.0f} → peak {built['rss_peak_mb']:.0f} MB", flush=True)
        with common.timer() as t_fts:
            kb.optimize()  # below the threshold: full-text index + compaction, no vector index
        print(f"  optimize (FTS index + compaction): {t_fts['s']:.1f} s", flush=True)
        out = {"rows": rows, **built, "fts_s": t_fts["s"], "index_s": None, "pq_s": None, "answer": None}
        flat_q = queries[:flat_queries]
        out["compared"] = [compare(kb, "flat", flat_q, texts, _subset(exact, flat_queries))]
        if no_index:
            return out
        kb.index_threshold = 0
        with common.timer() as t_pq:
            kb.optimize()  # now builds IVF_PQ, as the store does past settings.vector_index_threshold
        out["pq_s"] = t_pq["s"]
        print(f"  optimize (vector index IVF_PQ): {t_pq['s']:.1f} s", flush=True)
        out["compared"].append(compare(kb, "IVF_PQ", queries, texts, exact))
        if answers:
            out["answer"] = time_to_prompt(services, questions(answers))
        # the alternative: IVF_HNSW_SQ (graph search) searches about as fast but builds far slower; the store's
        # search applies the same nprobes/refine_factor to any vector index
        if rows <= hnsw_max_rows:
            with common.timer() as t_index:
                kb.chunks_table.create_index("vector", config=IvfHnswSq(distance_type="cosine"), replace=True)
            out["index_s"] = t_index["s"]
            print(f"  IVF_HNSW_SQ index (raw create_index): {t_index['s']:.1f} s", flush=True)
            out["compared"].append(compare(kb, "IVF_HNSW_SQ", queries, texts, exact))
        else:
            print(f"  IVF_HNSW_SQ skipped above {hnsw_max_rows:,} rows (--hnsw-max-rows)", flush=True)
        services.llms.unload_all()
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _subset(exact: ExactTopK, count: int) -> ExactTopK:
    part = ExactTopK(exact.queries[:count], exact.k)
    part.scores, part.ids = exact.scores[:count], exact.ids[:count]
    return part


def markdown(scales: list[dict], header: str) -> str:
    lines = [header, "",
             "| chunks | add (rows/s) | peak RSS while adding | FTS+compact | IVF_HNSW_SQ build | IVF_PQ build | search | p50 ms | p95 ms | recall@10 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    ratios = ["", "| chunks | index | vector: ours ÷ raw at the same recall (p50; goal ≤ 1.2) | hybrid ÷ slower half (p50; goal ≤ 1.3) |",
              "|---|---|---|---|"]
    answers = ["", "| chunks | before the prompt, p50 ms (goal ≤ 50) | of which search (embed + hybrid) | the rest (gate, neighbours, prompt) | prompted / asked |",
               "|---|---|---|---|---|"]
    for s in scales:
        first = True
        hnsw = f"{s['index_s']:.0f} s" if s["index_s"] is not None else "not built"
        pq = f"{s['pq_s']:.0f} s" if s["pq_s"] is not None else "not built"
        for compared in s["compared"]:
            ratios.append(f"| {s['rows']:,} | {compared['index']} | **{compared['vector_ratio']:.2f}** | **{compared['hybrid_ratio']:.2f}** |")
            for r in compared["rows"]:
                lead = (f"| {s['rows']:,} | {s['add_s']:.0f} s ({s['rows_per_s']:,.0f}) | {s['rss_peak_mb']:.0f} MB "
                        f"(start {s['rss_start_mb']:.0f}) | {s['fts_s']:.1f} s | {hnsw} | {pq} |") if first else "| | | | | | |"
                recall = f"{r['recall']:.3f}" if r["recall"] is not None else "–"
                lines.append(f"{lead} {r['label']} (n={r['n']}) | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {recall} |")
                first = False
        if s["answer"]:
            a = s["answer"]
            answers.append(f"| {s['rows']:,} | **{a['total_ms']:.1f}** | {a['search_ms']:.1f} | {a['rest_ms']:.1f} | "
                           f"{a['prompted']} / {a['asked']} |")
    return "\n".join(lines + ratios + (answers if len(answers) > 3 else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--answers", type=int, default=20, help="questions of each language asked for the time to the prompt")
    parser.add_argument("--flat-queries", type=int, help="queries of the flat search (default: --queries)")
    parser.add_argument("--flat-queries-1m", type=int, default=20, help="flat search at 1M takes ~1 s a query")
    parser.add_argument("--hnsw-max-rows", type=int, default=100_000,
                        help="build the store's IVF_HNSW_SQ index only up to this size (100k took ~13 min on 2 busy cores)")
    parser.add_argument("--no-index", action="store_true", help="only add, FTS-index and search flat")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load_before = common.load()
    data = Data()
    queries = data.queries(args.queries)
    texts = questions(args.queries)
    scales = []
    for rows in (int(x) for x in args.scales.split(",")):
        flat = args.flat_queries_1m if rows >= 500_000 else (args.flat_queries or args.queries)
        scales.append(bench_scale(rows, data, queries, texts, flat, args.hnsw_max_rows, args.answers, args.no_index))
    note = (f"Services with the default embedding model; {', '.join(ARTICLES)} ingested, the rest synthetic clustered unit "
            f"vectors (2,000 centres) with {FILLER} texts, added through KnowledgeBase.document_writer (one document of "
            f"{BATCH} chunks a batch); ours = KnowledgeBase.search(top_k=10, threshold -1), full-text queries are eval "
            "questions; each query through every path in turn. Before the prompt: Services.answer with "
            f"{MODEL} up to its engine being handed the prompt (Settings' top_k, hybrid, gate and neighbours)")
    table = markdown(scales, common.header(common.command_line(), load_before, common.load(), note))
    print("\n" + table)
    if not args.no_write:
        common.write_section("Search latency and scale (bench_search.py)", table)


if __name__ == "__main__":
    main()
