"""The Chat tab: conversations (new, rename, delete, search, export), five modes (LLM, knowledge base,
file chat, search engine and agent: chat_modes), streamed answers with a Stop button and their sources, retry and copy; citation chips that
open the source viewer, and feedback on each answer.

The answers come from `services.reply` (drawn by chat_turn.Turn) and the conversations from
`services.conversations`; who sees which conversation and knowledge base is `services.policy`'s to say.
This page only shows them. It hears of other tabs' changes through `events.kbs` (the knowledge-base
picker) and `events.models` (the model picker), and fires `events.conversations` when it changes one."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from chatchat.answer.conversations import Conversation
from chatchat.errors import ChatchatError, InvalidName
from chatchat.jobs import Job
from chatchat.retrieval.context import kb_names
from chatchat.ui.chat_feedback import FeedbackBar
from chatchat.ui.chat_modes import KB_MODES, ChatModes
from chatchat.ui.chat_turn import Turn, Turns
from chatchat.ui.chat_views import attached_html, demo_model, export_file, model_choices, render, thumbs
from chatchat.policy import Caller
from chatchat.ui.common import Context, Refresh, caller_of, file_names, guarded, info, kb_choices, warn
from chatchat.ui.i18n import t, tr
from chatchat.ui.page import Events, Page, bump
from chatchat.ui.progress import follow, summarize
from chatchat.ui.source_viewer import SourceViewer

MAX_TOKENS_SLIDER = 8192


class ChatPage(Page):
    def __init__(self, ctx: Context, events: Events):
        super().__init__(ctx, events)
        self.store = self.services.conversations
        self.turns = Turns()  # each session's running answer and its Stop switch
        self.modes = ChatModes(self.services)  # search-engine and agent chat

    # --- components -----------------------------------------------------------------------------
    def build(self) -> None:
        settings = self.services.settings
        self.conv_id = gr.State(None)
        with gr.Row(equal_height=False, elem_classes=["cc-chat"]):
            with gr.Column(scale=1, min_width=250, elem_classes=["cc-side"]):
                self._build_list()
            with gr.Column(scale=4, elem_classes=["cc-main"]):
                self._build_bar()
                self.chatbot = gr.Chatbot(
                    elem_id="chat-box", height="62vh", min_height=360, buttons=["copy", "copy_all"],
                    feedback_options=("Like", "Dislike"), layout="bubble", group_consecutive_messages=True,
                    show_label=False, placeholder=tr("chat.welcome"),  # translated in the browser from the first paint
                )
                self.modes.build_panel()
                self.feedback = FeedbackBar(self.services, self.chatbot, self.conv_id, self.ctx.lang)
                with gr.Row(equal_height=True, elem_classes=["cc-input"]):
                    self.question = gr.Textbox(show_label=False, placeholder=tr("chat.placeholder"), lines=1,
                                               max_lines=8, scale=8, elem_id="chat-input")
                    self.send_btn = gr.Button(tr("chat.send"), variant="primary", scale=1, min_width=90,
                                              elem_id="chat-send")
                    self.stop_btn = gr.Button(tr("chat.stop"), variant="stop", scale=1, min_width=90, visible=False,
                                              elem_id="chat-stop")
                with gr.Accordion(tr("chat.params"), open=False, elem_id="chat-params"):
                    with gr.Row():
                        self.temperature = gr.Slider(0.0, 2.0, value=settings.temperature, step=0.05,
                                                     label=tr("param.temperature"))
                        self.top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label=tr("param.top_k"))
                        self.threshold = gr.Slider(-1.0, 1.0, value=settings.score_threshold, step=0.05,
                                                   label=tr("param.threshold"))
                        self.max_tokens = gr.Slider(64, MAX_TOKENS_SLIDER, value=self._tokens_default(), step=64,
                                                    label=tr("param.max_tokens"), info=tr("param.max_tokens_info"))
            self.viewer = SourceViewer(self.services, self.conv_id, self.ctx.lang)

    def _build_list(self) -> None:
        self.new_btn = gr.Button(tr("chat.new"), variant="primary", elem_id="chat-new")
        self.search = gr.Textbox(show_label=False, placeholder=tr("chat.search"), elem_id="chat-search")
        self.convs = gr.Radio(choices=[], value=None, show_label=False, elem_classes=["cc-convs"], elem_id="chat-list")
        with gr.Row(elem_classes=["cc-conv-actions"]):
            self.rename_btn = gr.Button(tr("chat.rename"), size="sm", elem_id="chat-rename")
            self.delete_btn = gr.Button(tr("chat.delete"), size="sm", elem_id="chat-delete")
            self.export_btn = gr.DownloadButton(tr("chat.export"), size="sm", value=None, interactive=False,
                                                elem_id="chat-export")
        with gr.Group(visible=False) as self.rename_box:
            self.title = gr.Textbox(label=tr("chat.title"), elem_id="chat-title")
            self.rename_ok = gr.Button(tr("common.save"), size="sm", elem_id="chat-rename-save")
        with gr.Group(visible=False) as self.delete_box:
            gr.Markdown(tr("chat.delete_question"))
            with gr.Row():
                self.delete_yes = gr.Button(tr("chat.delete_confirm"), size="sm", variant="stop",
                                            elem_id="chat-delete-yes")
                self.delete_no = gr.Button(tr("common.cancel"), size="sm")

    def _build_bar(self) -> None:
        with gr.Row(elem_classes=["cc-hint"], visible=False, equal_height=True) as self.hint_box:
            self.hint = gr.Markdown(elem_id="chat-hint")
            self.hint_models = gr.Button(tr("chat.go_models"), size="sm", scale=0, min_width=160, visible=False,
                                         elem_id="chat-hint-models")
            self.hint_kb = gr.Button(tr("chat.go_kb"), size="sm", scale=0, min_width=160, visible=False)
            self.hint_settings = gr.Button(tr("chat.go_settings"), size="sm", scale=0, min_width=160, visible=False,
                                           elem_id="chat-hint-settings")
        with gr.Row(equal_height=True, elem_classes=["cc-chat-bar"]):
            self.mode = gr.Radio([(tr(f"chat.mode.{m}"), m) for m in self.modes.modes()], value="llm", label=tr("chat.mode"),
                                 elem_id="chat-mode", scale=2)
            self.kb = gr.Dropdown(label=tr("kb.select"), choices=[], value=None, visible=False, elem_id="chat-kb",
                                  scale=2, multiselect=True)
            self.model = gr.Dropdown(label=tr("chat.model"), choices=[], value=None, elem_id="chat-model", scale=2)
            self.modes.build_bar()
        with gr.Group(visible=False) as self.file_box:
            self.files = gr.File(label=tr("chat.files"), file_count="multiple", height=110, elem_id="chat-files")
            self.attached = gr.HTML(elem_id="chat-attached")

    # --- views ------------------------------------------------------------------------------------
    def _tokens_default(self) -> int:
        return min(self.services.settings.max_tokens, MAX_TOKENS_SLIDER)

    def conv_list(self, query: str | None, current: str | None, caller: Caller) -> dict:
        found = self.services.policy.visible_conversations(caller, self.store.search(query or ""))
        choices = [(c.title or c.created[:16].replace("T", " "), c.id) for c in found]
        return gr.update(choices=choices, value=current if current in {c.id for c in found} else None)

    def hints(self, mode_: str, model_: str | None, caller: Caller, lang_: str) -> dict:
        """What a person needs before they can chat: a model, and in knowledge-base mode a knowledge base;
        and while the demo model answers, what it is and how to get a real one."""
        no_model = not model_choices(self.services)
        no_kb = mode_ == "kb" and not kb_choices(self.services, caller, lang_)
        no_web = self.modes.no_provider(mode_)
        demo = None if no_model or no_kb or no_web else demo_model(self.services, model_)
        if no_model:
            text = t("chat.no_model_lite" if self.services.settings.lite else "chat.no_model", lang_)
        elif no_kb:
            text = t("chat.no_kb", lang_)
        elif no_web:
            text = t("web.no_provider", lang_)
        elif demo:
            text = t("chat.demo_model", lang_, name=demo)
        else:
            text = ""
        return {
            self.hint_box: gr.update(visible=bool(text)),
            self.hint: text,
            self.hint_models: gr.update(visible=no_model or bool(demo)),
            self.hint_kb: gr.update(visible=no_kb and not no_model),
            self.hint_settings: gr.update(visible=(bool(demo) or no_web) and self.services.policy.may_change_settings(),
                                          value=t("web.go_settings" if no_web else "chat.go_settings", lang_)),
        }

    def pickers(self, conversation: Conversation | None, mode_: str, kb_: str | None, model_: str | None,
                caller: Caller, lang_: str) -> dict:
        kbs = kb_choices(self.services, caller, lang_)
        names = [name for _, name in kbs]
        models = model_choices(self.services)
        ids = [value for _, value in models]
        if conversation is not None:
            kb_, model_ = conversation.kb or kb_, conversation.model or model_
        kb_ = [name for name in kb_names(kb_) if name in names]  # several may be picked: none is preset
        default = self.services.settings.default_llm
        model_ = model_ if model_ in ids else (default if default in ids else (ids[0] if ids else None))
        return {
            self.mode: mode_,
            self.kb: gr.update(choices=kbs, value=kb_, visible=mode_ in KB_MODES),
            self.model: gr.update(choices=models, value=model_),
            self.file_box: gr.update(visible=mode_ == "file"),
            **self.modes.setup_view(mode_),
        }

    def own(self, cid: str, caller: Caller) -> Conversation:
        """A conversation this caller may open (on a Space: only its own)."""
        self.services.policy.check_conversation(caller, cid)
        return self.store.get(cid)

    def find_own(self, cid: str | None, caller: Caller) -> Conversation | None:
        """Conversation `cid` if it is there and this caller may open it (None: deleted in another window)."""
        try:
            return self.own(cid, caller) if cid else None
        except ChatchatError:
            return None

    def export_update(self, conversation: Conversation | None) -> dict:
        answered = bool(conversation and conversation.messages)
        return gr.update(value=export_file(self.services, conversation) if answered else None, interactive=answered)

    def open_view(self, cid: str | None, query: str | None, mode_: str, kb_: str | None, model_: str | None,
                  lang_: str, caller: Caller) -> dict:
        """Everything shown for conversation `cid` (None: a new, empty chat)."""
        conversation = self.find_own(cid, caller)
        cid = conversation.id if conversation else None
        view = {
            self.conv_id: cid,
            self.convs: self.conv_list(query, cid, caller),
            self.chatbot: gr.update(value=render(conversation, lang_), feedback_value=thumbs(conversation),
                                    placeholder=tr("chat.welcome")),
            self.export_btn: self.export_update(conversation),
            self.attached: attached_html(self.services, conversation, lang_),
            self.title: conversation.title if conversation else "",
            self.rename_box: gr.update(visible=False),
            self.delete_box: gr.update(visible=False),
            **self.feedback.closed(),
            **self.viewer.closed(),
        }
        if conversation is not None:
            mode_ = conversation.mode
        view.update(self.pickers(conversation, mode_, kb_, model_, caller, lang_))
        view.update(self.hints(mode_, view[self.model]["value"], caller, lang_))
        return view

    @property
    def view_outputs(self) -> list:
        return [self.conv_id, self.convs, self.chatbot, self.export_btn, self.attached, self.title, self.rename_box,
                self.delete_box, self.mode, self.kb, self.model, self.modes.use_web, self.file_box, self.hint_box, self.hint,
                self.hint_models, self.hint_kb, self.hint_settings, *self.feedback.outputs, *self.viewer.outputs]

    # --- handlers ---------------------------------------------------------------------------------
    @guarded
    def show(self, cid, query, mode_, kb_, model_, lang_, request: gr.Request):
        return self.open_view(cid, query, mode_, kb_, model_, lang_, caller_of(request))

    @guarded
    def new_chat(self, query, mode_, kb_, model_, lang_, request: gr.Request):
        if mode_ == "file":
            mode_ = "llm"  # a file chat starts when files are dropped
        return {**self.open_view(None, query, mode_, kb_, model_, lang_, caller_of(request)), self.question: ""}

    @guarded
    def change_setup(self, cid, mode_, kb_, model_, lang_, request: gr.Request):
        """Mode, knowledge base or model changed: remember it in the conversation (if there is one yet)."""
        caller = caller_of(request)
        if cid:
            conversation = self.own(cid, caller)
            conversation.mode = mode_
            conversation.kb = ",".join(kb_names(kb_)) or None if mode_ in KB_MODES else conversation.kb
            conversation.model = model_
            self.store.save(conversation)
        return {self.kb: gr.update(visible=mode_ in KB_MODES), self.file_box: gr.update(visible=mode_ == "file"),
                **self.modes.setup_view(mode_), **self.hints(mode_, model_, caller, lang_)}

    @guarded
    def refresh_pickers(self, cid, mode_, kb_, model_, lang_, request: gr.Request):
        """Another tab changed the knowledge bases or the models: offer what is there now."""
        caller = caller_of(request)
        view = self.pickers(self.find_own(cid, caller), mode_, kb_, model_, caller, lang_)
        return {**view, **self.hints(mode_, view[self.model]["value"], caller, lang_)}

    def create(self, caller: Caller, **fields) -> str:
        conversation = self.store.create(**fields)
        self.services.policy.started_conversation(caller, conversation.id)
        return conversation.id

    def ensure_conversation(self, cid: str | None, mode_: str, kb_: str | None, model_: str | None, lang_: str,
                            caller: Caller) -> str:
        if cid:
            return cid
        if mode_ == "kb" and not kb_:
            raise InvalidName(t("kb.pick_first", lang_))
        if mode_ == "file":
            raise InvalidName(t("chat.files_first", lang_))
        return self.create(caller, mode=mode_, kb=",".join(kb_names(kb_)) or None if mode_ in KB_MODES else None,
                           model=model_)

    def stream(self, conversation: Conversation, text: str, model_: str | None, options: dict, lang_: str,
               caller: Caller):
        """Ask, and yield the chatbot as the answer streams in (and the approval panel of an agent's tool
        that asks first). The question and the answer are saved by `reply`; a question that could not be
        asked was not saved, so it is given back to edit."""
        cid, session = conversation.id, caller.session
        stop = self.turns.begin(session)
        options = self.modes.with_approval(conversation.mode, options, session, stop)
        turn = Turn(self.services, cid, text, model_, options, lang_, stop, render(conversation, lang_),
                    asking=lambda: self.modes.approvals.pending(session))
        yield {self.chatbot: turn.shown, self.question: "", self.send_btn: gr.update(visible=False),
               self.stop_btn: gr.update(visible=True), self.conv_id: cid}
        try:
            for frame in turn.frames():
                yield {self.chatbot: frame, **self.modes.panel_view(turn.pending, lang_)}
        finally:
            self.turns.end(caller.session, stop)
        if turn.failed is not None:
            warn(turn.failed)
        yield {self.chatbot: turn.shown, **({} if turn.asked or turn.failed is None else {self.question: text}),
               **self.modes.panel_view(None, lang_)}

    def idle(self) -> dict:
        """Send is back (and Stop gone) with the answer's last redraw, its stored view."""
        return {self.send_btn: gr.update(visible=True), self.stop_btn: gr.update(visible=False)}

    def check_kb(self, conversation: Conversation, caller: Caller) -> None:
        if conversation.mode in KB_MODES:
            for name in kb_names(conversation.kb):
                self.services.policy.check_visible(name, caller)

    @guarded
    def send(self, text, cid, query, mode_, kb_, model_, use_web_, temperature_, top_k_, threshold_, max_tokens_,
             lang_, request: gr.Request):
        caller = caller_of(request)
        if self.turns.busy(caller.session):
            raise InvalidName(t("chat.busy", lang_))
        if not (text or "").strip():
            raise InvalidName(t("chat.empty", lang_))
        cid = self.ensure_conversation(cid, mode_, kb_, model_, lang_, caller)
        conversation = self.own(cid, caller)
        self.check_kb(conversation, caller)
        options = self.modes.options(conversation.mode, model_, self._tokens_default(),
                                     (temperature_, top_k_, threshold_, max_tokens_), use_web_)
        yield from self.stream(conversation, text.strip(), model_, options, lang_, caller)
        yield {**self.open_view(cid, query, mode_, kb_, model_, lang_, caller), **self.idle()}

    @guarded
    def retry(self, cid, query, mode_, kb_, model_, use_web_, temperature_, top_k_, threshold_, max_tokens_, lang_,
              request: gr.Request):
        """Ask the last question again: its answer is replaced."""
        caller = caller_of(request)
        if self.turns.busy(caller.session) or not cid:
            return
        conversation = self.own(cid, caller)
        messages = conversation.messages
        asked = len(messages) - 1 - (messages[-1].role == "assistant") if messages else -1  # answered or not
        if asked < 0 or messages[asked].role != "user":
            return
        self.check_kb(conversation, caller)
        text = messages[asked].content
        conversation.messages = messages[:asked]
        self.store.save(conversation)
        options = self.modes.options(conversation.mode, model_, self._tokens_default(),
                                     (temperature_, top_k_, threshold_, max_tokens_), use_web_)
        yield from self.stream(conversation, text, model_, options, lang_, caller)
        yield {**self.open_view(cid, query, mode_, kb_, model_, lang_, caller), **self.idle()}

    def stop(self, request: gr.Request) -> None:
        self.turns.stop(caller_of(request).session)

    @guarded
    def attach(self, paths, cid, query, model_, lang_, request: gr.Request):
        caller = caller_of(request)
        paths = [Path(p) for p in file_names(paths)]
        if not paths:
            return
        cid = self.own(cid, caller).id if cid else self.create(caller, mode="file", model=model_)
        names = [p.name for p in paths]
        # Send waits for the files: an answer before they are in would find nothing (reply() refuses too)
        waiting = gr.update(interactive=False, value=tr("chat.reading"))
        ready = gr.update(interactive=True, value=tr("chat.send"))
        yield {self.send_btn: waiting, self.conv_id: cid}
        job = Job(lambda progress, cancel: self.services.attach_files(cid, paths, names=names, progress=progress),
                  name="chat-attach")
        panel = follow(job, names, lang_)
        try:
            while True:
                try:
                    yield {self.attached: next(panel), self.conv_id: cid, self.send_btn: waiting}
                except StopIteration as done:
                    summarize(done.value, lang_)
                    break
        except Exception:
            yield {self.send_btn: ready}  # the error itself is shown by `guarded`
            raise
        yield {**self.open_view(cid, query, "file", None, model_, lang_, caller), self.files: None,
               self.send_btn: ready}

    @guarded
    def rename(self, cid, new_title, query, lang_, request: gr.Request):
        caller = caller_of(request)
        if not cid:
            raise InvalidName(t("chat.pick_first", lang_))
        conversation = self.store.rename(self.own(cid, caller).id, new_title or "")
        return {self.convs: self.conv_list(query, cid, caller), self.rename_box: gr.update(visible=False),
                self.export_btn: self.export_update(conversation)}

    @guarded
    def delete(self, cid, query, mode_, kb_, model_, lang_, request: gr.Request):
        caller = caller_of(request)
        if cid:
            self.services.delete_conversation(self.own(cid, caller).id)
            info(t("chat.deleted", lang_))
        return self.open_view(None, query, "llm" if mode_ == "file" else mode_, kb_, model_, lang_, caller)

    def find(self, query, cid, request: gr.Request):
        return self.conv_list(query, cid, caller_of(request))

    @guarded
    def changed(self, cid, query, request: gr.Request):
        """A conversation changed (here or elsewhere): its place in the list, and its export (a rating is in it)."""
        caller = caller_of(request)
        conversation = self.find_own(cid, caller)
        return {self.convs: self.conv_list(query, conversation.id if conversation else None, caller),
                self.export_btn: self.export_update(conversation)}

    @staticmethod
    def toggle(cid, lang_):
        """Rename and Delete need an open conversation."""
        if not cid:
            warn(t("chat.pick_first", lang_))
        return gr.update(visible=bool(cid))

    # --- wiring -----------------------------------------------------------------------------------
    def register_events(self) -> None:
        lang, changed = self.ctx.lang, self.events.conversations
        picked = [self.mode, self.kb, self.model]
        view_inputs = [self.conv_id, self.search, *picked, lang]
        answer_inputs = [self.conv_id, self.search, *picked, self.modes.use_web, self.temperature, self.top_k, self.threshold,
                         self.max_tokens, lang]
        answer_outputs = [*self.view_outputs, self.question, self.send_btn, self.stop_btn, *self.modes.outputs]
        hint_outputs = [self.hint_box, self.hint, self.hint_models, self.hint_kb, self.hint_settings]
        lane = {"concurrency_id": "chat", "concurrency_limit": 4, "show_progress": "hidden"}
        now = {"concurrency_limit": None}

        def fire(event) -> None:  # this page changed a conversation: the other pages hear of it
            event.then(bump, changed, changed, **now)

        fire(self.send_btn.click(self.send, [self.question, *answer_inputs], answer_outputs, **lane))
        fire(self.question.submit(self.send, [self.question, *answer_inputs], answer_outputs, **lane))
        fire(self.chatbot.retry(self.retry, answer_inputs, answer_outputs, **lane))
        self.stop_btn.click(self.stop, None, None, **now)
        self.new_btn.click(self.new_chat, [self.search, *picked, lang], [*self.view_outputs, self.question], **now)
        self.convs.input(self.show, [self.convs, self.search, *picked, lang], self.view_outputs, **now)
        self.search.input(self.find, [self.search, self.conv_id], self.convs, show_progress="hidden", **now)
        for control in picked:
            control.input(self.change_setup, [self.conv_id, *picked, lang],
                          [self.kb, self.file_box, self.modes.use_web, *hint_outputs], **now)
        fire(self.files.upload(self.attach, [self.files, self.conv_id, self.search, self.model, lang],
                               [*self.view_outputs, self.files, self.send_btn], concurrency_id="ingest",
                               concurrency_limit=2))
        self.rename_btn.click(self.toggle, [self.conv_id, lang], self.rename_box, **now)
        fire(self.rename_ok.click(self.rename, [self.conv_id, self.title, self.search, lang],
                                  [self.convs, self.rename_box, self.export_btn]))
        fire(self.title.submit(self.rename, [self.conv_id, self.title, self.search, lang],
                               [self.convs, self.rename_box, self.export_btn]))
        self.delete_btn.click(self.toggle, [self.conv_id, lang], self.delete_box, **now)
        self.delete_no.click(lambda: gr.update(visible=False), None, self.delete_box, **now)
        fire(self.delete_yes.click(self.delete, [self.conv_id, self.search, *picked, lang], self.view_outputs))
        tabs = self.ctx.tabs
        self.hint_models.click(lambda: gr.Tabs(selected="models"), None, tabs, **now)
        self.hint_kb.click(lambda: gr.Tabs(selected="kb"), None, tabs, **now)
        self.hint_settings.click(lambda: gr.Tabs(selected="settings"), None, tabs, **now)
        for event in (self.events.kbs, self.events.models, self.events.settings):
            event.change(self.refresh_pickers, [self.conv_id, *picked, lang],
                         [*picked, self.file_box, self.modes.use_web, *hint_outputs], **now)
        changed.change(self.changed, [self.conv_id, self.search], [self.convs, self.export_btn], **now)
        self.feedback.register_events(changed)
        self.viewer.register_events()
        self.modes.register_events()

    def refreshes(self) -> list[Refresh]:
        return [Refresh(self.show, [self.conv_id, self.search, self.mode, self.kb, self.model, self.ctx.lang],
                        self.view_outputs)]

    def end_session(self, session: str) -> None:
        """A browser session closed: its running answer stops (what it wrote so far is saved)."""
        self.turns.stop(session)
