"""The store on S3 against the store on local disk: chunks written per second and search p50/p95, same corpus.

The S3 store is a SeaweedFS server on loopback (tests/s3_server.py; moto's server where weed cannot run, and
the table says which). The corpus is the shared chatchat samples (Markdown and text), parsed and split as the
ingest job does, `--copies` times over under other names; each chunk gets a seeded random unit vector, so the
figures are the store's own (embedding costs the same on both and is in bench_ingest.py). Writing is
KnowledgeBase.document_writer per document, then optimize (FTS index, compaction); search is hybrid
KnowledgeBase.search(top_k=5) with a chunk's words and a vector near its own.

    python bench/bench_s3.py [--copies 3] [--queries 50] [--no-write]
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

sys.path.insert(0, str(common.REPO / "tests"))
import s3_server  # noqa: E402

from chatchat.config import Settings  # noqa: E402
from chatchat.ingest.parse import parse_file  # noqa: E402
from chatchat.ingest.split import split_elements  # noqa: E402
from chatchat.retrieval.chunks import ChunkRow  # noqa: E402
from chatchat.retrieval.location import locate  # noqa: E402
from chatchat.retrieval.registry import DocumentRecord  # noqa: E402
from chatchat.retrieval.store import Store  # noqa: E402

DIM = 384
SAMPLES = common.SHARED / "docs" / "chatchat-samples"


def corpus(copies: int) -> list[tuple[str, list[ChunkRow]]]:
    rng = np.random.default_rng(0)
    documents = []
    for path in sorted([*SAMPLES.glob("*.md"), SAMPLES / "test.txt"]):
        chunks = split_elements(parse_file(path, filename=path.name), 400, 80)
        for copy in range(copies):
            vectors = rng.normal(size=(len(chunks), DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            rows = [ChunkRow(c.text, c.text, c.page, c.section, c.index, v) for c, v in zip(chunks, vectors)]
            documents.append((f"copy{copy}/{path.name}", rows))
    return documents


def run(store: Store, documents: list[tuple[str, list[ChunkRow]]], queries: int) -> dict:
    store.create("bench", embedding="random", dim=DIM)
    kb = store.get("bench")
    start = time.perf_counter()
    for name, rows in documents:
        with kb.document_writer(DocumentRecord.new(name, "0" * 64, 0, None)) as writer:
            writer.add_chunks(rows)
    written = time.perf_counter() - start
    kb.optimize()
    total = time.perf_counter() - start
    rng = np.random.default_rng(1)
    all_rows = [row for _, rows in documents for row in rows]
    latencies = []
    for _ in range(queries):
        row = all_rows[int(rng.integers(len(all_rows)))]
        vector = row.vector + rng.normal(scale=0.02, size=DIM).astype(np.float32)
        text = " ".join(row.text.split()[:4]) or row.text[:8]
        began = time.perf_counter()
        kb.search(vector / np.linalg.norm(vector), text, top_k=5)
        latencies.append((time.perf_counter() - began) * 1000)
    chunks = len(all_rows)
    return {"chunks": chunks, "write_cps": chunks / written, "ingest_cps": chunks / total,
            "p50": common.percentile(latencies, 50), "p95": common.percentile(latencies, 95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    load_before = common.load()
    documents = corpus(args.copies)
    folder = common.scratch_dir("bench-s3-")
    server, process = s3_server.start(folder / "s3")
    try:
        local = run(Store(folder / "kbs", folder / "db", 50_000), documents, args.queries)
        settings = Settings(home=folder / "home", db_uri=f"s3://{server.bucket}/bench",
                            db_storage_options=server.options())
        remote = run(Store(settings.kb_dir, settings.db_dir, 50_000, locate(settings)), documents, args.queries)
    finally:
        s3_server.stop(process)
        shutil.rmtree(folder, ignore_errors=True)
    rows = [
        ("write (document_writer), chunks/s", local["write_cps"], remote["write_cps"], True),
        ("ingest incl. optimize, chunks/s", local["ingest_cps"], remote["ingest_cps"], True),
        (f"hybrid search p50 ms (n={args.queries})", local["p50"], remote["p50"], False),
        (f"hybrid search p95 ms (n={args.queries})", local["p95"], remote["p95"], False),
    ]
    table = "| measure | local disk | S3 | S3 / local |\n|---|---|---|---|\n" + "\n".join(
        f"| {label} | {a:,.1f} | {b:,.1f} | {b / a:.2f}{' (slower)' if (b < a) == higher else ''} |"
        for label, a, b, higher in rows
    )
    note = (f"{local['chunks']:,} chunks: the shared chatchat samples (.md, test.txt) split 400/80, {args.copies} copies, "
            f"{len(documents)} documents; random {DIM}-d unit vectors (store cost only, no embedding); "
            f"S3 = {server.kind} on loopback (tests/s3_server.py), the same machine's disk behind it")
    body = common.header(common.command_line(), load_before, common.load(), note) + "\n\n" + table + "\n"
    print("\n" + body)
    if not args.no_write:
        common.write_section("Knowledge bases on S3 vs local disk (bench_s3.py)", body)


if __name__ == "__main__":
    main()
