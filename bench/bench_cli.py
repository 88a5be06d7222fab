"""How long the command line takes to answer: `chatchat --help`, `kb list` and `kb info` in a fresh
process each, against `python -c "import httpx"` (one light library) timed in the same run, so the
ratio holds on a busy machine too. `import lancedb` is timed as well: `kb info` reads the document
registry from LanceDB, and LanceDB's import is its floor.

    python bench/bench_cli.py [--rounds 7] [--no-write]

Target (issue 17): `--help` and `kb list` at most 3× `import httpx`. Wall clock and CPU time (user + system of the child) are both reported: the CPU time does not
depend on other processes.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line, header, load, scratch_dir, write_section  # noqa: E402

KB = "bench"


def cases() -> dict[str, list[str]]:
    python = sys.executable
    return {
        'python -c "import httpx"': [python, "-c", "import httpx"],
        'python -c "import lancedb"': [python, "-c", "import lancedb"],
        "chatchat --help": [python, "-m", "chatchat", "--help"],
        "chatchat kb list": [python, "-m", "chatchat", "kb", "list"],
        f"chatchat kb info {KB}": [python, "-m", "chatchat", "kb", "info", KB],
    }


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall clock and CPU seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()

    home = scratch_dir("cli-")
    env = {**os.environ, "CHATCHAT_HOME": str(home)}
    load_before = load()
    try:
        subprocess.run([sys.executable, "-m", "chatchat", "kb", "create", KB], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cases()}
        for _ in range(args.rounds):  # interleaved, so a burst of load hits every case alike
            for name, command in cases().items():
                runs[name].append(timed(command, env))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    load_after = load()

    base_wall = statistics.median(w for w, _ in runs['python -c "import httpx"'])
    base_cpu = statistics.median(c for _, c in runs['python -c "import httpx"'])
    rows = ["| command | wall median (s) | min | max | CPU median (s) | wall ÷ import httpx | CPU ÷ import httpx |",
            "|---|---|---|---|---|---|---|"]
    for name, values in runs.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        rows.append(f"| `{name}` | {wall:.2f} | {min(walls):.2f} | {max(walls):.2f} | {cpu:.2f} "
                    f"| {wall / base_wall:.1f} | {cpu / base_cpu:.1f} |")
    body = header(command_line(), load_before, load_after, f"{args.rounds} rounds, each command in a fresh process, "
                  "interleaved; a data dir with one empty knowledge base") + "\n" + "\n".join(rows) + "\n\n" + (
        "Goal (issue 17): `--help` and `kb list` within 3× `import httpx`. `--help` imports argparse and the "
        "command modules only: no settings (pydantic), httpx, catalog or hardware probe (issue 17; before, 3.8× "
        "here: every command module imported the models' side at its top). `kb list` loads the settings and reads "
        "the kb.json files through the store, without numpy, pyarrow, LanceDB or the models' side (before, 5.2×: "
        "it opened the whole Services facade); tests/test_install.py checks the libraries each loads. `kb info` "
        "lists the documents, which live in LanceDB: nearly all of its time is LanceDB's own import (the `import "
        "lancedb` row; `python -X importtime` puts most of it in lance_namespace_urllib3_client, its REST "
        "namespace client).\n")
    print(body)
    if not args.no_write:
        write_section("Command line start (bench_cli.py)", body)


if __name__ == "__main__":
    main()
