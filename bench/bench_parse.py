"""Parsing speed: PDF text-layer engines, OCR, every shared document, and a large text file.

- PDFs: parse_file (pypdfium2) against pdfminer.six's layout analysis on the same files (best of 3
  after a warm-up); unstructured's own partition_pdf is reported when it can be imported.
- OCR: the engine's one-time load, then each OCR sample (best of 2).
- Every shared document once (imports and the OCR engine already warm).
- A generated text file (~10 MB of mixed Chinese/English paragraphs): time and peak RSS, to size
  what MAX_FILE_BYTES allows.

    python bench/bench_parse.py [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from chatchat.errors import ChatchatError  # noqa: E402
from chatchat.ingest import ocr  # noqa: E402
from chatchat.ingest.parse import parse_file  # noqa: E402

DOCS = common.SHARED / "docs"
PDFS = ["chatchat-samples/langchain.pdf", "unstructured/layout-parser-paper-fast.pdf", "unstructured/multi-column-2p.pdf"]
OCR_SAMPLES = [
    "chatchat-samples/ocr_test.jpg", "unstructured/chi_sim_image.jpeg", "chatchat-samples/ocr_test.pdf",
    "chatchat-samples/ocr_test.docx", "chatchat-samples/ocr_test.pptx", "unstructured/pdf-with-ocr-text.pdf",
]


def best_of(n: int, fn) -> tuple[float, float]:
    """Best wall time and best CPU time (all threads) of n runs: on a shared machine the CPU
    time is the steadier figure."""
    walls, cpus = [], []
    for _ in range(n):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def shown(times: tuple[float, float]) -> str:
    return f"{times[0] * 1000:,.0f} ms (CPU {times[1] * 1000:,.0f} ms)"


def pdfminer_text(path: Path) -> int:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    return sum(len(el.get_text()) for page in extract_pages(path) for el in page if isinstance(el, LTTextContainer))


def unstructured_pdf(path: Path):
    from unstructured.partition.pdf import partition_pdf

    return partition_pdf(str(path), strategy="fast")


def bench_pdfs() -> list[str]:
    rows = ["| PDF | pages | chars | parse_file (pypdfium2) | pdfminer.six | unstructured fast |", "|---|---|---|---|---|---|"]
    try:
        unstructured_pdf(DOCS / PDFS[0])
        unstructured_ok = ""
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        unstructured_ok = f"cannot run: {type(exc).__name__}: {exc}"
    for relative in PDFS:
        path = DOCS / relative
        elements = parse_file(path)
        ours = best_of(3, lambda: parse_file(path))
        miner = best_of(3, lambda: pdfminer_text(path))
        theirs = unstructured_ok or shown(best_of(3, lambda: unstructured_pdf(path)))
        pages = len({e.page for e in elements})
        chars = sum(len(e.text) for e in elements)
        rows.append(f"| {relative} | {pages} | {chars:,} | {shown(ours)} | {shown(miner)} | {theirs} |")
        print(rows[-1], flush=True)
    return rows


def bench_ocr() -> list[str]:
    start = time.perf_counter()
    ocr.ocr_image((DOCS / OCR_SAMPLES[0]).read_bytes(), "warm-up")
    load = time.perf_counter() - start
    rows = [f"OCR engine load + first image: {load:.2f} s", "", "| sample | elements | best of 2 |", "|---|---|---|"]
    for relative in OCR_SAMPLES:
        path = DOCS / relative
        count = len(parse_file(path))
        rows.append(f"| {relative} | {count} | {shown(best_of(2, lambda: parse_file(path)))} |")
        print(rows[-1], flush=True)
    return rows


def bench_all_docs() -> list[str]:
    rows = ["| document | result | time |", "|---|---|---|"]
    total = 0.0
    for path in sorted(p for p in DOCS.rglob("*") if p.is_file() and p.name != "README.md"):
        start = time.perf_counter()
        try:
            result = f"{len(parse_file(path))} elements"
        except ChatchatError as exc:
            result = type(exc).__name__
        seconds = time.perf_counter() - start
        total += seconds
        rows.append(f"| {path.relative_to(DOCS)} | {result} | {seconds * 1000:.0f} ms |")
        print(rows[-1], flush=True)
    rows.append(f"| **all** | | {total:.1f} s |")
    return rows


def bench_large_text() -> list[str]:
    folder = common.scratch_dir("parse-")
    paragraph = "检索增强生成先检索相关文档，再让模型依据文档回答。Retrieval augmented generation grounds answers in documents.\n\n"
    path = folder / "large.txt"
    path.write_text(paragraph * (10 * 2**20 // len(paragraph.encode())), encoding="utf-8")
    size = path.stat().st_size
    with common.RssSampler() as rss, common.timer() as t:
        count = len(parse_file(path))
    path.unlink()
    folder.rmdir()
    return [
        f"{size / 2**20:.1f} MB text file: {count:,} elements in {t['s']:.1f} s "
        f"({size / 2**20 / t['s']:.2f} MB/s), peak RSS +{(rss.peak_rss - rss.start_rss) / 2**20:.0f} MiB"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    load_before = common.load()
    parse_file(DOCS / "unstructured/fake-text.txt")  # imports unstructured and the offline NLP pipeline
    sections = [
        "### PDF text layer", *bench_pdfs(), "",
        "### OCR (RapidOCR, CPU)", *bench_ocr(), "",
        "### Every shared document", *bench_all_docs(), "",
        "### Large text file", *bench_large_text(),
    ]
    body = common.header(common.command_line(), load_before, common.load()) + "\n" + "\n".join(sections)
    print(body)
    if not args.no_write:
        common.write_section("Parsing (bench_parse.py)", body)


if __name__ == "__main__":
    main()
