"""An ingest's progress as the UI shows it (the Knowledge bases tab's uploads and rebuilds, a file chat's
attachments): one bar for the batch, one per file, then each file's outcome, redrawn as the job
(chatchat.jobs.Job) reports; and the batch's outcome as a toast."""

from __future__ import annotations

import time
from typing import Generator

from chatchat.ingest.job import FileResult, Progress
from chatchat.jobs import Job
from chatchat.ui.common import esc, info, warn
from chatchat.ui.i18n import message_text, t

PROGRESS_INTERVAL = 0.25  # seconds between progress redraws
STAGE_SHARE = {"parse": 0.05, "split": 0.15, "embed": 0.2, "store": 0.95, "done": 1.0}
RUNNING = ("waiting", "parse", "split", "embed", "store")


class IngestView:
    """What the progress panel shows: one bar for the batch, one per file, then each file's outcome."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        self.stage = ["waiting"] * len(names)
        self.share = [0.0] * len(names)
        self.detail = [""] * len(names)
        self.results: list[FileResult] | None = None

    def _grow(self, count: int) -> None:
        """The job has more files than announced (a rebuild announces none)."""
        more = count - len(self.names)
        if more > 0:
            self.names += [""] * more
            self.stage += ["waiting"] * more
            self.share += [0.0] * more
            self.detail += [""] * more

    def update(self, p: Progress) -> None:
        self._grow(max(p.file_index + 1, p.file_count))
        i = p.file_index
        self.names[i] = p.file
        self.stage[i] = p.stage
        share = STAGE_SHARE.get(p.stage, 0.0)
        if p.stage == "embed" and p.total:
            share = 0.2 + 0.75 * p.done / p.total
        self.share[i] = share
        self.detail[i] = f"{p.done}/{p.total}" if p.total and p.stage in ("embed", "store") else ""

    def finish(self, results: list[FileResult]) -> None:
        self.results = results
        for i, result in enumerate(results[: len(self.names)]):
            self.names[i] = result.file
            self.stage[i] = result.status
            self.share[i] = 1.0

    def _row(self, i: int, lang: str) -> str:
        name, stage = self.names[i], self.stage[i]
        result = self.results[i] if self.results and i < len(self.results) else None
        if result is not None:
            note = esc(message_text(result.error, result.error_key, result.error_params, lang) if result.error
                       else t("ingest.chunks", lang, n=result.chunks))
        else:
            note = esc(self.detail[i])
        return (
            f'<li class="cc-file cc-{esc(stage)}"><span class="cc-name" title="{esc(name)}">{esc(name)}</span>'
            f'<span class="cc-stage">{esc(t("stage." + stage, lang))}</span>'
            f'<span class="cc-bar"><span style="width:{self.share[i] * 100:.0f}%"></span></span>'
            f'<span class="cc-note">{note}</span></li>'
        )

    def render(self, lang: str) -> str:
        count = len(self.names)
        finished = sum(1 for s in self.stage if s not in RUNNING)
        batch = sum(self.share) / count if count else 1.0
        rows = "".join(self._row(i, lang) for i in range(count))
        head = esc(t("ingest.batch", lang, done=finished, count=count))
        return (
            f'<div class="cc-progress"><div class="cc-batch"><span>{head}</span>'
            f'<span class="cc-bar cc-bar-batch"><span style="width:{batch * 100:.0f}%"></span></span></div>'
            f'<ul class="cc-files">{rows}</ul></div>'
        )


def follow(job: Job[Progress, list[FileResult]], names: list[str], lang: str) -> Generator[str, None, list[FileResult]]:
    """The progress panel of a running ingest job, yielded as it moves (at most every PROGRESS_INTERVAL);
    returns the job's results, or raises its error. `names`: the files announced before the job says."""
    view = IngestView(names)
    yield view.render(lang)
    drawn, dirty = time.monotonic(), False
    for event in job.events(idle=PROGRESS_INTERVAL):
        if event is not None:  # None: a long stage (parsing a big PDF) said nothing for a while
            view.update(event)
            dirty = True
        if dirty and time.monotonic() - drawn >= PROGRESS_INTERVAL:
            yield view.render(lang)
            drawn, dirty = time.monotonic(), False
    results = job.result()
    view.finish(results)
    yield view.render(lang)
    return results


def summarize(results: list[FileResult], lang: str, skipped: int = 0) -> None:
    """The batch's outcome as a toast; `skipped` hidden or system files were left out on purpose."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    parts = ", ".join(f"{t('stage.' + status, lang)}: {n}" for status, n in counts.items())
    if skipped:
        parts += ", " + t("upload.skipped", lang, n=skipped)
    if counts.get("failed") or counts.get("cancelled"):
        warn(t("ingest.summary", lang, parts=parts))
    else:
        info(t("ingest.summary", lang, parts=parts))
