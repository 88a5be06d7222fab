"""The Knowledge bases tab: create, delete and rebuild knowledge bases; upload files or folders with
per-file progress and a cancel; the document table with delete, re-ingest and chunk view; a test search;
the Evaluate sub-tab (chatchat.ui.evaluation.EvaluationPanel, following this page's picker).

Who may see, change or create a knowledge base is the policy's to say (`services.policy`); this page
only asks. It tells the other pages through `events.kbs` when knowledge bases or their documents changed,
and re-renders its create form on `events.models` and `events.settings`."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable, Iterator

import gradio as gr

from chatchat import space
from chatchat.errors import AlreadyExists, InvalidName
from chatchat.ingest.job import FileResult, Progress
from chatchat.ingest.sniff import is_hidden_or_system
from chatchat.jobs import Job
from chatchat.policy import DEMO_KB, Caller
from chatchat.service import SEARCH_MODES
from chatchat.ui.common import Context, Refresh, caller_of, file_names, guarded, info, kb_choices
from chatchat.ui.embedding_advice import chinese_notice, create_hint, new_kb_choice
from chatchat.ui.evaluation import EvaluationPanel
from chatchat.ui.i18n import t, tr
from chatchat.ui.kb_views import chunks_frame, docs_frame, hits_html, kb_card
from chatchat.ui.page import Events, Page, bump
from chatchat.ui.progress import follow, summarize
from chatchat.ui.uploads import PICKED_NAMES_JS, PICKED_NAMES_LISTENER, upload_names

Work = Callable[[Callable[[Progress], None], threading.Event], list[FileResult]]
INGEST_LANE = {"concurrency_id": "ingest", "concurrency_limit": 2}  # a long ingest never holds up chat or search


class KnowledgePage(Page):
    def __init__(self, ctx: Context, events: Events):
        super().__init__(ctx, events)
        self.policy = self.services.policy
        self._cancels: dict[str, threading.Event] = {}  # the running ingest of each browser session (one at a time)

    # --- components -----------------------------------------------------------------------------
    def build(self) -> None:
        self.selected_doc = gr.State(None)
        with gr.Row(equal_height=False, elem_classes=["cc-kb"]):
            with gr.Column(scale=1, min_width=280, elem_classes=["cc-side"]):
                self._build_picker()
                self._build_create_form()
            with gr.Column(scale=3, elem_classes=["cc-main"]):
                with gr.Column(visible=False, elem_classes=["cc-hint"]) as self.empty_box:
                    gr.Markdown(tr("kb.empty"))
                    self.demo_btn = gr.Button(tr("kb.demo"), variant="primary", visible=bool(space.demo_documents()),
                                              elem_id="kb-demo")
                with gr.Column(visible=False) as self.kb_box:
                    with gr.Tabs():
                        with gr.Tab(tr("kb.documents"), id="kb-docs"):
                            self._build_uploads()
                            self._build_documents()
                        with gr.Tab(tr("kb.test_search"), id="kb-search"):
                            self._build_search()
                        with gr.Tab(tr("eval.tab"), id="kb-evaluate", elem_id="kb-evaluate"):
                            self.evaluation = EvaluationPanel(self.ctx, self.events, kb=self.kb_pick)
                            self.evaluation.build()
        self.doc_buttons = [self.chunks_btn, self.reingest_btn, self.remove_btn]

    def _build_picker(self) -> None:
        with gr.Column(visible=False) as self.kb_side:
            self.kb_pick = gr.Dropdown(label=tr("kb.select"), choices=[], value=None, interactive=True,
                                       elem_id="kb-select")
            self.card = gr.Markdown(elem_classes=["cc-card"])
            with gr.Row():
                self.rebuild_btn = gr.Button(tr("kb.rebuild"), size="sm", min_width=80, elem_id="kb-rebuild")
                self.delete_btn = gr.Button(tr("kb.delete"), size="sm", variant="stop", min_width=80,
                                            elem_id="kb-delete")
            with gr.Group(visible=False, elem_classes=["cc-confirm"]) as self.confirm_box:
                self.confirm_text = gr.Markdown()
                with gr.Row():
                    self.confirm_yes = gr.Button(tr("kb.delete_confirm"), variant="stop", size="sm",
                                                 elem_id="kb-delete-yes")
                    self.confirm_no = gr.Button(tr("common.cancel"), size="sm")

    def _build_create_form(self) -> None:
        settings = self.services.settings
        # where people may not make knowledge bases (a Space), their uploads go to one of their own
        with gr.Accordion(tr("kb.new"), open=False, elem_id="kb-new", visible=self.policy.may_create(Caller())) as self.new_box:
            self.new_name = gr.Textbox(label=tr("kb.name"), placeholder=tr("kb.name_hint"), elem_id="kb-new-name")
            self.new_desc = gr.Textbox(label=tr("kb.description"), lines=2)
            self.new_embedding = gr.Dropdown(
                label=tr("kb.embedding"), choices=[(e.name, e.id) for e in self.services.catalog.embeddings.values()],
                value=settings.default_embedding, elem_id="kb-new-embedding",
            )
            self.embedding_hint = gr.Markdown(elem_id="kb-embedding-hint")
            with gr.Row():
                self.new_size = gr.Number(label=tr("kb.chunk_size"), value=settings.chunk_size, precision=0,
                                          minimum=50, maximum=8000)
                self.new_overlap = gr.Number(label=tr("kb.chunk_overlap"), value=settings.chunk_overlap, precision=0,
                                             minimum=0)
            self.create_btn = gr.Button(tr("kb.create"), variant="primary", elem_id="kb-create")

    def _build_uploads(self) -> None:
        with gr.Row(equal_height=True):
            self.files_in = gr.File(label=tr("upload.files"), file_count="multiple", height=140,
                                    elem_id="kb-upload-files")
            self.folder_in = gr.File(label=tr("upload.folder"), file_count="directory", height=140,
                                     elem_id="kb-upload-folder")
        self.picked_names = gr.Textbox(visible=False)
        with gr.Row():
            self.add_btn = gr.Button(tr("upload.add"), variant="primary", elem_id="kb-add")
            self.cancel_btn = gr.Button(tr("upload.cancel"), variant="stop", visible=False, elem_id="kb-cancel")
        self.progress = gr.HTML(elem_id="kb-progress", js_on_load=PICKED_NAMES_LISTENER)
        with gr.Group(visible=False) as self.notice_box:
            self.notice_text = gr.Markdown(elem_id="kb-chinese-notice")
            self.notice_btn = gr.Button(variant="primary", size="sm", visible=False, elem_id="kb-chinese-rebuild")

    def _build_documents(self) -> None:
        self.docs = gr.Dataframe(interactive=False, wrap=True, elem_id="kb-docs-table", max_height=420,
                                 column_widths=["34%", "8%", "8%", "10%", "25%", "15%"])
        with gr.Row(elem_classes=["cc-doc-actions"]):
            self.doc_label = gr.Markdown(tr("docs.pick"), elem_id="kb-doc-selected")
            self.chunks_btn = gr.Button(tr("docs.view_chunks"), size="sm", interactive=False, elem_id="kb-doc-chunks")
            self.reingest_btn = gr.Button(tr("docs.reingest"), size="sm", interactive=False, elem_id="kb-doc-reingest")
            self.remove_btn = gr.Button(tr("docs.delete"), size="sm", variant="stop", interactive=False,
                                        elem_id="kb-doc-delete")
        self.chunks_view = gr.Dataframe(visible=False, interactive=False, wrap=True, max_height=420,
                                        column_widths=["8%", "8%", "20%", "64%"], elem_id="kb-chunks")

    def _build_search(self) -> None:
        settings = self.services.settings
        with gr.Row(equal_height=True):
            self.query = gr.Textbox(show_label=False, placeholder=tr("search.placeholder"), scale=4,
                                    elem_id="kb-search-query")
            self.search_btn = gr.Button(tr("search.go"), variant="primary", scale=1, elem_id="kb-search-go")
        with gr.Row():
            self.top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label=tr("param.top_k"))
            self.threshold = gr.Slider(-1.0, 1.0, value=settings.score_threshold, step=0.05, label=tr("param.threshold"))
            self.mode = gr.Radio([(tr(f"search.mode.{m}"), m) for m in SEARCH_MODES], value=settings.search_mode,
                                 label=tr("search.mode"))
        self.results = gr.HTML(elem_id="kb-search-results")

    # --- what the page shows --------------------------------------------------------------------
    @property
    def list_outputs(self) -> list:
        """What a change of the knowledge bases re-renders."""
        return [self.kb_pick, self.card, self.docs, self.kb_side, self.new_box, self.rebuild_btn, self.delete_btn,
                self.empty_box, self.kb_box]

    @property
    def view_outputs(self) -> list:
        """The above and the document picked in it."""
        return [*self.list_outputs, self.selected_doc, self.doc_label, *self.doc_buttons, self.chunks_view,
                self.confirm_box, self.notice_box]

    @property
    def form_outputs(self) -> list:
        return [self.new_embedding, self.embedding_hint]

    @property
    def job_outputs(self) -> list:
        return [*self.view_outputs, self.files_in, self.folder_in, self.add_btn, self.cancel_btn, self.demo_btn,
                self.progress, self.notice_text, self.notice_btn, self.events.kbs]

    def _view(self, kb: str | None, lang_: str, caller: Caller, reset: bool = True) -> dict:
        """Everything that depends on the chosen knowledge base; with `reset`, also the document picked in
        it (a background refresh leaves a pick alone: it may land just after the person clicked a row)."""
        choices = kb_choices(self.services, caller, lang_)
        names = [name for _, name in choices]
        kb = kb if kb in names else (names[0] if names else None)
        writable = kb is not None and self.policy.may_write(kb, caller)
        view = {
            self.kb_pick: gr.update(choices=choices, value=kb),
            self.card: kb_card(self.services, kb, lang_),
            self.docs: docs_frame(self.services, kb, lang_),
            self.kb_side: gr.update(visible=bool(names)),
            self.new_box: gr.Accordion(open=not names),
            self.rebuild_btn: gr.update(interactive=writable),
            self.delete_btn: gr.update(interactive=writable),
            self.empty_box: gr.update(visible=not names),
            self.kb_box: gr.update(visible=bool(names)),
        }
        if reset:
            view.update({
                self.selected_doc: None,
                self.doc_label: t("docs.pick", lang_),
                **{button: gr.update(interactive=False) for button in self.doc_buttons},
                self.chunks_view: gr.update(visible=False),
                self.confirm_box: gr.update(visible=False),
                self.notice_box: gr.update(visible=False),
            })
        return view

    def _changed(self, kb: str | None, lang_: str, caller: Caller) -> dict:
        """The view after this page changed a knowledge base, and the news of it for the other pages."""
        return {**self._view(kb, lang_, caller), self.events.kbs: bump()}

    def _form(self, embedding: str | None, lang_: str) -> dict:
        """The create form's model: in the Chinese UI, one that understands Chinese when the default does not
        (a model the person picked stays), and why an English-only one is a poor choice."""
        settings = self.services.settings
        if embedding in (None, settings.default_embedding, self.services.embedders.default_for_new_kb()[0]):
            embedding = new_kb_choice(self.services, lang_)
        return {self.new_embedding: embedding,
                self.embedding_hint: create_hint(self.services, embedding, lang_)}

    def _notice(self, kb: str, results: list[FileResult], lang_: str) -> dict:
        """Chinese documents just landed in a knowledge base whose model understands English only: say so,
        and offer the rebuild with a model that understands Chinese."""
        notice = chinese_notice(self.services, kb, results, lang_)
        if notice is None:
            return {self.notice_box: gr.update(visible=False)}
        better = notice.rebuild_with
        label = t("kb.rebuild_with", lang_, better=better.name) if better else ""
        return {self.notice_box: gr.update(visible=True), self.notice_text: notice.text,
                self.notice_btn: gr.update(visible=better is not None, value=label)}

    def _busy(self, running: bool) -> dict:
        """While an ingest runs in this session: the start buttons off, Cancel on."""
        return {
            self.add_btn: gr.update(interactive=not running),
            self.cancel_btn: gr.update(visible=running),
            self.rebuild_btn: gr.update(interactive=not running),
            self.demo_btn: gr.update(interactive=not running),
        }

    def _job(self, kb: str, work: Work, names: list[str], lang_: str, caller: Caller, clear_uploads: bool = False,
             skipped: int = 0) -> Iterator[dict]:
        """Run an ingest into `kb`, streaming its progress panel, then show the outcome. The job goes on if
        the browser goes away (what a person asked to add gets added). On an error the buttons come back
        before the message shows, so the tab stays usable."""
        yield self._busy(True)
        job = Job(work, name="chatchat-ui-ingest")
        self._cancels[caller.session] = job.cancel
        panels = follow(job, names, lang_)
        try:
            while True:
                try:
                    yield {self.progress: next(panels)}
                except StopIteration as done:
                    results = done.value
                    break
        except Exception:
            yield {**self._busy(False), **self._changed(kb, lang_, caller)}
            raise
        finally:
            self._cancels.pop(caller.session, None)
        summarize(results, lang_, skipped)
        final = {**self._busy(False), **self._changed(kb, lang_, caller), **self._notice(kb, results, lang_)}
        if clear_uploads:
            final.update({self.files_in: None, self.folder_in: None})
        yield final

    def _need(self, kb: str | None, caller: Caller, lang_: str, write: bool = False) -> str:
        if not kb:
            raise InvalidName(t("kb.pick_first", lang_))
        self.policy.check_visible(kb, caller)
        if write:
            self.policy.check_writable(kb, caller)
        return kb

    @staticmethod
    def _need_doc(doc: str | None, lang_: str) -> str:
        if not doc:
            raise InvalidName(t("docs.pick", lang_))
        return doc

    # --- handlers -------------------------------------------------------------------------------
    @guarded
    def show(self, kb: str | None, lang_: str, request: gr.Request):
        return self._view(kb, lang_, caller_of(request))

    @guarded
    def refresh(self, kb: str | None, lang_: str, embedding: str | None, request: gr.Request):
        return {**self._view(kb, lang_, caller_of(request), reset=False), **self._form(embedding, lang_)}

    @guarded
    def refresh_form(self, embedding: str | None, lang_: str):
        return self._form(embedding, lang_)

    def hint(self, embedding: str | None, lang_: str) -> str:
        return create_hint(self.services, embedding, lang_)

    @guarded
    def create(self, name: str, description: str, embedding: str, size, overlap, lang_: str, request: gr.Request):
        caller = caller_of(request)
        if not self.policy.may_create(caller):
            raise InvalidName(t("kb.space_no_create", lang_))
        size = int(size) if size is not None else None
        overlap = int(overlap) if overlap is not None else None
        created = self.services.create_kb(name, description or "", embedding, size, overlap)
        info(t("kb.created_msg", lang_, name=created.name))
        return {**self._changed(created.name, lang_, caller), self.new_name: "", self.new_desc: "",
                self.new_box: gr.Accordion(open=False)}

    @guarded
    def ask_delete(self, kb: str | None, lang_: str, request: gr.Request):
        kb = self._need(kb, caller_of(request), lang_, write=True)
        count = len(self.services.documents(kb))
        return {self.confirm_box: gr.update(visible=True),
                self.confirm_text: t("kb.delete_question", lang_, name=kb, n=count)}

    @guarded
    def delete(self, kb: str | None, lang_: str, request: gr.Request):
        caller = caller_of(request)
        self.services.delete_kb(self._need(kb, caller, lang_, write=True))
        info(t("kb.deleted_msg", lang_, name=kb))
        return self._changed(None, lang_, caller)

    def pick_doc(self, evt: gr.SelectData, lang_: str):
        row = evt.row_value or []
        name = str(row[0]) if row else None
        label = t("docs.selected", lang_, name=name) if name else t("docs.pick", lang_)
        return {self.selected_doc: name, self.doc_label: label,
                **{button: gr.update(interactive=bool(name)) for button in self.doc_buttons}}

    @guarded
    def show_chunks(self, kb: str | None, doc: str | None, lang_: str, request: gr.Request):
        kb = self._need(kb, caller_of(request), lang_)
        hits = self.services.chunks(kb, self._need_doc(doc, lang_))
        return gr.update(value=chunks_frame(hits, lang_), visible=True)

    @guarded
    def remove(self, kb: str | None, doc: str | None, lang_: str, request: gr.Request):
        caller = caller_of(request)
        self.services.remove_document(self._need(kb, caller, lang_, write=True), self._need_doc(doc, lang_))
        info(t("docs.deleted_msg", lang_, name=doc))
        return self._changed(kb, lang_, caller)

    @guarded
    def reingest(self, kb: str | None, doc: str | None, lang_: str, request: gr.Request):
        caller = caller_of(request)
        kb, doc = self._need(kb, caller, lang_, write=True), self._need_doc(doc, lang_)

        def work(progress, cancel):
            return [self.services.reingest(kb, doc, progress=progress, cancel=cancel)]

        yield from self._job(kb, work, [doc], lang_, caller)

    @guarded
    def add(self, kb: str | None, files: list | None, folder: list | None, lang_: str, picked: str | None,
            request: gr.Request):
        caller = caller_of(request)
        uploaded = [Path(p) for p in file_names(files) + file_names(folder)]
        if not uploaded:
            raise InvalidName(t("upload.nothing", lang_))
        named = zip(uploaded, upload_names(uploaded, json.loads(picked or "[]")))
        chosen = [(path, name) for path, name in named if not is_hidden_or_system(name)]
        if not chosen:
            raise InvalidName(t("upload.only_hidden", lang_, n=len(uploaded)))
        kb = self._need(self.policy.upload_target(self.services, caller, kb or ""), caller, lang_, write=True)
        paths, names = [path for path, _ in chosen], [name for _, name in chosen]

        def work(progress, cancel):
            return self.services.add_files(kb, paths, names=names, progress=progress, cancel=cancel)

        yield from self._job(kb, work, names, lang_, caller, clear_uploads=True, skipped=len(uploaded) - len(chosen))

    def _rebuild_job(self, kb: str | None, lang_: str, caller: Caller, embedding: str | None = None):
        """Every kept original again (the panel learns the files from the job's first progress)."""
        kb = self._need(kb, caller, lang_, write=True)

        def work(progress, cancel):
            return self.services.rebuild_kb(kb, progress=progress, cancel=cancel, embedding=embedding)

        yield from self._job(kb, work, [], lang_, caller)

    @guarded
    def rebuild(self, kb: str | None, lang_: str, request: gr.Request):
        yield from self._rebuild_job(kb, lang_, caller_of(request))

    @guarded
    def rebuild_for_chinese(self, kb: str | None, lang_: str, request: gr.Request):
        better = self.services.embedding_for("zh")
        yield from self._rebuild_job(kb, lang_, caller_of(request), better.id if better else None)

    @guarded
    def make_demo(self, lang_: str, request: gr.Request):
        """The demo knowledge base from assets/demo (chatchat.space.ensure_demo_kb), with the usual progress."""
        caller = caller_of(request)
        try:  # made first, so that its document panel (where progress shows) is on screen during the ingest
            self.services.create_kb(DEMO_KB, description=space.DEMO_DESCRIPTION)
        except AlreadyExists:
            pass
        yield self._view(DEMO_KB, lang_, caller)

        def work(progress, cancel):
            return space.ensure_demo_kb(self.services, progress=progress, cancel=cancel)

        yield from self._job(DEMO_KB, work, [p.name for p in space.demo_documents()], lang_, caller)

    def cancel(self, request: gr.Request) -> None:
        event = self._cancels.get(caller_of(request).session)
        if event is not None:
            event.set()

    @guarded
    def search(self, kb: str | None, text: str, k, threshold_, mode_, lang_: str, request: gr.Request):
        kb = self._need(kb, caller_of(request), lang_)
        hits = self.services.search(kb, text, top_k=int(k), score_threshold=float(threshold_), mode=mode_)
        return hits_html(hits, lang_)

    # --- wiring ---------------------------------------------------------------------------------
    def register_events(self) -> None:
        lang, kb = self.ctx.lang, self.kb_pick
        self.kb_pick.input(self.show, [kb, lang], self.view_outputs, concurrency_limit=None)
        create_inputs = [self.new_name, self.new_desc, self.new_embedding, self.new_size, self.new_overlap, lang]
        create_outputs = [*self.view_outputs, self.new_name, self.new_desc, self.events.kbs]
        for trigger in (self.create_btn.click, self.new_name.submit):
            trigger(self.create, create_inputs, create_outputs)
        self.new_embedding.input(self.hint, [self.new_embedding, lang], self.embedding_hint, concurrency_limit=None)
        self.delete_btn.click(self.ask_delete, [kb, lang], [self.confirm_box, self.confirm_text],
                              concurrency_limit=None)
        self.confirm_no.click(lambda: gr.update(visible=False), None, self.confirm_box, concurrency_limit=None)
        self.confirm_yes.click(self.delete, [kb, lang], [*self.view_outputs, self.events.kbs])
        self.docs.select(self.pick_doc, [lang], [self.selected_doc, self.doc_label, *self.doc_buttons],
                         concurrency_limit=None)
        self.chunks_btn.click(self.show_chunks, [kb, self.selected_doc, lang], self.chunks_view)
        self.remove_btn.click(self.remove, [kb, self.selected_doc, lang], [*self.view_outputs, self.events.kbs])
        self._register_jobs()
        search_inputs = [kb, self.query, self.top_k, self.threshold, self.mode, lang]
        for trigger in (self.search_btn.click, self.query.submit):
            trigger(self.search, search_inputs, self.results)
        # what this page shows of the others' doing: the models a new knowledge base can use
        for event in (self.events.models, self.events.settings):
            event.change(self.refresh_form, [self.new_embedding, lang], self.form_outputs, concurrency_limit=None)
        self.evaluation.register_events()

    def _register_jobs(self) -> None:
        lang, kb, outputs = self.ctx.lang, self.kb_pick, self.job_outputs
        self.add_btn.click(self.add, [kb, self.files_in, self.folder_in, lang, self.picked_names], outputs,
                           js=PICKED_NAMES_JS, **INGEST_LANE)
        self.rebuild_btn.click(self.rebuild, [kb, lang], outputs, **INGEST_LANE)
        self.notice_btn.click(self.rebuild_for_chinese, [kb, lang], outputs, **INGEST_LANE)
        self.reingest_btn.click(self.reingest, [kb, self.selected_doc, lang], outputs, **INGEST_LANE)
        self.demo_btn.click(self.make_demo, [lang], outputs, **INGEST_LANE)
        self.cancel_btn.click(self.cancel, None, None, concurrency_limit=None)

    def refreshes(self) -> list[Refresh]:
        own = Refresh(self.refresh, [self.kb_pick, self.ctx.lang, self.new_embedding],
                      [*self.list_outputs, *self.form_outputs])
        return [own, *self.evaluation.refreshes()]

    def end_session(self, session: str) -> None:
        self.evaluation.end_session(session)

