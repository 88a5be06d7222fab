"""A run of a test set against a knowledge base: every question searched as the chat searches it, scored
(chatchat.evaluation.judge), and stored with the settings it ran under, so runs can be compared.

Per question: the chunks retrieved (`top_k` of them, ranked), the rank of the first that answers, and
whether the chat would have refused (the relevance gate, `Services.kb_covers`, over the `Settings.top_k`
hits the chat reads; no hits also refuses). Summary: hit@1/3/5 and MRR over the answerable questions,
refusal rate over the unanswerable ones, false refusal rate over the answerable ones; with `answers`,
also the share of answers that contain an expected answer, cite the expected source, and their latency.
"""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from filelock import FileLock, Timeout

from chatchat.errors import ChatchatError, InvalidName, NotFound
from chatchat.evaluation.judge import Judge, same_source, scores
from chatchat.evaluation.testset import Item, TestSet
from chatchat.fs import atomic_write

if TYPE_CHECKING:
    from chatchat.retrieval.chunks import Hit
    from chatchat.service import Services

KS = (1, 3, 5)
SNIPPET = 240  # characters of each retrieved chunk kept in a stored run
_RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$")
_CITATION = re.compile(r"\[(\d+)\]")


class KBBusy(ChatchatError):
    code = "kb_busy"
    status = 409


@dataclass
class RunOptions:
    """What a run searches with; None: the app's Settings, as the chat uses them."""

    top_k: int = 10  # chunks retrieved and ranked per question (hit@k and MRR look at these)
    mode: str | None = None
    score_threshold: float | None = None
    gate: str | None = None  # relevance gate level
    rerank: bool = True  # use the installed reranker, as the chat does
    answers: bool = False  # also ask the chat model (end to end)
    max_tokens: int | None = None  # of each end-to-end answer; None: the model's default


@dataclass
class Progress:
    stage: str  # "build" (a trial's temporary copy is being filled) or "ask"
    done: int
    total: int
    text: str = ""


@dataclass
class Run:
    id: str
    kb: str
    created: float
    settings: dict
    summary: dict = field(default_factory=dict)
    results: list[dict] = field(default_factory=list)
    status: str = "done"  # done | cancelled
    label: str = ""
    trial: bool = False  # ran with other settings than the knowledge base's ("try these settings")


def evaluation_dir(services: Services, kb: str) -> Path:
    return services.store.get(kb).folder / "evaluation"


def testset_of(services: Services, kb: str) -> TestSet:
    """The test set of `kb`; the demo knowledge base starts with the one that ships (assets/eval/demo.jsonl)."""
    from chatchat.policy import DEMO_KB
    from chatchat.resources import shipped

    seed = shipped("assets") / "eval" / "demo.jsonl" if services.kb_info(kb).name == DEMO_KB else None
    return TestSet(evaluation_dir(services, kb), seed)


def check_idle(services: Services, kb: str) -> None:
    """Refuse while files are being added to or removed from `kb` (its figures would move under the run):
    an ingest batch running (between its files too), a document still 'ingesting', or the knowledge base's
    write lock held (by this process or another)."""
    from chatchat.ingest.job import batch_running

    base = services.store.get(kb)
    busy = batch_running(base.folder) or any(doc.status in ("ingesting", "deleting") for doc in base.documents())
    if not busy:
        probe = FileLock(str(base.folder / ".write.lock"))  # the lock KnowledgeBase.writing() holds
        try:
            probe.acquire(timeout=0)
            probe.release()
        except Timeout:
            busy = True
    if busy:
        raise KBBusy(f"Knowledge base '{kb}' is being changed (files are being added or removed); "
                     "run the evaluation when that is done.", key="eval_kb_busy", kb=kb)


def run_settings(services: Services, kb: str, options: RunOptions) -> dict:
    """The settings a run of `kb` searches with, stored beside its figures."""
    from chatchat.retrieval.rerank import active
    from chatchat.retrieval.chunks import FUSION_METHOD

    info = services.kb_info(kb)
    settings = services.settings
    reranker = active(settings, services.catalog) if options.rerank else None
    return {
        "embedding": info.embedding, "chunk_size": info.chunk_size, "chunk_overlap": info.chunk_overlap,
        "mode": options.mode or settings.search_mode, "fusion": FUSION_METHOD,
        "reranker": reranker.id if reranker else None,
        "threshold": settings.score_threshold if options.score_threshold is None else options.score_threshold,
        "gate": options.gate or settings.relevance_gate, "top_k": options.top_k, "chat_top_k": settings.top_k,
        "answers": options.answers,
    }


def run(
    services: Services,
    kb: str,
    items: list[Item],
    options: RunOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    save_as: str | None = None,
    label: str = "",
    trial: bool = False,
) -> Run:
    """Ask every question of `items` against `kb`. Stored in the evaluation folder of `save_as` (default
    `kb`; a trial on a temporary copy stores under the knowledge base it copies); `save_as=""` stores nothing.
    A cancelled run keeps what it measured, with status 'cancelled'."""
    options = options or RunOptions()
    if options.top_k < max(KS) or options.top_k > 100:
        raise InvalidName(f"A run retrieves 5–100 chunks per question (got {options.top_k}).", key="eval_top_k")
    if not items:
        raise InvalidName("The test set is empty: import or add questions first.", key="eval_no_questions")
    check_idle(services, kb)
    if not any(doc.status == "ready" for doc in services.documents(kb)):
        raise InvalidName(f"Knowledge base '{kb}' has no documents to search yet.", key="eval_no_documents", kb=kb)
    settings = run_settings(services, kb, options)
    created = time.time()
    record = Run(id=time.strftime("%Y%m%dT%H%M%S", time.gmtime(created)) + "-" + uuid.uuid4().hex[:6],
                 kb=save_as or kb, created=created, settings=settings, label=label, trial=trial)
    report = progress or (lambda _: None)
    for done, item in enumerate(items):
        if cancel is not None and cancel.is_set():
            record.status = "cancelled"
            break
        report(Progress("ask", done, len(items), item.question))
        record.results.append(_ask(services, kb, item, options, settings, cancel))
    report(Progress("ask", len(record.results), len(items)))
    record.summary = summarise(record.results, options.top_k)
    record.summary["seconds"] = round(time.time() - created, 2)
    if save_as != "":
        save(services, record)
    return record


def _ask(services: Services, kb: str, item: Item, options: RunOptions, settings: dict,
         cancel: threading.Event | None) -> dict:
    judge = Judge(item)
    threshold, mode = settings["threshold"], settings["mode"]
    hits = services.search_many([kb], item.question, top_k=options.top_k, score_threshold=threshold, mode=mode,
                                rerank=options.rerank)
    chat_k = settings["chat_top_k"]
    chat_hits = hits[:chat_k] if chat_k == options.top_k else services.search_many(
        [kb], item.question, top_k=chat_k, score_threshold=threshold, mode=mode, rerank=options.rerank)
    refused = not chat_hits or (mode != "fulltext"
                                and not services.kb_covers(item.question, chat_hits, settings["gate"]))
    retrieved = [_retrieved(hit, judge) for hit in hits]
    result = {"id": item.id, "question": item.question, "unanswerable": item.unanswerable,
              "expected": item.answers, "source": item.source, "refused": refused, "retrieved": retrieved,
              "rank": None if item.unanswerable else next((i for i, r in enumerate(retrieved, 1) if r["hit"]), None)}
    if options.answers:
        result.update(_answer(services, kb, item, judge, chat_k, threshold, options.max_tokens, cancel))
    return result


def _retrieved(hit: Hit, judge: Judge) -> dict:
    return {"file": hit.file, "page": hit.page, "chunk_index": hit.chunk_index, "score": hit.score,
            "relevance": hit.relevance, "hit": judge.chunk(hit.text, hit.file), "text": hit.text[:SNIPPET]}


def _answer(services: Services, kb: str, item: Item, judge: Judge, top_k: int, threshold: float,
            max_tokens: int | None, cancel: threading.Event | None) -> dict:
    """The chat's answer, as the chat gives it (its Settings' mode and gate: `try these settings` changes
    what is searched above, the answerer keeps the app's)."""
    started = time.perf_counter()
    text, marked_text, sources, error = "", "", (), None
    for event in services.answer(item.question, kb=kb, top_k=top_k, score_threshold=threshold, temperature=0.0,
                                 max_tokens=max_tokens, cancel=cancel):
        if event.kind == "sources":
            sources = event.sources
        elif event.kind == "done":
            text, marked_text = event.text, event.cited or event.text
        elif event.kind == "error":
            error = event.text
    marked = {int(n) for n in _CITATION.findall(marked_text)}
    cited = list(dict.fromkeys(s.file for s in sources if not marked or s.index in marked))
    return {
        "answer": text, "error": error, "seconds": round(time.perf_counter() - started, 3), "cited": cited,
        "answer_ok": None if item.unanswerable or not judge.answers else judge.answer(text),
        "cited_ok": None if item.unanswerable or not item.source else any(same_source(f, item.source) for f in cited),
    }


def _rate(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarise(results: list[dict], top_k: int) -> dict:
    answerable = [r for r in results if not r["unanswerable"]]
    unanswerable = [r for r in results if r["unanswerable"]]
    ranks = [r["rank"] for r in answerable]
    ks = sorted({*KS, top_k})
    figures = {key: round(value, 4) for key, value in scores(ranks, ks).items()} if answerable else \
        {**{f"hit_at_{k}": None for k in ks}, "mrr": None}
    summary = {"n": len(results), "answerable": len(answerable), "unanswerable": len(unanswerable), **figures,
               "refusal_rate": _rate([r["refused"] for r in unanswerable]),
               "false_refusal_rate": _rate([r["refused"] for r in answerable])}
    answered = [r for r in results if "answer" in r]
    if answered:
        seconds = [r["seconds"] for r in answered]
        summary.update(
            answer_rate=_rate([r["answer_ok"] for r in answered if r["answer_ok"] is not None]),
            cited_rate=_rate([r["cited_ok"] for r in answered if r["cited_ok"] is not None]),
            latency_p50_s=round(statistics.median(seconds), 3), latency_max_s=round(max(seconds), 3),
            answer_errors=sum(1 for r in answered if r["error"]),
        )
    return summary


# --- stored runs --------------------------------------------------------------------------


def _runs_dir(services: Services, kb: str) -> Path:
    return evaluation_dir(services, kb) / "runs"


def save(services: Services, record: Run) -> None:
    atomic_write(_runs_dir(services, record.kb) / f"{record.id}.json", json.dumps(asdict(record), ensure_ascii=False))


def list_runs(services: Services, kb: str) -> list[Run]:
    """The stored runs of `kb`, oldest first, without their per-question results."""
    folder = _runs_dir(services, kb)
    runs = []
    for path in folder.glob("*.json") if folder.is_dir() else []:
        data = json.loads(path.read_text(encoding="utf-8"))
        runs.append(Run(**{**data, "results": []}))
    return sorted(runs, key=lambda r: r.created)


def get_run(services: Services, kb: str, run_id: str) -> Run:
    path = _runs_dir(services, kb) / f"{run_id}.json"
    if not _RUN_ID.match(run_id) or not path.is_file():
        raise NotFound(f"No evaluation run '{run_id}' of knowledge base '{kb}'.", key="eval_no_run", run=run_id)
    return Run(**json.loads(path.read_text(encoding="utf-8")))


def delete_run(services: Services, kb: str, run_id: str) -> None:
    get_run(services, kb, run_id)
    (_runs_dir(services, kb) / f"{run_id}.json").unlink()


COMPARED = ("hit_at_1", "hit_at_3", "hit_at_5", "mrr", "refusal_rate", "false_refusal_rate", "answer_rate",
            "cited_rate", "latency_p50_s")
SETTINGS_SHOWN = ("embedding", "chunk_size", "chunk_overlap", "mode", "fusion", "reranker", "threshold", "gate", "top_k")


def compare(runs: list[Run]) -> list[dict]:
    """One row per run: its settings and figures side by side, and what changed against the first run."""
    rows = []
    for record in runs:
        changed = [k for k in SETTINGS_SHOWN if runs and record.settings.get(k) != runs[0].settings.get(k)]
        rows.append({"id": record.id, "label": record.label, "trial": record.trial, "status": record.status,
                     "n": record.summary.get("n"), **{k: record.settings.get(k) for k in SETTINGS_SHOWN},
                     **{k: record.summary.get(k) for k in COMPARED}, "changed": changed})
    return rows
