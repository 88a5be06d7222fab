"""Peak resident memory of ingesting each shared document, each in a fresh process.

    nice -n 10 python bench/bench_ingest_memory.py [--write] [--only SUBSTRING]

For each file under ../shared/docs a child process opens the real services on a throwaway data
dir, loads the default embedding model (one text embedded), then ingests the file. It reports
the RSS once the app is ready, the process's peak RSS (getrusage: no sample is missed) and the
ingest's own peak (sampled). --write puts the table into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, RssSampler, header, load, open_services, scratch_dir, write_section  # noqa: E402

MB = 1 << 20


def one(path: Path) -> dict:
    """In the child: ingest `path` into a fresh KB and measure."""
    home = scratch_dir("ingest-mem-")
    try:
        services = open_services(home)
        services.create_kb("mem")
        services.embedders.get(services.kb_info("mem").embedding).embed(["warm up 预热"])
        with RssSampler() as rss:
            started = time.perf_counter()
            [result] = services.add_files("mem", [path])
            seconds = time.perf_counter() - started
        return {
            "status": result.status,
            "chunks": result.chunks,
            "error": (result.error or "")[:80],
            "seconds": round(seconds, 1),
            "ready_mb": rss.start_rss // MB,
            "ingest_peak_mb": rss.peak_rss // MB,
            "process_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--only", default="", help="only files whose path contains this")
    parser.add_argument("--write", action="store_true", help="write the table into bench/RESULTS.md")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    docs = SHARED / "docs"
    # smallest first: the small files are the ones a desktop app must take in a few hundred MB
    files = sorted((p for p in docs.rglob("*") if p.is_file() and p.name != "README.md" and args.only in str(p)), key=lambda p: p.stat().st_size)
    load_before = load()
    rows = []
    for path in files:
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(path)], capture_output=True, text=True, timeout=args.timeout
            )
            row = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {
                "status": f"crashed ({out.returncode})", "error": out.stderr.strip().splitlines()[-1][:80] if out.stderr.strip() else ""
            }
        except subprocess.TimeoutExpired:
            row = {"status": f"timeout {args.timeout:.0f} s"}
        row["file"] = str(path.relative_to(docs))
        row["kb"] = path.stat().st_size // 1024
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
        if args.write:  # after each file, so that an interrupted run still leaves its figures
            command = "nice -n 10 python bench/bench_ingest_memory.py --write" + (f" --only {args.only}" if args.only else "")
            write_section(
                "Ingest peak memory per shared document (bench_ingest_memory.py)",
                header(command, load_before, load(), f"each file in a fresh process; default embedding model, OCR on; {len(rows)}/{len(files)} files")
                + "\n" + _table(rows),
            )
    print(_table(rows))


def _table(rows: list[dict]) -> str:
    lines = [
        "| file | KB | status | chunks | s | RSS ready (MB) | ingest peak (MB) | process peak (MB) |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['file']} | {r['kb']} | {r['status']} | {r.get('chunks', '')} | {r.get('seconds', '')} | "
            f"{r.get('ready_mb', '')} | {r.get('ingest_peak_mb', '')} | {r.get('process_peak_mb', '')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
