"""Ingest of many small files, three figures of issue 17, each against a reference measured in the same run:

- many: N one-paragraph .txt files (the eval passages, zh + en, cycled; each file made unique) through
  Services.add_files ÷ the same embedder embedding exactly the chunks stored, in one call (its own full,
  length-sorted batches). Goal ≥ 0.8.
- growth: the store's cost per file as the knowledge base grows: batches of files written with fixed
  vectors (no embedding: what is left is what grows), the time of the last batches ÷ the first ones, for the
  write path before issue 17 (a document_writer and a registry look-up per file, optimize() after every
  batch) and now (batch_writer per BATCH_FILES files, one look-up per AHEAD files, optimize when due).
- cjk: Chinese chunks/s ÷ English chunks/s at the default chunk size, same model: xquad-zh-a and xquad-en-a
  are the same articles in two languages.

    nice -n 10 python bench/bench_ingest_batches.py [--files 2000] [--growth 5000] [--batch 250]
        [--embedding multilingual-e5-small-q4] [--only many|growth|cjk] [--no-write]
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

EVAL = common.SHARED / "eval"
PASSAGE_SETS = ["xquad-en-a", "xquad-zh-a", "cmrc2018-trial"]


def passages(name: str) -> list[str]:
    return [json.loads(line)["text"] for line in (EVAL / f"{name}.contexts.jsonl").read_text(encoding="utf-8").splitlines()]


def make_files(folder: Path, count: int) -> list[Path]:
    """`count` one-paragraph files, the eval passages in turn, each with its number (no two the same)."""
    texts = [text for name in PASSAGE_SETS for text in passages(name)]
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = folder / f"p{i:05d}.txt"
        path.write_text(f"{i}. {texts[i % len(texts)]}\n", encoding="utf-8")
        files.append(path)
    return files


def bench_many(services, embedding: str, files: list[Path]) -> dict:
    from chatchat.ingest.parse import parse_file

    services.create_kb("many", embedding=embedding)
    embedder = services.embedders.get(embedding)
    embedder.embed(["warm up 预热"])
    parse_file(files[0])  # the readers imported before timing
    with common.RssSampler() as rss, common.timer() as ours:
        results = services.add_files("many", files)
    failed = [r for r in results if r.status != "added"]
    base = services.store.get("many")
    contents = base.chunks_table.search().select(["content"]).limit(None).to_arrow().column("content").to_pylist()
    with common.timer() as raw:
        embedder.embed(contents)
    return {"files": len(files), "failed": len(failed), "chunks": len(contents), "ours_s": ours["s"],
            "raw_s": raw["s"], "peak_rss_mb": rss.peak_rss / 2**20}


def bench_growth(home: Path, total: int, batch: int, paths: tuple[str, ...]) -> dict:
    """Both write paths on their own knowledge base, batch by batch in turn (the same load on both)."""
    from chatchat.retrieval.chunks import ChunkRow
    from chatchat.retrieval.registry import DocumentRecord
    from chatchat.retrieval.store import Store
    from chatchat.ingest.job import AHEAD, BATCH_FILES, MID_RUN_UNINDEXED

    store = Store(home / "kbs", home / "db")
    texts = [text for name in PASSAGE_SETS for text in passages(name)]
    rng = np.random.default_rng(17)
    kbs = {}
    for path in paths:
        store.create(path, embedding="e", dim=384)
        kbs[path] = store.get(path)

    def documents(start: int) -> list[tuple[DocumentRecord, list[ChunkRow]]]:
        out = []
        for i in range(start, start + batch):
            text = f"{i}. {texts[i % len(texts)]}"
            vectors = rng.normal(size=(2, 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            rows = [ChunkRow(text[j * 200 : (j + 1) * 200], text[j * 200 : (j + 1) * 200], None, None, j, vectors[j])
                    for j in range(2)]
            out.append((DocumentRecord.new(f"p{i:05d}.txt", f"{i:064x}", len(text), None), rows))
        return out

    def before(kb, docs) -> None:
        for record, rows in docs:
            kb.document(record.file)
            with kb.document_writer(record) as writer:
                writer.add_chunks(rows)
        with kb.writing():
            kb.optimize()

    def now(kb, docs) -> None:
        for start in range(0, len(docs), AHEAD):
            kb.documents_named([record.file for record, _ in docs[start : start + AHEAD]])
        for start in range(0, len(docs), BATCH_FILES):
            part = docs[start : start + BATCH_FILES]
            with kb.batch_writer([record for record, _ in part]) as writer:
                writer.add_chunks({record.doc_id: rows for record, rows in part})
            with kb.writing():
                kb.optimize(when_due=True, min_unindexed=MID_RUN_UNINDEXED)
        with kb.writing():
            kb.optimize(when_due=True)

    seconds: dict[str, list[float]] = {path: [] for path in paths}
    for start in range(0, total, batch):
        docs = documents(start)
        for path in paths:
            with common.timer() as t:
                (before if path == "before" else now)(kbs[path], docs)
            seconds[path].append(t["s"])
        print(f"  {start + batch} files:", ", ".join(f"{p} {s[-1]:.2f} s" for p, s in seconds.items()), flush=True)
    return {"total": total, "batch": batch, "seconds": seconds}


def bench_cjk(services, embedding: str, limit: int, repeats: int = 2) -> dict:
    from chatchat.config import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
    from chatchat.ingest.split import split_text

    size, overlap = DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_OVERLAP
    embedder = services.embedders.get(embedding)
    chunks = {lang: [c for text in passages(name)[:limit] for c in split_text(text, size, overlap)]
              for lang, name in (("en", "xquad-en-a"), ("zh", "xquad-zh-a"))}
    seconds = {"en": 0.0, "zh": 0.0}
    for _ in range(repeats):  # in turn, so that both see the same load
        for lang in ("en", "zh"):
            with common.timer() as t:
                embedder.embed(chunks[lang])
            seconds[lang] += t["s"]
    rate = {lang: len(chunks[lang]) * repeats / seconds[lang] for lang in seconds}
    chars = {lang: sum(map(len, chunks[lang])) / len(chunks[lang]) for lang in chunks}
    return {"size": size, "overlap": overlap, "chunks": {k: len(v) for k, v in chunks.items()}, "rate": rate,
            "chars": chars}


def markdown(rows: dict, args, header: str) -> str:
    lines = [header, ""]
    if "many" in rows:
        m = rows["many"]
        ours, raw = m["chunks"] / m["ours_s"], m["chunks"] / m["raw_s"]
        lines += ["| many small files | files | chunks | Services.add_files: s, chunks/s | embedder alone, one call: s, chunks/s "
                  "| ours ÷ embedder (goal ≥ 0.8) | peak RSS |", "|---|---|---|---|---|---|---|",
                  f"| {args.embedding} | {m['files']} ({m['failed']} not added) | {m['chunks']} | {m['ours_s']:.1f}, {ours:.1f} "
                  f"| {m['raw_s']:.1f}, {raw:.1f} | {ours / raw:.2f} | {m['peak_rss_mb']:.0f} MB |", ""]
    if "growth" in rows:
        g = rows["growth"]
        k = max(1, min(3, len(g["seconds"]["now"]) // 4))
        lines += [f"| store cost per batch of {g['batch']} files, up to {g['total']} files | first batch s | last batch s "
                  f"| last ÷ first | mean of last {k} ÷ mean of first {k} | all batches, s |", "|---|---|---|---|---|---|"]
        for path, s in g["seconds"].items():
            lines.append(f"| {path} | {s[0]:.2f} | {s[-1]:.2f} | {s[-1] / s[0]:.2f} | {np.mean(s[-k:]) / np.mean(s[:k]):.2f} "
                         f"| {' '.join(f'{x:.1f}' for x in s)} |")
        lines.append("")
    if "cjk" in rows:
        c = rows["cjk"]
        lines += [f"| chunk size {c['size']} (overlap {c['overlap']}), {args.embedding} | chunks | characters a chunk | chunks/s |",
                  "|---|---|---|---|"]
        for lang in ("en", "zh"):
            lines.append(f"| xquad-{lang}-a | {c['chunks'][lang]} | {c['chars'][lang]:.0f} | {c['rate'][lang]:.1f} |")
        lines.append(f"| **zh ÷ en** | | | **{c['rate']['zh'] / c['rate']['en']:.2f}** |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--growth", type=int, default=5000, help="files written in the growth figure")
    parser.add_argument("--batch", type=int, default=250, help="files a batch in the growth figure")
    parser.add_argument("--no-before", action="store_true", help="growth: only the write path of now")
    parser.add_argument("--articles", type=int, default=120, help="cjk: passages of each language (the same ones)")
    parser.add_argument("--embedding", default="multilingual-e5-small-q4")
    parser.add_argument("--only", choices=["many", "growth", "cjk"], action="append")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    wanted = args.only or ["many", "growth", "cjk"]
    load_before = common.load()
    home = common.scratch_dir("ingest-batches-")
    rows: dict = {}
    try:
        services = common.open_services(home / "home")
        if "many" in wanted:
            rows["many"] = bench_many(services, args.embedding, make_files(home / "files", args.files))
            print(rows["many"], flush=True)
        if "growth" in wanted:
            paths = ("now",) if args.no_before else ("before", "now")
            rows["growth"] = bench_growth(home / "growth", args.growth, args.batch, paths)
        if "cjk" in wanted:
            rows["cjk"] = bench_cjk(services, args.embedding, args.articles)
            print(rows["cjk"], flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    note = ("many: one .txt per eval passage (xquad-en-a, xquad-zh-a, cmrc2018-trial, cycled), default chunking; "
            "growth: fixed unit vectors, 2 chunks a file, no embedding (the store's part only); "
            f"cjk: {args.embedding} on the chunks of the same {args.articles} passages in each language")
    table = markdown(rows, args, common.header(common.command_line(), load_before, common.load(), note))
    print("\n" + table)
    if not args.no_write:
        part = f" --only {' '.join(args.only)}" if args.only else ""
        common.write_section(f"Ingest of many small files (bench_ingest_batches.py{part})", table)


if __name__ == "__main__":
    main()
