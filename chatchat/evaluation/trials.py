""""Try these settings": a run with other retrieval settings, the knowledge base left as it is.

Settings read at search time (mode, threshold, gate, top-k, reranker) apply to the run directly. Chunk size,
overlap and the embedding model are fixed when documents are ingested: for those, the kept originals are
ingested into a temporary internal knowledge base with the new settings, the run searches that one, and it
is deleted afterwards. The run is stored under the knowledge base it copies, marked as a trial; the
knowledge base itself changes only when the user applies the settings (a rebuild).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

from chatchat.errors import Cancelled
from chatchat.evaluation.runs import Progress, Run, RunOptions, check_idle, run

if TYPE_CHECKING:
    from chatchat.evaluation.testset import Item
    from chatchat.service import Services

# the owner of a trial's temporary knowledge base (chatchat.policy: a non-empty owner keeps it out of every list)
TRIAL_OWNER = "evaluation:"
LEFTOVER_AFTER = timedelta(hours=12)  # a trial's copy this old was left by a crash (a running trial's is younger)


@dataclass
class Rebuild:
    """Ingest-time settings to try; None: as the knowledge base has them."""

    embedding: str | None = None
    chunk_size: int | None = None
    chunk_overlap: int | None = None

    def differs(self, services: Services, kb: str) -> bool:
        info = services.kb_info(kb)
        return any(new is not None and new != old for new, old in (
            (self.embedding, info.embedding), (self.chunk_size, info.chunk_size), (self.chunk_overlap, info.chunk_overlap)))


def try_settings(
    services: Services,
    kb: str,
    items: list[Item],
    options: RunOptions,
    rebuild: Rebuild | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> Run:
    if rebuild is None or not rebuild.differs(services, kb):
        return run(services, kb, items, options, progress, cancel, label="trial", trial=True)
    check_idle(services, kb)
    drop_leftovers(services)
    info = services.kb_info(kb)
    documents = [doc.file for doc in services.documents(kb) if doc.status == "ready"]
    paths = [services.original(kb, file) for file in documents]
    temporary = f"_eval-{uuid.uuid4().hex[:10]}"
    overlap = info.chunk_overlap if rebuild.chunk_overlap is None else rebuild.chunk_overlap
    services.create_kb(temporary, embedding=rebuild.embedding or info.embedding,
                       chunk_size=rebuild.chunk_size or info.chunk_size, chunk_overlap=overlap, owner=TRIAL_OWNER + kb)
    try:
        report = progress or (lambda _: None)

        def building(step) -> None:
            report(Progress("build", step.file_index, step.file_count, step.file))

        services.add_files(temporary, paths, documents, progress=building, cancel=cancel)
        if cancel is not None and cancel.is_set():
            raise Cancelled("The trial was cancelled while its copy was being built.", key="eval_cancelled")
        return run(services, temporary, items, options, progress, cancel, save_as=kb, label="trial", trial=True)
    finally:
        services.delete_kb(temporary)


def drop_leftovers(services: Services) -> list[str]:
    """Delete the temporary copies that trials interrupted by a crash left behind; returns their names."""
    now = datetime.now(timezone.utc)
    old = [info.name for info in services.internal_kbs(TRIAL_OWNER)
           if now - datetime.fromisoformat(info.created) > LEFTOVER_AFTER]
    for name in old:
        services.delete_kb(name)
    return old
