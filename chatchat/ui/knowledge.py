"""The Knowledge bases tab: create, delete and rebuild knowledge bases; upload files or folders with
per-file progress and a cancel; the document table with delete, re-ingest and chunk view; a test search."""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import gradio as gr

from chatchat import space
from chatchat.errors import AlreadyExists, InvalidName
from chatchat.ingest.job import FileResult, Progress
from chatchat.ingest.sniff import is_hidden_or_system
from chatchat.service import SEARCH_MODES, Services
from chatchat.ui import embedding_advice
from chatchat.ui.common import Context, Refresh, esc, file_names, guarded, info, session_of, warn
from chatchat.ui.kb_views import chunks_frame, docs_frame, hits_html, kb_card
from chatchat.ui.uploads import PICKED_NAMES_JS, PICKED_NAMES_LISTENER, upload_names
from chatchat.ui.i18n import t, tr

PROGRESS_INTERVAL = 0.25  # seconds between progress redraws
STAGE_SHARE = {"parse": 0.05, "split": 0.15, "embed": 0.2, "store": 0.95, "done": 1.0}

_DONE = object()  # the worker's last message


# One cancel switch per browser session's running ingest (a session runs one at a time: the buttons say so).
_cancels: dict[str, threading.Event] = {}


def kb_choices(services: Services, session: str, lang: str) -> list[tuple[str, str]]:
    """The knowledge bases this browser session may use: every one a person made (file chats' own are not
    listed); on a Hugging Face Space only the shared demo and the visitor's own uploads."""
    if not space.is_space():
        return [(kb.name, kb.name) for kb in services.list_kbs()]
    own = space.session_kb_name(session)
    return [(t("kb.mine", lang) if kb.name == own else kb.name, kb.name) for kb in space.visible_kbs(services, session)]


def check_access(kb: str, session: str, write: bool = False) -> None:
    """On a Space: a visitor reaches only the demo and their own knowledge base, and changes only their own."""
    if space.is_space():
        space.check_visible(kb, session)
        if write:
            space.check_writable(kb)


def end_session(services: Services, session: str) -> None:
    """A browser session closed: on a Space its own knowledge base goes with it."""
    if space.is_space() and session:
        space.drop_session_kb(services, space.session_kb_name(session))


# --- progress of an ingest ----------------------------------------------------------------------
class IngestView:
    """What the progress panel shows: one bar for the batch, one per file, then each file's outcome."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        self.stage = ["waiting"] * len(names)
        self.share = [0.0] * len(names)
        self.detail = [""] * len(names)
        self.results: list[FileResult] | None = None

    def update(self, p: Progress) -> None:
        count = max(p.file_index + 1, p.file_count)
        if count > len(self.names):  # the job has more files than announced (a rebuild announces none)
            self.names += [""] * (count - len(self.names))
            self.stage += ["waiting"] * (count - len(self.stage))
            self.share += [0.0] * (count - len(self.share))
            self.detail += [""] * (count - len(self.detail))
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

    def render(self, lang: str) -> str:
        count = len(self.names)
        finished = sum(1 for s in self.stage if s not in ("waiting", "parse", "split", "embed", "store"))
        batch = sum(self.share) / count if count else 1.0
        rows = []
        for i, name in enumerate(self.names):
            stage = self.stage[i]
            result = self.results[i] if self.results and i < len(self.results) else None
            if result is not None:
                note = esc(result.error) if result.error else esc(t("ingest.chunks", lang, n=result.chunks))
            else:
                note = esc(self.detail[i])
            rows.append(
                f'<li class="cc-file cc-{esc(stage)}"><span class="cc-name" title="{esc(name)}">{esc(name)}</span>'
                f'<span class="cc-stage">{esc(t("stage." + stage, lang))}</span>'
                f'<span class="cc-bar"><span style="width:{self.share[i] * 100:.0f}%"></span></span>'
                f'<span class="cc-note">{note}</span></li>'
            )
        head = esc(t("ingest.batch", lang, done=finished, count=count))
        return (
            f'<div class="cc-progress"><div class="cc-batch"><span>{head}</span>'
            f'<span class="cc-bar cc-bar-batch"><span style="width:{batch * 100:.0f}%"></span></span></div>'
            f'<ul class="cc-files">{"".join(rows)}</ul></div>'
        )


def run_ingest(
    start: Callable[[Callable[[Progress], None], threading.Event], list[FileResult]],
    names: list[str],
    lang: str,
    session: str,
) -> Iterator[str]:
    """Run an ingest in a worker thread and yield the progress panel as it moves; returns the results.
    The worker keeps going if the browser goes away: what a person asked to add gets added."""
    cancel = threading.Event()
    _cancels[session] = cancel
    events: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["results"] = start(events.put, cancel)
        except Exception as exc:  # handed to the UI thread, which shows it
            outcome["error"] = exc
        finally:
            events.put(_DONE)

    threading.Thread(target=work, name="chatchat-ui-ingest", daemon=True).start()
    view = IngestView(names)
    yield view.render(lang)
    drawn, dirty = time.monotonic(), False
    try:
        while True:
            try:
                item = events.get(timeout=PROGRESS_INTERVAL)
            except queue.Empty:
                pass  # a long stage (parsing a big PDF) reports nothing for a while: draw what came before it
            else:
                if item is _DONE:
                    break
                view.update(item)
                dirty = True
            if dirty and time.monotonic() - drawn >= PROGRESS_INTERVAL:
                yield view.render(lang)
                drawn, dirty = time.monotonic(), False
    finally:
        _cancels.pop(session, None)
    if "error" in outcome:
        raise outcome["error"]
    view.finish(outcome["results"])
    yield view.render(lang)
    return outcome["results"]


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


# --- the tab ------------------------------------------------------------------------------------
def build(ctx: Context) -> list[Refresh]:
    services: Services = ctx.services
    lang = ctx.lang
    settings = services.settings
    selected_doc = gr.State(None)

    with gr.Row(equal_height=False, elem_classes=["cc-kb"]):
        with gr.Column(scale=1, min_width=280, elem_classes=["cc-side"]):
            with gr.Column(visible=False) as kb_side:
                kb_pick = gr.Dropdown(label=tr("kb.select"), choices=[], value=None, interactive=True, elem_id="kb-select")
                card = gr.Markdown(elem_classes=["cc-card"])
                with gr.Row():
                    rebuild_btn = gr.Button(tr("kb.rebuild"), size="sm", min_width=80, elem_id="kb-rebuild")
                    delete_btn = gr.Button(tr("kb.delete"), size="sm", variant="stop", min_width=80, elem_id="kb-delete")
                with gr.Group(visible=False, elem_classes=["cc-confirm"]) as confirm_box:
                    confirm_text = gr.Markdown()
                    with gr.Row():
                        confirm_yes = gr.Button(tr("kb.delete_confirm"), variant="stop", size="sm", elem_id="kb-delete-yes")
                        confirm_no = gr.Button(tr("common.cancel"), size="sm")
            # on a Space visitors do not make knowledge bases: their uploads go to one of their own
            with gr.Accordion(tr("kb.new"), open=False, elem_id="kb-new", visible=not space.is_space()) as new_box:
                new_name = gr.Textbox(label=tr("kb.name"), placeholder=tr("kb.name_hint"), elem_id="kb-new-name")
                new_desc = gr.Textbox(label=tr("kb.description"), lines=2)
                new_embedding = gr.Dropdown(
                    label=tr("kb.embedding"),
                    choices=[(e.name, e.id) for e in services.catalog.embeddings.values()],
                    value=settings.default_embedding,
                    elem_id="kb-new-embedding",
                )
                embedding_hint = gr.Markdown(elem_id="kb-embedding-hint")
                with gr.Row():
                    new_size = gr.Number(label=tr("kb.chunk_size"), value=settings.chunk_size, precision=0, minimum=50, maximum=8000)
                    new_overlap = gr.Number(label=tr("kb.chunk_overlap"), value=settings.chunk_overlap, precision=0, minimum=0)
                create_btn = gr.Button(tr("kb.create"), variant="primary", elem_id="kb-create")

        with gr.Column(scale=3, elem_classes=["cc-main"]):
            with gr.Column(visible=False, elem_classes=["cc-hint"]) as empty_box:
                gr.Markdown(tr("kb.empty"))
                demo_btn = gr.Button(tr("kb.demo"), variant="primary", visible=bool(space.demo_documents()), elem_id="kb-demo")
            with gr.Column(visible=False) as kb_box:
                with gr.Tabs():
                    with gr.Tab(tr("kb.documents"), id="kb-docs"):
                        with gr.Row(equal_height=True):
                            files_in = gr.File(label=tr("upload.files"), file_count="multiple", height=140, elem_id="kb-upload-files")
                            folder_in = gr.File(label=tr("upload.folder"), file_count="directory", height=140, elem_id="kb-upload-folder")
                        picked_names = gr.Textbox(visible=False)
                        with gr.Row():
                            add_btn = gr.Button(tr("upload.add"), variant="primary", elem_id="kb-add")
                            cancel_btn = gr.Button(tr("upload.cancel"), variant="stop", visible=False, elem_id="kb-cancel")
                        progress = gr.HTML(elem_id="kb-progress", js_on_load=PICKED_NAMES_LISTENER)
                        with gr.Group(visible=False) as notice_box:
                            notice_text = gr.Markdown(elem_id="kb-chinese-notice")
                            notice_btn = gr.Button(variant="primary", size="sm", visible=False, elem_id="kb-chinese-rebuild")
                        docs = gr.Dataframe(
                            interactive=False, wrap=True, elem_id="kb-docs-table", max_height=420,
                            column_widths=["34%", "8%", "8%", "10%", "25%", "15%"],
                        )
                        with gr.Row(elem_classes=["cc-doc-actions"]):
                            doc_label = gr.Markdown(tr("docs.pick"), elem_id="kb-doc-selected")
                            chunks_btn = gr.Button(tr("docs.view_chunks"), size="sm", interactive=False, elem_id="kb-doc-chunks")
                            reingest_btn = gr.Button(tr("docs.reingest"), size="sm", interactive=False, elem_id="kb-doc-reingest")
                            remove_btn = gr.Button(tr("docs.delete"), size="sm", variant="stop", interactive=False, elem_id="kb-doc-delete")
                        chunks_view = gr.Dataframe(visible=False, interactive=False, wrap=True, max_height=420,
                                                   column_widths=["8%", "8%", "20%", "64%"], elem_id="kb-chunks")
                    with gr.Tab(tr("kb.test_search"), id="kb-search"):
                        with gr.Row(equal_height=True):
                            query = gr.Textbox(show_label=False, placeholder=tr("search.placeholder"), scale=4, elem_id="kb-search-query")
                            search_btn = gr.Button(tr("search.go"), variant="primary", scale=1, elem_id="kb-search-go")
                        with gr.Row():
                            top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label=tr("param.top_k"))
                            threshold = gr.Slider(-1.0, 1.0, value=settings.score_threshold, step=0.05, label=tr("param.threshold"))
                            mode = gr.Radio([(tr(f"search.mode.{m}"), m) for m in SEARCH_MODES], value=settings.search_mode, label=tr("search.mode"))
                        results = gr.HTML(elem_id="kb-search-results")

    doc_buttons = [chunks_btn, reingest_btn, remove_btn]

    # --- handlers (dicts name just the components they change) --------------------------------
    def view_of(kb: str | None, lang_: str, session: str, reset: bool = True) -> dict:
        """Everything that depends on the chosen knowledge base; with `reset`, also the document picked in
        it (a background refresh leaves a pick alone: it may land just after the person clicked a row)."""
        choices = kb_choices(services, session, lang_)
        names = [name for _, name in choices]
        kb = kb if kb in names else (names[0] if names else None)
        writable = kb is not None and kb not in space.protected_kbs()
        view = {
            kb_pick: gr.update(choices=choices, value=kb),
            card: kb_card(services, kb, lang_),
            docs: docs_frame(services, kb, lang_),
            kb_side: gr.update(visible=bool(names)),
            new_box: gr.Accordion(open=not names),
            rebuild_btn: gr.update(interactive=writable),
            delete_btn: gr.update(interactive=writable),
            empty_box: gr.update(visible=not names),
            kb_box: gr.update(visible=bool(names)),
        }
        if reset:
            view.update({
                selected_doc: None,
                doc_label: t("docs.pick", lang_),
                **{button: gr.update(interactive=False) for button in doc_buttons},
                chunks_view: gr.update(visible=False),
                confirm_box: gr.update(visible=False),
                notice_box: gr.update(visible=False),
            })
        return view

    def notice_of(kb: str, results: list[FileResult], lang_: str) -> dict:
        """Chinese documents just landed in a knowledge base whose model understands English only: say so,
        and offer the rebuild with a model that understands Chinese."""
        notice = embedding_advice.chinese_notice(services, kb, results, lang_)
        if notice is None:
            return {notice_box: gr.update(visible=False)}
        better = notice.rebuild_with
        return {notice_box: gr.update(visible=True), notice_text: notice.text,
                notice_btn: gr.update(visible=better is not None,
                                      value=t("kb.rebuild_with", lang_, better=better.name) if better else "")}

    refresh_outputs = [kb_pick, card, docs, kb_side, new_box, rebuild_btn, delete_btn, empty_box, kb_box]
    view_outputs = [*refresh_outputs, selected_doc, doc_label, *doc_buttons, chunks_view, confirm_box, notice_box]

    def busy(running: bool) -> dict:
        """While an ingest runs in this session: the start buttons off, Cancel on."""
        return {
            add_btn: gr.update(interactive=not running),
            cancel_btn: gr.update(visible=running),
            rebuild_btn: gr.update(interactive=not running),
            demo_btn: gr.update(interactive=not running),
        }

    job_outputs = [*view_outputs, files_in, folder_in, add_btn, cancel_btn, demo_btn, progress, notice_text, notice_btn]

    def job(kb: str, start, names: list[str], lang_: str, session: str, clear_uploads: bool = False,
            skipped: int = 0):
        """Run an ingest into `kb`, streaming its progress panel, then show the outcome. On an error the
        buttons come back before the message shows, so the tab stays usable."""
        yield busy(True)
        try:
            stream = run_ingest(start, names, lang_, session)
            while True:
                try:
                    panel = next(stream)
                except StopIteration as done:
                    results = done.value
                    break
                yield {progress: panel}
        except Exception:
            yield {**busy(False), **view_of(kb, lang_, session)}
            raise
        summarize(results, lang_, skipped)
        final = {**busy(False), **view_of(kb, lang_, session), **notice_of(kb, results, lang_)}
        if clear_uploads:
            final.update({files_in: None, folder_in: None})
        yield final

    def need(kb: str | None, session: str, lang_: str, write: bool = False) -> str:
        if not kb:
            raise InvalidName(t("kb.pick_first", lang_))
        check_access(kb, session, write)
        return kb

    def need_doc(doc: str | None, lang_: str) -> str:
        if not doc:
            raise InvalidName(t("docs.pick", lang_))
        return doc

    @guarded
    def show(kb: str | None, lang_: str, request: gr.Request):
        return view_of(kb, lang_, session_of(request))

    @guarded
    def refresh(kb: str | None, lang_: str, embedding: str | None, request: gr.Request):
        """Also the create form's model: in the Chinese UI, one that understands Chinese when the default
        does not (a model the person picked stays)."""
        if embedding in (None, settings.default_embedding, services.embedders.default_for_new_kb()[0]):
            embedding = embedding_advice.new_kb_choice(services, lang_)
        return {**view_of(kb, lang_, session_of(request), reset=False), new_embedding: embedding,
                embedding_hint: embedding_advice.create_hint(services, embedding, lang_)}

    def hint(embedding: str | None, lang_: str) -> str:
        return embedding_advice.create_hint(services, embedding, lang_)

    @guarded
    def create(name: str, description: str, embedding: str, size, overlap, lang_: str, request: gr.Request):
        if space.is_space():
            raise InvalidName(t("kb.space_no_create", lang_))
        size = int(size) if size is not None else None
        overlap = int(overlap) if overlap is not None else None
        created = services.create_kb(name, description or "", embedding, size, overlap)
        info(t("kb.created_msg", lang_, name=created.name))
        return {**view_of(created.name, lang_, session_of(request)), new_name: "", new_desc: "",
                new_box: gr.Accordion(open=False)}

    @guarded
    def ask_delete(kb: str | None, lang_: str, request: gr.Request):
        kb = need(kb, session_of(request), lang_, write=True)
        count = len(services.documents(kb))
        return {confirm_box: gr.update(visible=True), confirm_text: t("kb.delete_question", lang_, name=kb, n=count)}

    @guarded
    def delete(kb: str | None, lang_: str, request: gr.Request):
        session = session_of(request)
        services.delete_kb(need(kb, session, lang_, write=True))
        info(t("kb.deleted_msg", lang_, name=kb))
        return view_of(None, lang_, session)

    def pick_doc(evt: gr.SelectData, lang_: str):
        row = evt.row_value or []
        name = str(row[0]) if row else None
        label = t("docs.selected", lang_, name=name) if name else t("docs.pick", lang_)
        return {selected_doc: name, doc_label: label, **{b: gr.update(interactive=bool(name)) for b in doc_buttons}}

    @guarded
    def show_chunks(kb: str | None, doc: str | None, lang_: str, request: gr.Request):
        kb = need(kb, session_of(request), lang_)
        return gr.update(value=chunks_frame(services.chunks(kb, need_doc(doc, lang_)), lang_), visible=True)

    @guarded
    def remove(kb: str | None, doc: str | None, lang_: str, request: gr.Request):
        session = session_of(request)
        services.remove_document(need(kb, session, lang_, write=True), need_doc(doc, lang_))
        info(t("docs.deleted_msg", lang_, name=doc))
        return view_of(kb, lang_, session)

    @guarded
    def reingest(kb: str | None, doc: str | None, lang_: str, request: gr.Request):
        session = session_of(request)
        kb, doc = need(kb, session, lang_, write=True), need_doc(doc, lang_)

        def start(progress, cancel):
            return [services.reingest(kb, doc, progress=progress, cancel=cancel)]

        yield from job(kb, start, [doc], lang_, session)

    @guarded
    def add(kb: str | None, files: list | None, folder: list | None, lang_: str, picked: str | None,
            request: gr.Request):
        session = session_of(request)
        uploaded = [Path(p) for p in file_names(files) + file_names(folder)]
        if not uploaded:
            raise InvalidName(t("upload.nothing", lang_))
        chosen = [(path, name) for path, name in zip(uploaded, upload_names(uploaded, json.loads(picked or "[]")))
                  if not is_hidden_or_system(name)]
        if not chosen:
            raise InvalidName(t("upload.only_hidden", lang_, n=len(uploaded)))
        if space.is_space():  # a visitor's uploads go to their own knowledge base
            kb = space.ensure_session_kb(services, session)
        kb = need(kb, session, lang_, write=True)
        paths, names = [path for path, _ in chosen], [name for _, name in chosen]

        def start(progress, cancel):
            return services.add_files(kb, paths, names=names, progress=progress, cancel=cancel)

        yield from job(kb, start, names, lang_, session, clear_uploads=True, skipped=len(uploaded) - len(chosen))

    def rebuild_job(kb: str | None, lang_: str, session: str, embedding: str | None = None):
        """Every kept original again (the panel learns the files from the job's first progress)."""
        kb = need(kb, session, lang_, write=True)

        def start(progress, cancel):
            return services.rebuild_kb(kb, progress=progress, cancel=cancel, embedding=embedding)

        yield from job(kb, start, [], lang_, session)

    @guarded
    def rebuild(kb: str | None, lang_: str, request: gr.Request):
        yield from rebuild_job(kb, lang_, session_of(request))

    @guarded
    def rebuild_for_chinese(kb: str | None, lang_: str, request: gr.Request):
        better = services.embedding_for("zh")
        yield from rebuild_job(kb, lang_, session_of(request), better.id if better else None)

    @guarded
    def make_demo(lang_: str, request: gr.Request):
        """The demo knowledge base from assets/demo (space.ensure_demo_kb), with the usual progress."""
        session = session_of(request)
        try:  # made first, so that its document panel (where progress shows) is on screen during the ingest
            services.create_kb(space.DEMO_KB, description=space.DEMO_DESCRIPTION)
        except AlreadyExists:
            pass
        yield view_of(space.DEMO_KB, lang_, session)

        def start(progress, cancel):
            return space.ensure_demo_kb(services, progress=progress, cancel=cancel)

        yield from job(space.DEMO_KB, start, [p.name for p in space.demo_documents()], lang_, session)

    def cancel(request: gr.Request):
        event = _cancels.get(session_of(request))
        if event is not None:
            event.set()

    @guarded
    def search(kb: str | None, text: str, k, threshold_, mode_, lang_: str, request: gr.Request):
        kb = need(kb, session_of(request), lang_)
        return hits_html(services.search(kb, text, top_k=int(k), score_threshold=float(threshold_), mode=mode_), lang_)

    # --- wiring ---------------------------------------------------------------------------------
    create_inputs = [new_name, new_desc, new_embedding, new_size, new_overlap, lang]
    kb_pick.input(show, [kb_pick, lang], view_outputs, concurrency_limit=None)
    create_btn.click(create, create_inputs, [*view_outputs, new_name, new_desc, new_box])
    new_name.submit(create, create_inputs, [*view_outputs, new_name, new_desc, new_box])
    delete_btn.click(ask_delete, [kb_pick, lang], [confirm_box, confirm_text], concurrency_limit=None)
    confirm_no.click(lambda: gr.update(visible=False), None, confirm_box, concurrency_limit=None)
    confirm_yes.click(delete, [kb_pick, lang], view_outputs)
    docs.select(pick_doc, [lang], [selected_doc, doc_label, *doc_buttons], concurrency_limit=None)
    chunks_btn.click(show_chunks, [kb_pick, selected_doc, lang], chunks_view)
    remove_btn.click(remove, [kb_pick, selected_doc, lang], view_outputs)
    # ingests share their own queue lane, so a long one never holds up chat or search
    lane = {"concurrency_id": "ingest", "concurrency_limit": 2}
    add_btn.click(add, [kb_pick, files_in, folder_in, lang, picked_names], job_outputs, js=PICKED_NAMES_JS, **lane)
    rebuild_btn.click(rebuild, [kb_pick, lang], job_outputs, **lane)
    notice_btn.click(rebuild_for_chinese, [kb_pick, lang], job_outputs, **lane)
    new_embedding.input(hint, [new_embedding, lang], embedding_hint, concurrency_limit=None)
    reingest_btn.click(reingest, [kb_pick, selected_doc, lang], job_outputs, **lane)
    demo_btn.click(make_demo, [lang], job_outputs, **lane)
    cancel_btn.click(cancel, None, None, concurrency_limit=None)
    search_btn.click(search, [kb_pick, query, top_k, threshold, mode, lang], results)
    query.submit(search, [kb_pick, query, top_k, threshold, mode, lang], results)

    return [Refresh(refresh, [kb_pick, lang, new_embedding], [*refresh_outputs, new_embedding, embedding_hint])]
