"""Retrieval latency and recall at 10k / 100k / 1M chunks, flat and with the ANN index, through our
KnowledgeBase.search (store.py) and through raw LanceDB on the same table, so our overhead shows.

Vectors are synthetic, 384-d, unit length and clustered (points around 2,000 random centres, like
embeddings of text on many topics; uniform random vectors have no neighbours and flatter recall).
They are made and added in batches of 4,096 (one registered document each, the ingest job's commit
size), so memory stays bounded; the exact top-10 of every query is kept up to date batch by batch.
Recall@10 is against that exact search. Peak RSS is sampled while the table is built.

    python bench/bench_search.py [--scales 10000,100000,1000000] [--queries 100] [--no-write]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from lancedb.index import IvfHnswSq  # noqa: E402

from chatchat.retrieval.chunks import ChunkRow  # noqa: E402
from chatchat.retrieval.registry import DocumentRecord  # noqa: E402
from chatchat.retrieval.store import Store  # noqa: E402

DIM = 384
CENTRES = 2000
NOISE = 0.05  # per dimension: a point's cosine to its centre is ~0.7, to its nearest neighbours ~0.5–0.8
BATCH = 4096
TOP_K = 10


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


def build(kb, data: Data, rows: int, exact: ExactTopK) -> dict:
    with common.RssSampler() as rss, common.timer() as t:
        for batch_index, start in enumerate(range(0, rows, BATCH)):
            size = min(BATCH, rows - start)
            vectors = data.batch(batch_index, size)
            exact.add(vectors, start)
            record = DocumentRecord.new(f"doc{batch_index}.txt", "0" * 64, 0, None, doc_id=f"d{batch_index:05d}")
            with kb.document_writer(record) as writer:
                writer.add_chunks(
                    ChunkRow(text=f"段落 {start + i}", content=f"段落 {start + i} topic{start + i} 文档{batch_index}",
                             page=None, section=None, index=start + i, vector=vectors[i])
                    for i in range(size)
                )
    return {"add_s": t["s"], "rows_per_s": rows / t["s"], "rss_start_mb": rss.start_rss / 2**20,
            "rss_peak_mb": rss.peak_rss / 2**20}


def time_queries(run, queries: np.ndarray) -> tuple[list[float], list[list[int]]]:
    run(queries[0])  # first query opens files and caches the index: not a steady-state figure
    latencies, found = [], []
    for q in queries:
        start = time.perf_counter()
        ids = run(q)
        latencies.append(time.perf_counter() - start)
        found.append(ids)
    return latencies, found


def ours(kb, mode: str = "vector"):
    def run(q: np.ndarray) -> list[int]:
        return [hit.chunk_index for hit in kb.search(q, "topic17 文档3", top_k=TOP_K, score_threshold=-1.0, mode=mode)]

    return run


def raw(kb, indexed: bool):
    def run(q: np.ndarray) -> list[int]:
        query = kb.chunks_table.search(q, vector_column_name="vector").distance_type("cosine").select(["id"]).limit(TOP_K)
        if indexed:
            query = query.nprobes(20).refine_factor(10)
        return [int(i.rsplit(":", 1)[1]) for i in query.to_arrow().column("id").to_pylist()]

    return run


def measure(label: str, run, queries: np.ndarray, exact: ExactTopK, recall: bool = True) -> dict:
    latencies, found = time_queries(run, queries)
    row = {"label": label, "p50_ms": common.percentile(latencies, 50) * 1e3, "p95_ms": common.percentile(latencies, 95) * 1e3,
           "recall": exact.recall(found) if recall else None, "n": len(queries)}
    print(f"  {label:<28} p50 {row['p50_ms']:8.1f} ms  p95 {row['p95_ms']:8.1f} ms"
          + (f"  recall@10 {row['recall']:.3f}" if recall else ""), flush=True)
    return row


def bench_scale(rows: int, data: Data, queries: np.ndarray, flat_queries: int, hnsw_max_rows: int,
                no_index: bool = False) -> dict:
    print(f"\n== {rows:,} chunks", flush=True)
    folder = common.scratch_dir(f"search-{rows}-")
    try:
        store = Store(folder / "kbs", folder / "db", index_threshold=10**12)  # indexes only when told below
        store.create("bench", embedding="synthetic", dim=DIM)
        kb = store.get("bench")
        exact = ExactTopK(queries)
        built = build(kb, data, rows, exact)
        print(f"  add: {built['add_s']:.1f} s ({built['rows_per_s']:,.0f} rows/s), RSS {built['rss_start_mb']:.0f} → "
              f"peak {built['rss_peak_mb']:.0f} MB", flush=True)
        with common.timer() as t_fts:
            kb.optimize()  # below the threshold: full-text index + compaction, no vector index
        print(f"  optimize (FTS index + compaction): {t_fts['s']:.1f} s", flush=True)
        flat_q = queries[:flat_queries]
        results = [measure("flat: ours (vector)", ours(kb), flat_q, _subset(exact, flat_queries)),
                   measure("flat: raw LanceDB", raw(kb, False), flat_q, _subset(exact, flat_queries)),
                   measure("flat: ours (hybrid)", ours(kb, "hybrid"), flat_q, exact, recall=False)]
        index_s = pq_s = None
        if no_index:
            return {"rows": rows, **built, "fts_s": t_fts["s"], "index_s": None, "pq_s": None, "results": results}
        kb.index_threshold = 0
        with common.timer() as t_pq:
            kb.optimize()  # now builds IVF_PQ, as the store does past settings.vector_index_threshold
        pq_s = t_pq["s"]
        print(f"  optimize (vector index IVF_PQ): {pq_s:.1f} s", flush=True)
        results += [measure("IVF_PQ: ours (vector)", ours(kb), queries, exact),
                    measure("IVF_PQ: raw LanceDB", raw(kb, True), queries, exact),
                    measure("IVF_PQ: ours (hybrid)", ours(kb, "hybrid"), queries, exact, recall=False)]
        # the alternative: IVF_HNSW_SQ (graph search) searches about as fast but builds far slower; the store's
        # search applies the same nprobes/refine_factor to any vector index
        if rows <= hnsw_max_rows:
            with common.timer() as t_index:
                kb.chunks_table.create_index("vector", config=IvfHnswSq(distance_type="cosine"), replace=True)
            index_s = t_index["s"]
            print(f"  IVF_HNSW_SQ index (raw create_index): {index_s:.1f} s", flush=True)
            results += [measure("IVF_HNSW_SQ: ours (vector)", ours(kb), queries, exact),
                        measure("IVF_HNSW_SQ: raw LanceDB", raw(kb, True), queries, exact)]
        else:
            print(f"  IVF_HNSW_SQ skipped above {hnsw_max_rows:,} rows (--hnsw-max-rows)", flush=True)
        return {"rows": rows, **built, "fts_s": t_fts["s"], "index_s": index_s, "pq_s": pq_s, "results": results}
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
    for s in scales:
        first = True
        for r in s["results"]:
            hnsw = f"{s['index_s']:.0f} s" if s["index_s"] is not None else "not built"
            pq = f"{s['pq_s']:.0f} s" if s["pq_s"] is not None else "not built"
            lead = (f"| {s['rows']:,} | {s['add_s']:.0f} s ({s['rows_per_s']:,.0f}) | {s['rss_peak_mb']:.0f} MB "
                    f"(start {s['rss_start_mb']:.0f}) | {s['fts_s']:.1f} s | {hnsw} | {pq} |") if first else "| | | | | | |"
            recall = f"{r['recall']:.3f}" if r["recall"] is not None else "–"
            lines.append(f"{lead} {r['label']} (n={r['n']}) | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {recall} |")
            first = False
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--flat-queries-1m", type=int, default=20, help="flat search at 1M takes ~1 s a query")
    parser.add_argument("--hnsw-max-rows", type=int, default=100_000,
                        help="build the store's IVF_HNSW_SQ index only up to this size (100k took ~13 min on 2 busy cores)")
    parser.add_argument("--no-index", action="store_true", help="only add, FTS-index and search flat")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load_before = common.load()
    data = Data()
    queries = data.queries(args.queries)
    scales = []
    for rows in (int(x) for x in args.scales.split(",")):
        flat = args.flat_queries_1m if rows >= 500_000 else args.queries
        scales.append(bench_scale(rows, data, queries, flat, args.hnsw_max_rows, args.no_index))
    note = ("synthetic clustered unit vectors (2,000 centres), added through KnowledgeBase.document_writer "
            f"(one document of {BATCH} chunks a batch); ours = KnowledgeBase.search(top_k=10, threshold -1); raw = table.search().limit(10) "
            "(+ nprobes 20, refine_factor 10 with the index, as the store sets); hybrid adds the FTS query, no recall "
            "figure (synthetic text)")
    table = markdown(scales, common.header(common.command_line(), load_before, common.load(), note))
    print("\n" + table)
    if not args.no_write:
        common.write_section("Search latency and scale (bench_search.py)", table)


if __name__ == "__main__":
    main()
