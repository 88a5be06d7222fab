"""Ingest throughput, end to end (parse → split → embed → store through Services.add_files), against
two baselines measured in the same run:

- fastembed alone embedding exactly the strings we embedded (goal: ours ≥ 0.90 of it), and
- the seed's pipeline (LangChain loaders + ChineseRecursiveTextSplitter + sentence-transformers +
  FAISS, see common.SeedPipeline) on the same files with the same model (goal: ≥ 2.0× faster).

Two corpora: a mixed real one (../shared/docs: text-bearing files both pipelines read, no OCR) and one
~200-page text PDF made from the eval passages (bench/out/eval-text-200p.pdf, made on first use with
fpdf2 and a CJK font if one is installed). Models are loaded and every reader imported before timing.

    python bench/bench_ingest.py [--only mixed|pdf] [--no-seed] [--profile] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DOCS = common.SHARED / "docs"
MIXED = [
    "chatchat-samples/" + name
    for name in [
        "langchain-ChatGLM_closed.csv", "langchain-ChatGLM_closed.xlsx", "langchain-ChatGLM_open.csv",
        "langchain-ChatGLM_open.xlsx", "langchain.pdf", "test.txt", "分布式训练技术原理.md", "大模型应用技术原理.md",
        "大模型技术栈-实战与应用.md", "大模型技术栈-算法与原理.md", "大模型指令对齐训练原理.md", "大模型推理优化策略.md",
    ]
] + [
    "unstructured/" + name
    for name in [
        "eng_spa_mult.epub", "eng_spa_mult.md", "eng_spa_mult.rst", "eng_spa_mult.rtf", "eng_spa_mult.xml",
        "fake-html.html", "fake-text.txt", "fake.docx", "fake.odt", "family-day.eml", "fake-email-with-cc-and-bcc.msg",
        "layout-parser-paper-fast.pdf", "multi-column-2p.pdf", "page-breaks.docx", "simple.pptx",
        "stanley-cups.csv", "stanley-cups.tsv", "stanley-cups.xlsx", "semicolon-delimited.csv",
    ]
]
BIG_PDF = common.OUT / "eval-text-200p.pdf"
BIG_PDF_PAGES = 200


def cjk_font() -> Path | None:
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.split(":")[0].strip() for line in listed.splitlines() if line.strip())
    return Path(files[0]) if files else None


def make_big_pdf(path: Path = BIG_PDF, pages: int = BIG_PDF_PAGES) -> Path:
    """A text PDF of real prose: the eval passages (Chinese and English) by article, cycled to `pages`."""
    if path.exists():
        return path
    try:
        from fpdf import FPDF
    except ImportError as exc:
        raise SystemExit(f"making the PDF needs fpdf2 (the bench extra): {exc}")
    font = cjk_font()
    sets = ["cmrc2018-trial", "xquad-en-a", "xquad-zh-a"] if font else ["xquad-en-a"]
    articles: list[tuple[str, list[str]]] = []
    for name in sets:
        for line in (common.SHARED / "eval" / f"{name}.contexts.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if not articles or articles[-1][0] != row["title"]:
                articles.append((row["title"], []))
            articles[-1][1].append(row["text"])
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    if font:
        pdf.add_font("body", fname=str(font), collection_font_number=0)
        family = "body"
    else:
        family = "helvetica"
    pdf.add_page()
    while True:
        for title, passages in articles:
            pdf.set_font(family, size=14)
            pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, size=11)
            for passage in passages:
                pdf.multi_cell(0, 6, passage if font else passage.encode("latin-1", "replace").decode("latin-1"),
                               new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
                if pdf.page >= pages:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    pdf.output(str(path))
                    return path


class StageClock:
    """Progress callback that splits wall time into parsing (from a file's "parse" event to its "split"
    event) and the rest (split, embed, store, commit, optimize: the job reports embed progress only
    after each embedded batch, so these cannot be told apart from its events; see --profile)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._last: tuple[str, float] | None = None

    def __call__(self, progress) -> None:
        now = time.perf_counter()
        if self._last:
            self.seconds["parse" if self._last[0] == "parse" else "rest"] += now - self._last[1]
        self._last = (progress.stage, now)

    def finish(self) -> None:
        if self._last:
            self.seconds["rest"] += time.perf_counter() - self._last[1]
            self._last = None


def warm_up(services, seed, files: list[Path]) -> None:
    """Load the models and import every reader, so the timed runs measure throughput, not start-up."""
    from chatchat.ingest.parse import parse_file

    services.embed(["warm up"], model=SAME_AS_SEED)
    for path in files:
        parse_file(path)
        if seed:
            seed.load_split(path)
    if seed:
        seed.embeddings.embed_documents(["warm up"])


SAME_AS_SEED = "minilm-l6-v2-int8"  # all-MiniLM-L6-v2, the seed's model (the default is multilingual-e5 now)


def run_ours(services, kb: str, files: list[Path]) -> dict:
    services.create_kb(kb, embedding=SAME_AS_SEED)
    clock = StageClock()
    with common.RssSampler() as rss, common.timer() as t:
        results = services.add_files(kb, files, progress=clock)
        clock.finish()
    failed = [f"{r.file}: {r.error}" for r in results if r.status == "failed"]
    if failed:
        print("failed:", *failed, sep="\n  ", file=sys.stderr)
    chunks = sum(r.chunks for r in results)
    return {"s": t["s"], "chunks": chunks, "stages": dict(clock.seconds), "peak_rss_mb": rss.peak_rss / 2**20,
            "failed": len(failed)}


def run_fastembed_alone(services, kb: str) -> dict:
    base = services.store.get(kb)
    contents = base.chunks_table.search().select(["content"]).limit(None).to_arrow().column("content").to_pylist()
    embedder = services.embedders.get(base.info.embedding)
    with common.timer() as t:
        embedder.embed(contents)
    return {"s": t["s"], "chunks": len(contents)}


def run_seed(seed, files: list[Path]) -> dict:
    seed.store = None
    with common.timer() as t:
        chunks = 0
        for path in files:
            parts = seed.load_split(path)
            seed.add(parts)
            chunks += len(parts)
    return {"s": t["s"], "chunks": chunks}


def bench_corpus(label: str, files: list[Path], services, seed, profile: bool = False) -> dict:
    print(f"\n== {label}: {len(files)} files", flush=True)
    kb = f"bench-{label}"
    if profile:
        from pyinstrument import Profiler

        with Profiler() as profiler:
            ours = run_ours(services, kb, files)
        out = common.OUT / f"profile-ingest-{label}.html"
        out.write_text(profiler.output_html(), encoding="utf-8")
        print(profiler.output_text(unicode=True, show_all=False)[:8000], "\nprofile:", out)
    else:
        ours = run_ours(services, kb, files)
    print(f"ours: {ours['chunks']} chunks in {ours['s']:.1f} s = {ours['chunks'] / ours['s']:.1f} chunks/s; "
          f"stages {({k: round(v, 1) for k, v in ours['stages'].items()})}", flush=True)
    alone = run_fastembed_alone(services, kb)
    print(f"fastembed alone: {alone['chunks']} chunks in {alone['s']:.1f} s = {alone['chunks'] / alone['s']:.1f} chunks/s; "
          f"ours ÷ it = {(ours['chunks'] / ours['s']) / (alone['chunks'] / alone['s']):.2f}", flush=True)
    row = {"label": label, "files": len(files), "ours": ours, "alone": alone}
    if seed:
        row["seed"] = run_seed(seed, files)
        s = row["seed"]
        print(f"seed: {s['chunks']} chunks in {s['s']:.1f} s = {s['chunks'] / s['s']:.1f} chunks/s; "
              f"ours ÷ seed: {(ours['chunks'] / ours['s']) / (s['chunks'] / s['s']):.2f} (chunks/s), "
              f"{s['s'] / ours['s']:.2f} (wall time)", flush=True)
    return row


def markdown(rows: list[dict], header: str) -> str:
    lines = [header, "",
             "| corpus | ours: chunks, s, chunks/s | fastembed alone: chunks/s | ours ÷ fastembed (goal ≥ 0.90) "
             "| seed: chunks, s, chunks/s | ours ÷ seed, chunks/s | ours ÷ seed, wall time (goal ≥ 2.0) | ours: stages (s) | peak RSS |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        o, a = r["ours"], r["alone"]
        ours_rate, alone_rate = o["chunks"] / o["s"], a["chunks"] / a["s"]
        stages = ", ".join(f"{k} {v:.1f}" for k, v in o["stages"].items())
        if "seed" in r:
            s = r["seed"]
            seed_cells = (f"{s['chunks']}, {s['s']:.1f}, {s['chunks'] / s['s']:.1f} | {ours_rate / (s['chunks'] / s['s']):.2f} "
                          f"| {s['s'] / o['s']:.2f}")
        else:
            seed_cells = "not run | | "
        lines.append(
            f"| {r['label']} ({r['files']} files) | {o['chunks']}, {o['s']:.1f}, {ours_rate:.1f} | {alone_rate:.1f} "
            f"| {ours_rate / alone_rate:.2f} | {seed_cells} | {stages} | {o['peak_rss_mb']:.0f} MB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["mixed", "pdf"])
    parser.add_argument("--no-seed", action="store_true", help="skip the seed pipeline (no bench extra needed)")
    parser.add_argument("--profile", action="store_true", help="write a pyinstrument profile of our ingest to bench/out/")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()

    load_before = common.load()
    corpora = {}
    if args.only in (None, "mixed"):
        corpora["mixed"] = [DOCS / name for name in MIXED]
    if args.only in (None, "pdf"):
        corpora["pdf-200p"] = [make_big_pdf()]
    home = common.scratch_dir("ingest-")
    try:
        services = common.open_services(home)
        seed = None if args.no_seed else common.SeedPipeline()
        warm_up(services, seed, [f for files in corpora.values() for f in files])
        rows = [bench_corpus(label, files, services, seed, args.profile) for label, files in corpora.items()]
    finally:
        shutil.rmtree(home, ignore_errors=True)
    note = (f"mixed corpus: {len(MIXED)} text-bearing files of ../shared/docs (md, csv, xlsx, pdf, txt, docx, pptx, "
            "epub, rst, rtf, xml, html, eml, msg, odt, tsv; no OCR); pdf-200p: bench/out/eval-text-200p.pdf, "
            "200 pages of the eval passages (zh + en). Warm: models loaded and readers imported first. "
            "Ours = Services.add_files (int8 ONNX MiniLM via fastembed, batch 32, LanceDB + FTS index); "
            "seed = LangChain loaders + ChineseRecursiveTextSplitter(250/50) + sentence-transformers fp32 MiniLM + FAISS")
    table = markdown(rows, common.header(common.command_line(), load_before, common.load(), note))
    print("\n" + table)
    if not args.no_write and not args.profile:
        common.write_section("Ingest throughput (bench_ingest.py)", table)


if __name__ == "__main__":
    main()
