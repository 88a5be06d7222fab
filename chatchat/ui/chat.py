"""The Chat tab: conversations (new, rename, delete, search, export), three modes (LLM, knowledge base,
file chat), streamed answers with a Stop button and their sources, retry and copy.

The answers come from `services.answerer.reply` and the conversations from `services.conversations`;
this module only shows them. An answer runs in a thread of its own, so that the bubble shows each stage
(searching, loading the model, reading the prompt) and Stop ends the turn at any of them."""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

import gradio as gr

from chatchat import space
from chatchat.retrieval.context import kb_names
from chatchat.answer.conversations import Conversation
from chatchat.errors import ChatchatError, InvalidName, NotFound
from chatchat.answer.answerer import AnswerEvent
from chatchat.service import Services
from chatchat.ui import knowledge
from chatchat.ui.chat_views import demo_model, export_file, model_choices, render, sources_message
from chatchat.ui.common import Context, Refresh, esc, file_names, guarded, info, session_of, warn
from chatchat.ui.i18n import error_text, t, tr

MODES = ("llm", "kb", "file")
STREAM_INTERVAL = 0.05  # seconds between redraws of a streaming answer
STOP_GRACE = 1.0  # seconds a stopped answer has to end by itself before the turn is given back anyway
log = logging.getLogger("chatchat.ui")

# the Stop switch of each browser session's running answer
_stops: dict[str, threading.Event] = {}
# on a Hugging Face Space, the conversations each visitor's session made (nobody else sees them)
_space_conversations: dict[str, set[str]] = {}


def answer_in_thread(services: Services, cid: str, text: str, model: str | None, stop: threading.Event,
                     options: dict) -> queue.Queue:
    """Run `services.answerer.reply` in a thread of its own and pass its events through a queue (None
    last): the page keeps drawing and Stop keeps working while a model loads or a long prompt is read."""
    events: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            for event in services.answerer.reply(services.conversations, cid, text, model=model, cancel=stop,
                                                  **options):
                events.put(event)
        except Exception as exc:  # a bug in an engine: shown to the person, never lost in a thread
            log.error("chat answer failed", exc_info=exc)
            events.put(AnswerEvent("error", text=f"{type(exc).__name__}: {exc}"))
        finally:
            events.put(None)

    threading.Thread(target=work, name="chat-answer", daemon=True).start()
    return events


def build(ctx: Context, tabs: gr.Tabs) -> list[Refresh]:
    services: Services = ctx.services
    lang = ctx.lang
    settings = services.settings
    store = services.conversations
    conv_id = gr.State(None)

    with gr.Row(equal_height=False, elem_classes=["cc-chat"]):
        with gr.Column(scale=1, min_width=250, elem_classes=["cc-side"]):
            new_btn = gr.Button(tr("chat.new"), variant="primary", elem_id="chat-new")
            search = gr.Textbox(show_label=False, placeholder=tr("chat.search"), elem_id="chat-search")
            convs = gr.Radio(choices=[], value=None, show_label=False, elem_classes=["cc-convs"], elem_id="chat-list")
            with gr.Row(elem_classes=["cc-conv-actions"]):
                rename_btn = gr.Button(tr("chat.rename"), size="sm", elem_id="chat-rename")
                delete_btn = gr.Button(tr("chat.delete"), size="sm", elem_id="chat-delete")
                export_btn = gr.DownloadButton(tr("chat.export"), size="sm", value=None, interactive=False,
                                               elem_id="chat-export")
            with gr.Group(visible=False) as rename_box:
                title = gr.Textbox(label=tr("chat.title"), elem_id="chat-title")
                rename_ok = gr.Button(tr("common.save"), size="sm", elem_id="chat-rename-save")
            with gr.Group(visible=False) as delete_box:
                gr.Markdown(tr("chat.delete_question"))
                with gr.Row():
                    delete_yes = gr.Button(tr("chat.delete_confirm"), size="sm", variant="stop", elem_id="chat-delete-yes")
                    delete_no = gr.Button(tr("common.cancel"), size="sm")

        with gr.Column(scale=4, elem_classes=["cc-main"]):
            with gr.Row(elem_classes=["cc-hint"], visible=False, equal_height=True) as hint_box:
                hint = gr.Markdown(elem_id="chat-hint")
                hint_models = gr.Button(tr("chat.go_models"), size="sm", scale=0, min_width=160, visible=False,
                                        elem_id="chat-hint-models")
                hint_kb = gr.Button(tr("chat.go_kb"), size="sm", scale=0, min_width=160, visible=False)
                hint_settings = gr.Button(tr("chat.go_settings"), size="sm", scale=0, min_width=160, visible=False,
                                          elem_id="chat-hint-settings")
            with gr.Row(equal_height=True, elem_classes=["cc-chat-bar"]):
                mode = gr.Radio([(tr(f"chat.mode.{m}"), m) for m in MODES], value="llm", label=tr("chat.mode"),
                                elem_id="chat-mode", scale=2)
                kb = gr.Dropdown(label=tr("kb.select"), choices=[], value=None, visible=False, elem_id="chat-kb", scale=2,
                                 multiselect=True)
                model = gr.Dropdown(label=tr("chat.model"), choices=[], value=None, elem_id="chat-model", scale=2)
            with gr.Group(visible=False) as file_box:
                files = gr.File(label=tr("chat.files"), file_count="multiple", height=110, elem_id="chat-files")
                attached = gr.HTML(elem_id="chat-attached")
            chatbot = gr.Chatbot(
                elem_id="chat-box", height="62vh", min_height=360, buttons=["copy", "copy_all"],
                feedback_options=None, layout="bubble", group_consecutive_messages=True, show_label=False,
                placeholder=tr("chat.welcome"),  # translated in the browser: right from the first paint
            )
            with gr.Row(equal_height=True, elem_classes=["cc-input"]):
                question = gr.Textbox(show_label=False, placeholder=tr("chat.placeholder"), lines=1, max_lines=8,
                                      scale=8, elem_id="chat-input")
                send_btn = gr.Button(tr("chat.send"), variant="primary", scale=1, min_width=90, elem_id="chat-send")
                stop_btn = gr.Button(tr("chat.stop"), variant="stop", scale=1, min_width=90, visible=False,
                                     elem_id="chat-stop")
            with gr.Accordion(tr("chat.params"), open=False, elem_id="chat-params"):
                with gr.Row():
                    temperature = gr.Slider(0.0, 2.0, value=settings.temperature, step=0.05, label=tr("param.temperature"))
                    top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label=tr("param.top_k"))
                    threshold = gr.Slider(-1.0, 1.0, value=settings.score_threshold, step=0.05, label=tr("param.threshold"))
                    max_tokens = gr.Slider(64, 8192, value=min(settings.max_tokens, 8192), step=64,
                                           label=tr("param.max_tokens"), info=tr("param.max_tokens_info"))

    # --- views ----------------------------------------------------------------------------------
    def conv_list(query: str | None, current: str | None, session: str) -> dict:
        found = store.search(query or "")
        if space.is_space():  # visitors of a Space see only their own conversations
            found = [c for c in found if c.id in _space_conversations.get(session, ())]
        choices = [(c.title or c.created[:16].replace("T", " "), c.id) for c in found]
        return gr.update(choices=choices, value=current if current in {c.id for c in found} else None)

    def hints(mode_: str, model_: str | None, session: str, lang_: str) -> dict:
        """What a person needs before they can chat: a model, and in knowledge-base mode a knowledge base;
        and while the demo model answers, what it is and how to get a real one."""
        no_model = not model_choices(services)
        no_kb = mode_ == "kb" and not knowledge.kb_choices(services, session, lang_)
        demo = None if no_model or no_kb else demo_model(services, model_)
        if no_model:
            text = t("chat.no_model_lite" if settings.lite else "chat.no_model", lang_)
        elif no_kb:
            text = t("chat.no_kb", lang_)
        elif demo:
            text = t("chat.demo_model", lang_, name=demo)
        else:
            text = ""
        return {
            hint_box: gr.update(visible=bool(text)),
            hint: text,
            hint_models: gr.update(visible=no_model or bool(demo)),
            hint_kb: gr.update(visible=no_kb and not no_model),
            hint_settings: gr.update(visible=bool(demo) and not space.is_space()),
        }

    def pickers(conversation: Conversation | None, mode_: str, kb_: str | None, model_: str | None, session: str,
                lang_: str) -> dict:
        kbs = knowledge.kb_choices(services, session, lang_)
        names = [name for _, name in kbs]
        models_ = model_choices(services)
        ids = [value for _, value in models_]
        if conversation is not None:
            kb_, model_ = conversation.kb or kb_, conversation.model or model_
        kb_ = [name for name in kb_names(kb_) if name in names]  # several may be picked: none is preset
        model_ = model_ if model_ in ids else (settings.default_llm if settings.default_llm in ids else (ids[0] if ids else None))
        return {
            mode: mode_,
            kb: gr.update(choices=kbs, value=kb_, visible=mode_ == "kb"),
            model: gr.update(choices=models_, value=model_),
            file_box: gr.update(visible=mode_ == "file"),
        }

    def attached_html(conversation: Conversation | None, lang_: str) -> str:
        if conversation is None or not conversation.temp_kb:
            return ""
        try:
            docs = services.documents(conversation.temp_kb)
        except ChatchatError:
            return ""
        chips = "".join(
            f'<span class="cc-chip cc-{esc(d.status)}" title="{esc(d.error or "")}">{esc(d.file)}</span>' for d in docs
        )
        return f'<div class="cc-chips"><span>{esc(t("chat.attached", lang_))}</span>{chips}</div>'

    def own(cid: str, session: str) -> Conversation:
        """A conversation this session may open (on a Space: only its own)."""
        if space.is_space() and cid not in _space_conversations.get(session, ()):
            raise NotFound(f"No conversation '{cid}'.")
        return store.get(cid)

    def open_view(cid: str | None, query: str | None, mode_: str, kb_: str | None, model_: str | None, lang_: str,
                  session: str) -> dict:
        """Everything shown for conversation `cid` (None: a new, empty chat)."""
        conversation = None
        if cid:
            try:
                conversation = own(cid, session)
            except ChatchatError:
                cid = None  # deleted in another window
        view = {
            conv_id: cid,
            convs: conv_list(query, cid, session),
            chatbot: gr.update(value=render(conversation, lang_), placeholder=tr("chat.welcome")),
            export_btn: gr.update(value=export_file(services, conversation) if conversation and conversation.messages else None,
                                  interactive=bool(conversation and conversation.messages)),
            attached: attached_html(conversation, lang_),
            title: conversation.title if conversation else "",
            rename_box: gr.update(visible=False),
            delete_box: gr.update(visible=False),
        }
        if conversation is not None:
            mode_ = conversation.mode
        view.update(pickers(conversation, mode_, kb_, model_, session, lang_))
        view.update(hints(mode_, view[model]["value"], session, lang_))
        return view

    view_inputs = [conv_id, search, mode, kb, model, lang]
    view_outputs = [conv_id, convs, chatbot, export_btn, attached, title, rename_box, delete_box, mode, kb, model,
                    file_box, hint_box, hint, hint_models, hint_kb, hint_settings]

    @guarded
    def show(cid, query, mode_, kb_, model_, lang_, request: gr.Request):
        return open_view(cid, query, mode_, kb_, model_, lang_, session_of(request))

    @guarded
    def new_chat(query, mode_, kb_, model_, lang_, request: gr.Request):
        if mode_ == "file":
            mode_ = "llm"  # a file chat starts when files are dropped
        return {**open_view(None, query, mode_, kb_, model_, lang_, session_of(request)), question: ""}

    @guarded
    def change_setup(cid, mode_, kb_, model_, lang_, request: gr.Request):
        """Mode, knowledge base or model changed: remember it in the conversation (if there is one yet)."""
        session = session_of(request)
        if cid:
            conversation = own(cid, session)
            conversation.mode = mode_
            conversation.kb = ",".join(kb_names(kb_)) or None if mode_ == "kb" else conversation.kb
            conversation.model = model_
            store.save(conversation)
        return {
            kb: gr.update(visible=mode_ == "kb"),
            file_box: gr.update(visible=mode_ == "file"),
            **hints(mode_, model_, session, lang_),
        }

    def create(session: str, **fields) -> str:
        conversation = store.create(**fields)
        if space.is_space():
            _space_conversations.setdefault(session, set()).add(conversation.id)
        return conversation.id

    def ensure_conversation(cid: str | None, mode_: str, kb_: str | None, model_: str | None, lang_: str,
                            session: str) -> str:
        if cid:
            return cid
        if mode_ == "kb" and not kb_:
            raise InvalidName(t("kb.pick_first", lang_))
        if mode_ == "file":
            raise InvalidName(t("chat.files_first", lang_))
        return create(session, mode=mode_, kb=",".join(kb_names(kb_)) if mode_ == "kb" else None, model=model_)

    def stream(cid: str, text: str, model_: str | None, options: dict, lang_: str, session: str, base: list[dict]):
        """Ask, and yield the chatbot as the answer streams in: first the stage it is at, then the text. The
        question and the answer are saved by `reply`; a Stop gives the turn back within STOP_GRACE even when
        the engine cannot stop at once (a model still loading finishes in the background)."""
        stop = threading.Event()
        _stops[session] = stop
        answer = {"role": "assistant", "content": f"*{t('chat.stage.wait', lang_)}*"}
        shown = [*base, {"role": "user", "content": text}, answer]
        yield {chatbot: shown, question: "", send_btn: gr.update(visible=False), stop_btn: gr.update(visible=True),
               conv_id: cid}
        events = answer_in_thread(services, cid, text, model_, stop, options)
        parts: list[str] = []
        failed: AnswerEvent | None = None
        asked = False  # reply() saved the question (it said so with its first stage)
        stopped_at = None
        pressed = False  # the person pressed Stop
        drawn = time.monotonic()
        try:
            while True:
                try:
                    event = events.get(timeout=STREAM_INTERVAL)
                except queue.Empty:
                    if stop.is_set():
                        stopped_at = stopped_at or time.monotonic()
                        if time.monotonic() - stopped_at > STOP_GRACE:
                            break
                    continue
                if event is None:
                    break
                if event.kind == "stage":
                    asked = True
                    if not parts:
                        answer["content"] = f"*{t('chat.stage.' + event.text, lang_)}*"
                        yield {chatbot: shown}
                elif event.kind == "delta":
                    parts.append(event.text)
                    answer["content"] = "".join(parts)
                    if time.monotonic() - drawn >= STREAM_INTERVAL:
                        yield {chatbot: shown}
                        drawn = time.monotonic()
                elif event.kind == "query":  # a follow-up: what the knowledge base was searched with
                    shown.append({"role": "assistant", "content": t("chat.searched_as", lang_, query=event.text)})
                elif event.kind == "sources" and event.sources:
                    shown.append(sources_message([s.to_dict() for s in event.sources], lang_))
                elif event.kind == "error":
                    failed = event
            pressed = stop.is_set()
        finally:
            stop.set()  # also when the page went away mid-answer: the answer so far is saved, marked stopped
            _stops.pop(session, None)
        buttons = {send_btn: gr.update(visible=True), stop_btn: gr.update(visible=False)}
        if failed is not None:
            message = error_text(failed.error, lang_) if failed.error else failed.text
            warn(message)
            answer["content"] = f"⚠ {message}"
            # a question that could not be asked was not saved: give it back to edit
            yield {chatbot: shown, **({} if asked else {question: text}), **buttons}
            return
        if pressed:
            answer["content"] = "".join(parts) + ("\n\n" if parts else "") + f"*{t('chat.stopped', lang_)}*"
        yield {chatbot: shown, **buttons}

    def options_of(model_: str | None, temperature_, top_k_, threshold_, max_tokens_) -> dict:
        """The answer's options. max_tokens left at the setting's value means the model's own default
        (the tiny demo model rambles on for minutes with a large one)."""
        tokens = int(max_tokens_)
        if tokens == min(settings.max_tokens, 8192):
            tokens = services.catalog.default_max_tokens(model_ or settings.default_llm, settings.max_tokens)
        return {"temperature": float(temperature_), "top_k": int(top_k_), "score_threshold": float(threshold_),
                "max_tokens": tokens}

    def check_kb(conversation: Conversation, session: str) -> None:
        if conversation.mode == "kb":
            for name in kb_names(conversation.kb):
                knowledge.check_access(name, session)

    @guarded
    def send(text, cid, query, mode_, kb_, model_, temperature_, top_k_, threshold_, max_tokens_, lang_,
             request: gr.Request):
        session = session_of(request)
        if session in _stops:
            raise InvalidName(t("chat.busy", lang_))
        if not (text or "").strip():
            raise InvalidName(t("chat.empty", lang_))
        cid = ensure_conversation(cid, mode_, kb_, model_, lang_, session)
        conversation = own(cid, session)
        check_kb(conversation, session)
        yield from stream(cid, text.strip(), model_, options_of(model_, temperature_, top_k_, threshold_, max_tokens_), lang_,
                          session, render(conversation, lang_))
        yield open_view(cid, query, mode_, kb_, model_, lang_, session)

    @guarded
    def retry(cid, query, mode_, kb_, model_, temperature_, top_k_, threshold_, max_tokens_, lang_,
              request: gr.Request):
        """Ask the last question again: its answer is replaced."""
        session = session_of(request)
        if session in _stops or not cid:
            return
        conversation = own(cid, session)
        messages = conversation.messages
        asked = len(messages) - 1 - (messages[-1].role == "assistant") if messages else -1  # answered or not
        if asked < 0 or messages[asked].role != "user":
            return
        check_kb(conversation, session)
        text = messages[asked].content
        conversation.messages = messages[:asked]
        store.save(conversation)
        yield from stream(cid, text, model_, options_of(model_, temperature_, top_k_, threshold_, max_tokens_), lang_,
                          session, render(conversation, lang_))
        yield open_view(cid, query, mode_, kb_, model_, lang_, session)

    def stop(request: gr.Request):
        event = _stops.get(session_of(request))
        if event is not None:
            event.set()

    @guarded
    def attach(paths, cid, query, model_, lang_, request: gr.Request):
        session = session_of(request)
        paths = [Path(p) for p in file_names(paths)]
        if not paths:
            return
        cid = own(cid, session).id if cid else create(session, mode="file", model=model_)
        names = [p.name for p in paths]

        def start(progress, cancel):
            return store.attach_files(cid, paths, names=names, progress=progress)

        # Send waits for the files: an answer before they are in would find nothing (reply() refuses too)
        waiting = gr.update(interactive=False, value=tr("chat.reading"))
        ready = gr.update(interactive=True, value=tr("chat.send"))
        yield {send_btn: waiting, conv_id: cid}
        try:
            job = knowledge.run_ingest(start, names, lang_, session)
            while True:
                try:
                    yield {attached: next(job), conv_id: cid, send_btn: waiting}
                except StopIteration as done:
                    knowledge.summarize(done.value, lang_)
                    break
        except Exception:
            yield {send_btn: ready}  # the error itself is shown by `guarded`
            raise
        yield {**open_view(cid, query, "file", None, model_, lang_, session), files: None, send_btn: ready}

    @guarded
    def rename(cid, new_title, query, lang_, request: gr.Request):
        session = session_of(request)
        if not cid:
            raise InvalidName(t("chat.pick_first", lang_))
        conversation = store.rename(own(cid, session).id, new_title or "")
        return {convs: conv_list(query, cid, session), rename_box: gr.update(visible=False),
                export_btn: gr.update(value=export_file(services, conversation) if conversation.messages else None)}

    @guarded
    def delete(cid, query, mode_, kb_, model_, lang_, request: gr.Request):
        session = session_of(request)
        if cid:
            store.delete(own(cid, session).id)
            _space_conversations.get(session, set()).discard(cid)
            info(t("chat.deleted", lang_))
        return open_view(None, query, "llm" if mode_ == "file" else mode_, kb_, model_, lang_, session)

    def find(query, cid, request: gr.Request):
        return conv_list(query, cid, session_of(request))

    def toggle(cid, lang_):
        """Rename and Delete need an open conversation."""
        if not cid:
            warn(t("chat.pick_first", lang_))
        return gr.update(visible=bool(cid))

    # --- wiring ---------------------------------------------------------------------------------
    answer_inputs = [conv_id, search, mode, kb, model, temperature, top_k, threshold, max_tokens, lang]
    answer_outputs = [*view_outputs, question, send_btn, stop_btn]
    lane = {"concurrency_id": "chat", "concurrency_limit": 4, "show_progress": "hidden"}
    send_btn.click(send, [question, *answer_inputs], answer_outputs, **lane)
    question.submit(send, [question, *answer_inputs], answer_outputs, **lane)
    chatbot.retry(retry, answer_inputs, answer_outputs, **lane)
    stop_btn.click(stop, None, None, concurrency_limit=None)
    new_btn.click(new_chat, [search, mode, kb, model, lang], [*view_outputs, question], concurrency_limit=None)
    convs.input(show, [convs, search, mode, kb, model, lang], view_outputs, concurrency_limit=None)
    search.input(find, [search, conv_id], convs, concurrency_limit=None, show_progress="hidden")
    for control in (mode, kb, model):
        control.input(change_setup, [conv_id, mode, kb, model, lang],
                      [kb, file_box, hint_box, hint, hint_models, hint_kb, hint_settings], concurrency_limit=None)
    files.upload(attach, [files, conv_id, search, model, lang], [*view_outputs, files, send_btn],
                 concurrency_id="ingest", concurrency_limit=2)
    rename_btn.click(toggle, [conv_id, lang], rename_box, concurrency_limit=None)
    rename_ok.click(rename, [conv_id, title, search, lang], [convs, rename_box, export_btn])
    title.submit(rename, [conv_id, title, search, lang], [convs, rename_box, export_btn])
    delete_btn.click(toggle, [conv_id, lang], delete_box, concurrency_limit=None)
    delete_no.click(lambda: gr.update(visible=False), None, delete_box, concurrency_limit=None)
    delete_yes.click(delete, [conv_id, search, mode, kb, model, lang], view_outputs)
    hint_models.click(lambda: gr.Tabs(selected="models"), None, tabs, concurrency_limit=None)
    hint_kb.click(lambda: gr.Tabs(selected="kb"), None, tabs, concurrency_limit=None)
    hint_settings.click(lambda: gr.Tabs(selected="settings"), None, tabs, concurrency_limit=None)

    return [Refresh(show, view_inputs, view_outputs)]


def end_session(services: Services, session: str) -> None:
    """A browser session closed. On a Space its conversations go (they were never listed to anyone else)."""
    for cid in _space_conversations.pop(session, set()):
        try:
            services.conversations.delete(cid)
        except ChatchatError:
            pass
