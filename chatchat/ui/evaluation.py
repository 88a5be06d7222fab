"""The Evaluate panel (a sub-tab of the Knowledge bases tab): a knowledge base's test set (add, edit, delete,
import, export, drafts by the chat model), a run with a progress bar and a cancel, per-question results,
the runs side by side with a chart of hit@k, and "try these settings" (chatchat.evaluation.trials).

It follows a knowledge-base picker handed to it (`kb`: the Knowledge bases tab's own), or shows its own."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from chatchat.errors import InvalidName
from chatchat.evaluation import drafts, runs, testset, trials
from chatchat.jobs import Job
from chatchat.policy import Caller
from chatchat.service import SEARCH_MODES
from chatchat.retrieval.gate import LEVELS
from chatchat.ui.common import Refresh, caller_of, esc, file_names, guarded, info, kb_choices, session_of
from chatchat.ui.i18n import t, tr
from chatchat.ui.page import Page

ITEM_COLUMNS = ("eval.col_question", "eval.col_answers", "eval.col_source", "eval.col_unanswerable", "eval.col_draft")
RESULT_COLUMNS = ("eval.col_question", "eval.col_answers", "eval.col_rank", "eval.col_refused", "eval.col_top",
                  "eval.col_answer")
CHART_FIGURES = ("hit_at_1", "hit_at_3", "hit_at_5", "mrr")


def _figure(value: Any) -> str:
    return "–" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def items_frame(items: list[testset.Item], lang: str) -> pd.DataFrame:
    rows = [[i.question, " | ".join(i.answers), i.source, "✓" if i.unanswerable else "", "✓" if i.draft else ""]
            for i in items]
    return pd.DataFrame(rows, columns=[t(c, lang) for c in ITEM_COLUMNS])


def results_frame(record: runs.Run | None, lang: str) -> pd.DataFrame:
    rows = []
    for r in record.results if record else []:
        top = r["retrieved"][0] if r["retrieved"] else None
        rows.append([r["question"], " | ".join(r["expected"]) or r["source"], "–" if r["rank"] is None else r["rank"],
                     "✓" if r["refused"] else "", f"{top['file']} ({top['score']:.2f})" if top else "",
                     (r.get("answer") or "")[:200]])
    return pd.DataFrame(rows, columns=[t(c, lang) for c in RESULT_COLUMNS])


def summary_text(record: runs.Run | None, lang: str) -> str:
    if record is None:
        return ""
    figures = {k: _figure(v) for k, v in record.summary.items()}
    text = t("eval.summary", lang, **{k: figures.get(k, "–") for k in (
        "n", "answerable", "unanswerable", "hit_at_1", "hit_at_3", "hit_at_5", "mrr", "refusal_rate", "false_refusal_rate")})
    if "answer_rate" in figures:
        text += t("eval.summary_answers", lang, **{k: figures[k] for k in ("answer_rate", "cited_rate", "latency_p50_s")})
    if record.status == "cancelled":
        text += "\n\n" + t("eval.cancelled_msg", lang)
    return text


def run_name(record: runs.Run | dict, lang: str) -> str:
    created, trial = (record["id"], record["trial"]) if isinstance(record, dict) else (record.id, record.trial)
    stamp = f"{created[4:6]}-{created[6:8]} {created[9:11]}:{created[11:13]}:{created[13:15]}"
    return f"{stamp} {t('eval.trial_label', lang)}" if trial else stamp


def runs_frame(rows: list[dict], lang: str) -> pd.DataFrame:
    shown = [*runs.SETTINGS_SHOWN, *runs.COMPARED]
    return pd.DataFrame([[run_name(r, lang), r["n"], *(_figure(r[k]) for k in shown)] for r in rows],
                        columns=[t("eval.col_run", lang), "n", *(t(f"eval.fig_{k}", lang) for k in shown)])


def chart_frame(rows: list[dict], lang: str) -> pd.DataFrame:
    """One bar per figure and run, side by side, named "figure · run" (a bar plot stacks the bars of one x, and
    orders the x names alphabetically: the figure keys keep hit@1, @3, @5, MRR in that order)."""
    data = [{"bar": f"{k} · {run_name(r, lang)}", "value": r[k]}
            for k in CHART_FIGURES for r in rows if r.get(k) is not None]
    return pd.DataFrame(data, columns=["bar", "value"])


def progress_html(step: runs.Progress | None, lang: str) -> str:
    if step is None:
        return ""
    key = "eval.building" if step.stage == "build" else "eval.progress"
    label = t(key, lang, done=step.done, total=step.total)
    return (f'<div class="cc-eval-progress"><progress value="{step.done}" max="{max(step.total, 1)}"></progress> '
            f'<span>{esc(label)}</span></div>')


class EvaluationPanel(Page):
    def __init__(self, ctx, events, kb: Any = None):
        """kb: a knowledge-base picker the panel follows (the Knowledge bases tab's); None: it builds its own."""
        super().__init__(ctx, events)
        self.kb = kb
        self._own_picker = kb is None
        self._cancels: dict[str, threading.Event] = {}

    # --- components -----------------------------------------------------------------------------
    def build(self) -> None:
        with gr.Column(elem_id="eval-panel"):
            if self._own_picker:
                self.kb = gr.Dropdown(label=tr("eval.kb"), choices=[], value=None, elem_id="eval-kb")
            gr.Markdown(tr("eval.intro"))
            self._build_testset()
            self._build_run()
            self._build_compare()
            self._build_trial()

    def _build_testset(self) -> None:
        self.selected = gr.State(None)
        with gr.Accordion(tr("eval.testset"), open=True):
            self.count = gr.Markdown(elem_id="eval-count")
            self.table = gr.Dataframe(interactive=False, wrap=True, max_height=320, elem_id="eval-testset")
            self.row_label = gr.Markdown(tr("eval.pick_row"), elem_id="eval-row")
            with gr.Row():
                self.question = gr.Textbox(label=tr("eval.question"), scale=3, elem_id="eval-question")
                self.answers = gr.Textbox(label=tr("eval.answers"), scale=2, elem_id="eval-answers")
            with gr.Row():
                self.source = gr.Textbox(label=tr("eval.source"), scale=2, elem_id="eval-source")
                self.unanswerable = gr.Checkbox(label=tr("eval.unanswerable"), elem_id="eval-unanswerable")
            with gr.Row():
                self.add_btn = gr.Button(tr("eval.add"), variant="primary", size="sm", elem_id="eval-add")
                self.save_btn = gr.Button(tr("eval.save"), size="sm", elem_id="eval-save")
                self.delete_btn = gr.Button(tr("eval.delete"), size="sm", variant="stop", elem_id="eval-delete")
                self.keep_btn = gr.Button(tr("eval.keep_drafts"), size="sm", elem_id="eval-keep")
                self.drop_btn = gr.Button(tr("eval.drop_drafts"), size="sm", elem_id="eval-drop")
            with gr.Row(equal_height=True):
                with gr.Column(scale=2):
                    self.import_file = gr.File(label=tr("eval.import_file"), file_types=list(testset.FORMATS),
                                               height=110, elem_id="eval-import-file")
                    gr.Markdown(tr("eval.import_help"))
                with gr.Column(scale=1):
                    self.replace = gr.Checkbox(label=tr("eval.replace"), elem_id="eval-replace")
                    self.import_btn = gr.Button(tr("eval.import"), size="sm", elem_id="eval-import")
                    self.export_format = gr.Radio(["jsonl", "csv"], value="jsonl", label=tr("eval.export_format"))
                    self.export_btn = gr.Button(tr("eval.export"), size="sm", elem_id="eval-export")
                    self.export_file = gr.File(visible=False, interactive=False, elem_id="eval-export-file")
            with gr.Row(equal_height=True):
                self.draft_count = gr.Slider(1, 20, value=5, step=1, label=tr("eval.draft_count"), scale=1)
                self.draft_btn = gr.Button(tr("eval.draft"), scale=2, elem_id="eval-draft")
            self.draft_note = gr.Markdown(elem_id="eval-draft-note")

    def _build_run(self) -> None:
        with gr.Accordion(tr("eval.run_title"), open=True):
            with gr.Row(equal_height=True):
                self.top_k = gr.Slider(5, 50, value=10, step=1, label=tr("eval.top_k"), elem_id="eval-top-k")
                self.with_answers = gr.Checkbox(label=tr("eval.with_answers"), elem_id="eval-with-answers")
                self.run_btn = gr.Button(tr("eval.run"), variant="primary", elem_id="eval-run")
                self.cancel_btn = gr.Button(tr("eval.cancel"), variant="stop", visible=False, elem_id="eval-cancel")
            self.progress = gr.HTML(elem_id="eval-progress")
            self.summary = gr.Markdown(elem_id="eval-summary")
            self.results = gr.Dataframe(label=tr("eval.results"), interactive=False, wrap=True, max_height=360,
                                        elem_id="eval-results")

    def _build_compare(self) -> None:
        with gr.Accordion(tr("eval.runs"), open=True):
            self.runs_table = gr.Dataframe(interactive=False, wrap=True, max_height=260, elem_id="eval-runs")
            self.chart = gr.BarPlot(x="bar", y="value", label=tr("eval.chart"), y_lim=[0, 1], x_title=" ",
                                    x_label_angle=-30, elem_id="eval-chart")

    def _build_trial(self) -> None:
        settings = self.services.settings
        with gr.Accordion(tr("eval.try"), open=False, elem_id="eval-try"):
            gr.Markdown(tr("eval.try_note"))
            with gr.Row():
                self.try_mode = gr.Dropdown(list(SEARCH_MODES), value=settings.search_mode, label=tr("eval.mode"),
                                            elem_id="eval-try-mode")
                self.try_threshold = gr.Number(value=settings.score_threshold, minimum=-1, maximum=1,
                                               label=tr("eval.threshold"))
                self.try_gate = gr.Dropdown(list(LEVELS), value=settings.relevance_gate, label=tr("eval.gate"))
                self.try_rerank = gr.Checkbox(value=True, label=tr("eval.rerank"))
            with gr.Row():
                self.try_size = gr.Number(precision=0, minimum=50, maximum=8000, label=tr("eval.chunk_size"),
                                          elem_id="eval-try-size")
                self.try_overlap = gr.Number(precision=0, minimum=0, label=tr("eval.chunk_overlap"))
                self.try_embedding = gr.Dropdown(
                    [(e.name, e.id) for e in self.services.catalog.embeddings.values()], label=tr("eval.embedding"))
            self.try_btn = gr.Button(tr("eval.try_btn"), elem_id="eval-try-run")

    # --- events ---------------------------------------------------------------------------------
    def register_events(self) -> None:
        lang = self.ctx.lang
        view = [self.count, self.table, self.runs_table, self.chart, self.try_size, self.try_overlap,
                self.try_embedding, self.selected, self.row_label]
        self.kb.change(guarded(self.show), [self.kb, lang], view)
        self.table.select(self.pick_row, [self.kb, lang], [self.selected, self.row_label, self.question,
                                                           self.answers, self.source, self.unanswerable])
        form = [self.question, self.answers, self.source, self.unanswerable]
        self.add_btn.click(guarded(self.add), [self.kb, *form, lang], view)
        self.save_btn.click(guarded(self.save), [self.kb, self.selected, *form, lang], view)
        self.delete_btn.click(guarded(self.delete), [self.kb, self.selected, lang], view)
        self.keep_btn.click(guarded(self.keep_drafts), [self.kb, lang], view)
        self.drop_btn.click(guarded(self.drop_drafts), [self.kb, lang], view)
        self.import_btn.click(guarded(self.import_), [self.kb, self.import_file, self.replace, lang],
                              [*view, self.import_file])
        self.export_btn.click(guarded(self.export), [self.kb, self.export_format, lang], [self.export_file])
        self.draft_btn.click(guarded(self.draft), [self.kb, self.draft_count, lang], [*view, self.draft_note])
        outputs = [self.run_btn, self.try_btn, self.cancel_btn, self.progress, self.summary, self.results,
                   self.runs_table, self.chart]
        self.run_btn.click(self.run, [self.kb, self.top_k, self.with_answers, lang], outputs)
        trial = [self.try_mode, self.try_threshold, self.try_gate, self.try_rerank, self.try_size, self.try_overlap,
                 self.try_embedding]
        self.try_btn.click(self.try_settings, [self.kb, self.top_k, self.with_answers, *trial, lang], outputs)
        self.cancel_btn.click(self.cancel, None, None, queue=False)
        self.runs_table.select(guarded(self.pick_run), [self.kb, lang], [self.summary, self.results])
        if self._own_picker:
            self.events.kbs.change(guarded(self.refresh_kbs), [self.kb, lang], [self.kb])

    def refreshes(self) -> list[Refresh]:
        shown = [Refresh(guarded(self.show), [self.kb, self.ctx.lang], [
            self.count, self.table, self.runs_table, self.chart, self.try_size, self.try_overlap, self.try_embedding,
            self.selected, self.row_label])]
        if self._own_picker:
            return [Refresh(guarded(self.refresh_kbs), [self.kb, self.ctx.lang], [self.kb]), *shown]
        return shown

    def end_session(self, session: str) -> None:
        cancel = self._cancels.pop(session, None)
        if cancel is not None:
            cancel.set()

    # --- handlers -------------------------------------------------------------------------------
    def _need(self, kb: str | None, caller: Caller, lang: str, write: bool = False) -> str:
        if not kb:
            raise InvalidName(t("eval.no_kb", lang))
        self.services.policy.check_visible(kb, caller)
        if write:
            self.services.policy.check_writable(kb, caller)
        return kb

    def refresh_kbs(self, kb: str | None, lang_: str, request: gr.Request):
        choices = kb_choices(self.services, caller_of(request), lang_)
        names = [name for _, name in choices]
        return gr.Dropdown(choices=choices, value=kb if kb in names else (names[0] if names else None))

    def show(self, kb: str | None, lang_: str, request: gr.Request = None):
        """Everything the panel shows of `kb` (nothing when none is picked)."""
        if not kb:
            return [t("eval.no_kb", lang_), items_frame([], lang_), runs_frame([], lang_), chart_frame([], lang_),
                    None, None, None, None, t("eval.pick_row", lang_)]
        self._need(kb, caller_of(request), lang_)
        items = runs.testset_of(self.services, kb).items()
        compared = runs.compare(runs.list_runs(self.services, kb))
        kb_info = self.services.kb_info(kb)
        count = t("eval.testset_count", lang_, n=len(items), drafts=sum(i.draft for i in items))
        return [count, items_frame(items, lang_), runs_frame(compared, lang_), chart_frame(compared, lang_),
                kb_info.chunk_size, kb_info.chunk_overlap, kb_info.embedding, None, t("eval.pick_row", lang_)]

    def pick_row(self, evt: gr.SelectData, kb: str | None, lang_: str):
        items = runs.testset_of(self.services, kb).items() if kb else []
        row = evt.index[0] if evt.index else None
        if row is None or row >= len(items):
            return None, t("eval.pick_row", lang_), "", "", "", False
        item = items[row]
        return (item.id, t("eval.row_selected", lang_, question=item.question[:80]), item.question,
                " | ".join(item.answers), item.source, item.unanswerable)

    def _form_values(self, question: str, answers: str, source: str, unanswerable: bool) -> dict:
        return {"question": question, "answers": answers or "", "source": source or "", "unanswerable": bool(unanswerable)}

    def add(self, kb, question, answers, source, unanswerable, lang_, request: gr.Request):
        kb = self._need(kb, caller_of(request), lang_, write=True)
        store = runs.testset_of(self.services, kb)
        store.add([testset.Item.checked(len(store.items()) + 1, **self._form_values(question, answers, source, unanswerable))])
        info(t("eval.saved_msg", lang_))
        return self.show(kb, lang_, request)

    def save(self, kb, selected, question, answers, source, unanswerable, lang_, request: gr.Request):
        kb = self._need(kb, caller_of(request), lang_, write=True)
        if not selected:
            raise InvalidName(t("eval.pick_first", lang_))
        values = self._form_values(question, answers, source, unanswerable)
        values["answers"] = [a for a in values["answers"].split(testset.ANSWER_SEPARATOR)]
        runs.testset_of(self.services, kb).update(selected, **values)
        info(t("eval.saved_msg", lang_))
        return self.show(kb, lang_, request)

    def delete(self, kb, selected, lang_, request: gr.Request):
        kb = self._need(kb, caller_of(request), lang_, write=True)
        if not selected:
            raise InvalidName(t("eval.pick_first", lang_))
        runs.testset_of(self.services, kb).delete([selected])
        info(t("eval.deleted_msg", lang_))
        return self.show(kb, lang_, request)

    def _drafts(self, kb, lang_, request, keep: bool):
        kb = self._need(kb, caller_of(request), lang_, write=True)
        store = runs.testset_of(self.services, kb)
        items = store.items()
        marked = [i for i in items if i.draft]
        if keep:
            for item in marked:
                item.draft = False
            store.replace(items)
        else:
            store.delete([i.id for i in marked])
        info(t("eval.drafts_kept" if keep else "eval.drafts_dropped", lang_, n=len(marked)))
        return self.show(kb, lang_, request)

    def keep_drafts(self, kb, lang_, request: gr.Request):
        return self._drafts(kb, lang_, request, keep=True)

    def drop_drafts(self, kb, lang_, request: gr.Request):
        return self._drafts(kb, lang_, request, keep=False)

    def import_(self, kb, file, replace, lang_, request: gr.Request):
        kb = self._need(kb, caller_of(request), lang_, write=True)
        paths = file_names([file] if file else [])
        if not paths:
            raise InvalidName(t("eval.import_nothing", lang_))
        store = runs.testset_of(self.services, kb)
        before = 0 if replace else len(store.items())
        items = store.import_file(Path(paths[0]), replace=bool(replace))
        info(t("eval.imported_msg", lang_, n=len(items) - before))
        return [*self.show(kb, lang_, request), None]

    def export(self, kb, fmt, lang_, request: gr.Request):
        kb = self._need(kb, caller_of(request), lang_)
        items = runs.testset_of(self.services, kb).items()
        path = Path(tempfile.mkdtemp(prefix="chatchat-eval-")) / f"{kb}-testset.{fmt}"
        path.write_text(testset.to_jsonl(items) if fmt == "jsonl" else testset.to_csv(items), encoding="utf-8")
        return gr.File(value=str(path), visible=True)

    def draft(self, kb, count, lang_, request: gr.Request):
        kb = self._need(kb, caller_of(request), lang_, write=True)
        made = drafts.draft_questions(self.services, kb, int(count))
        runs.testset_of(self.services, kb).add(made)
        note = t("eval.drafted_msg", lang_, n=len(made))
        if drafts.is_weak(self.services):
            note += "\n\n" + t("eval.draft_weak", lang_)
        return [*self.show(kb, lang_, request), note]

    # --- runs -----------------------------------------------------------------------------------
    @guarded
    def run(self, kb, top_k, with_answers, lang_, request: gr.Request):
        options = runs.RunOptions(top_k=int(top_k), answers=bool(with_answers))
        yield from self._job(kb, lang_, request, lambda items, progress, cancel: runs.run(
            self.services, kb, items, options, progress, cancel))

    @guarded
    def try_settings(self, kb, top_k, with_answers, mode, threshold, gate, rerank, size, overlap, embedding,
                     lang_, request: gr.Request):
        options = runs.RunOptions(top_k=int(top_k), mode=mode, score_threshold=threshold, gate=gate,
                                  rerank=bool(rerank), answers=bool(with_answers))
        rebuild = trials.Rebuild(embedding or None, int(size) if size else None, None if overlap is None else int(overlap))
        yield from self._job(kb, lang_, request, lambda items, progress, cancel: trials.try_settings(
            self.services, kb, items, options, rebuild, progress, cancel))

    def _job(self, kb, lang_, request, work):
        """A run in its own thread, its progress drawn until it ends; the buttons come back however it ends."""
        idle = {self.run_btn: gr.update(visible=True), self.try_btn: gr.update(interactive=True),
                self.cancel_btn: gr.update(visible=False)}
        try:
            kb = self._need(kb, caller_of(request), lang_)
            items = [i for i in runs.testset_of(self.services, kb).items() if not i.draft]
            runs.check_idle(self.services, kb)
            session = session_of(request)
            job = Job(lambda progress, cancel: work(items, progress, cancel), name="chatchat-eval")
            self._cancels[session] = job.cancel
            yield {self.run_btn: gr.update(visible=False), self.try_btn: gr.update(interactive=False),
                   self.cancel_btn: gr.update(visible=True), self.progress: progress_html(runs.Progress("ask", 0, len(items)), lang_)}
            step = None
            for event in job.events(idle=0.3):
                step = event or step
                yield {self.progress: progress_html(step, lang_)}
            self._cancels.pop(session, None)
            record = job.result()
            compared = runs.compare(runs.list_runs(self.services, kb))
            yield {**idle, self.progress: "", self.summary: summary_text(record, lang_),
                   self.results: results_frame(record, lang_), self.runs_table: runs_frame(compared, lang_),
                   self.chart: chart_frame(compared, lang_)}
        except Exception:
            yield {**idle, self.progress: ""}
            raise  # shown as a toast by `guarded`

    def cancel(self, request: gr.Request):
        cancel = self._cancels.get(session_of(request))
        if cancel is not None:
            cancel.set()

    def pick_run(self, evt: gr.SelectData, kb, lang_, request: gr.Request):
        kb = self._need(kb, caller_of(request), lang_)
        listed = runs.list_runs(self.services, kb)
        row = evt.index[0] if evt.index else None
        if row is None or row >= len(listed):
            return gr.skip(), gr.skip()
        record = runs.get_run(self.services, kb, listed[row].id)
        return summary_text(record, lang_), results_frame(record, lang_)
