"""Kill -9 the CLI at random moments of an ingest, many times: the knowledge base must stay consistent."""

import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from chatchat.config import load_settings
from chatchat.service import Services

from conftest import REPO, SAMPLES, UNSTRUCTURED_DOCS

CORPUS = [
    SAMPLES / "大模型技术栈-算法与原理.md",
    SAMPLES / "分布式训练技术原理.md",
    SAMPLES / "大模型推理优化策略.md",
    UNSTRUCTURED_DOCS / "layout-parser-paper-fast.pdf",
    SAMPLES / "test.txt",
]


def consistent(services: Services, name: str) -> dict[str, int]:
    """Check the invariants and return {file: chunks} of the ready documents."""
    kb = services.store.get(name)
    ready = {}
    for doc in kb.documents():
        stored = kb.chunks_table.count_rows(f"doc_id = '{doc.doc_id}'")
        if doc.status == "ready":
            assert stored == doc.chunks > 0, doc
            ready[doc.file] = doc.chunks
        else:
            assert doc.status == "failed" and stored == 0, doc
    assert kb.chunks_table.count_rows() == sum(ready.values())
    files = [d.file for d in kb.documents()]
    assert len(files) == len(set(files)), files  # one row per document name
    return ready


def test_sigkill_during_ingest_never_leaves_half_a_document(tmp_path):
    home = tmp_path / "home"
    services = Services.open(load_settings(home=home))
    services.create_kb("crash")
    services.add_files("crash", [SAMPLES / "大模型指令对齐训练原理.md"])
    baseline = consistent(services, "crash")
    del services

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = random.Random(20261125)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kills = 0
    for round_ in range(8):
        for source in CORPUS:  # new content each round so nothing is skipped as unchanged
            (corpus / source.name).write_bytes(source.read_bytes() + (b"\n" if source.suffix != ".pdf" else b"") * round_)
        process = subprocess.Popen(
            [sys.executable, "-m", "chatchat", "--home", str(home), "kb", "add", "crash", str(corpus), "--json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(2.0, 9.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        services = Services.open(load_settings(home=home))
        ready = consistent(services, "crash")
        for file, chunks in baseline.items():
            assert ready[file] == chunks  # what was stored before is untouched
        assert services.search("crash", "指令对齐", top_k=1)
        del services
    assert kills >= 4, "the ingest finished before most kills: lengthen the corpus"


def _kill_while_embedding(home: Path, file: Path) -> None:
    """Run `kb add` and SIGKILL it once its progress bar says it is embedding (the file is registered)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "chatchat", "--home", str(home), "kb", "add", "crash", str(file)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + 600
        while b" embed" not in seen and time.monotonic() < deadline and process.poll() is None:
            if selector.select(timeout=1):
                seen += os.read(process.stderr.fileno(), 4096)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert b" embed" in seen, seen[-500:]


def test_repeated_kills_of_one_file_leave_one_row_for_it(tmp_path):
    home = tmp_path / "home"
    services = Services.open(load_settings(home=home))
    services.create_kb("crash")
    del services
    file = tmp_path / SAMPLES.joinpath("langchain-ChatGLM_open.csv").name
    source = SAMPLES.joinpath("langchain-ChatGLM_open.csv").read_bytes()

    def rows() -> list:
        services = Services.open(load_settings(home=home))  # opening cleans up what the kill left
        consistent(services, "crash")
        return [(d.status, d.error) for d in services.documents("crash")]

    for kill in range(2):
        file.write_bytes(source + b"\n" * kill)
        _kill_while_embedding(home, file)
        [(status, error)] = rows()
        assert status == "failed" and error.startswith("interrupted")
    services = Services.open(load_settings(home=home))
    [result] = services.add_files("crash", [file])
    assert result.status == "added"
    del services
    file.write_bytes(source + b"\n" * 9)  # a new version, killed while it replaces the ready one
    _kill_while_embedding(home, file)
    assert rows() == [("ready", None)]
