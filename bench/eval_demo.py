"""The demo knowledge base's shipped test set (assets/eval/demo.jsonl) through `chatchat kb eval`, the path a
user runs: the default hybrid search beside full-text search alone (the BM25 reference) in the same run.
Writes the "Demo test set (eval_demo.py)" section of bench/RESULTS.md."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
KEYS = ("hit_at_1", "hit_at_3", "hit_at_5", "mrr", "refusal_rate", "false_refusal_rate", "n")


def cli(home: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "chatchat", "--home", str(home), *args], cwd=REPO,
                          capture_output=True, text=True, check=True)
    return done.stdout


def main() -> None:
    load_before = common.load()
    home = common.scratch_dir("eval-demo-")
    try:
        cli(home, "kb", "create", "demo")
        cli(home, "kb", "add", "demo", str(REPO / "assets" / "demo"))
        figures = {mode: json.loads(cli(home, "kb", "eval", "demo", str(REPO / "assets" / "eval" / "demo.jsonl"),
                                        "--mode", mode, "--json")) for mode in ("hybrid", "fulltext")}
    finally:
        shutil.rmtree(home, ignore_errors=True)
    hybrid, bm25 = figures["hybrid"], figures["fulltext"]
    rows = ["| figure | hybrid (default) | full text only (reference) | ratio |", "|---|---|---|---|"]
    for key in KEYS:
        a, b = hybrid.get(key), bm25.get(key)
        ratio = f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "–"
        rows.append(f"| {key} | {a} | {b} | {ratio} |")
    body = common.header(common.command_line(), load_before, common.load(),
                         "the demo KB built from assets/demo with the default embedding, its shipped test set") \
        + "\n" + "\n".join(rows)
    common.write_section("Demo test set (eval_demo.py)", body)
    print(body)


if __name__ == "__main__":
    main()
