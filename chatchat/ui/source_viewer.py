"""The Chat tab's source viewer: a side panel that opens when a citation chip or a source line of an answer
is clicked (or activated with Enter). It shows the cited passage where it stands: a PDF passage as its
page rendered with the passage highlighted, any other as the passage in its context (chatchat.answer.preview),
with the file, page and section, and the kept original to open or download. Escape closes it and gives
the focus back to the chip that opened it.

The chips are links to `#cc-source/<message id>/<n>` (chat_views.SOURCE_LINK); one listener on the
document, installed by a hidden gr.HTML, catches them before the chatbot does and triggers this panel's
event with the link."""

from __future__ import annotations

import base64
import html
import re
import tempfile
from pathlib import Path

import gradio as gr

from chatchat.answer.conversations import ChatMessage
from chatchat.answer.links import source_links
from chatchat.answer.preview import PNG, preview
from chatchat.errors import ChatchatError, NotFound
from chatchat.fs import atomic_copy
from chatchat.policy import Caller
from chatchat.ui.chat_views import markers_by_app, place
from chatchat.ui.common import caller_of, esc, guarded
from chatchat.ui.i18n import error_text, t, tr

ORIGINALS_DIR = Path(tempfile.gettempdir()) / "chatchat-originals"  # Gradio serves downloads from the temp dir
_LINK = re.compile(r"^#cc-source/([0-9a-f]{1,64})/(\d{1,4})$")

# Catches a click on (or Enter in) a source link anywhere in the chatbot, and Escape while the panel is open.
# The trigger of the latest mount is kept on window: one listener, whichever mount installed it.
LISTEN_JS = """
window.__ccSourceTrigger = trigger;
if (!window.__ccSourceListening) {
  window.__ccSourceListening = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#cc-source/"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    window.__ccSourceFrom = link.getAttribute("href");
    window.__ccSourceFromLink = link;  // a marker in the text and the source below share the href
    window.__ccSourceTrigger("click", {link: window.__ccSourceFrom});
  }, true);
  // Capturing, as the click listener: the chatbot's own listeners (delegated by Svelte to the app's root)
  // run on the way back up, and would take Enter in a chip for a select of its message (the feedback bar).
  document.addEventListener("keydown", (event) => {
    // Enter on a source link is its click (the browser still makes one, caught above); nothing else gets it
    if (event.key === "Enter" && event.target.closest && event.target.closest('a[href^="#cc-source/"]')) {
      event.stopPropagation();
      return;
    }
    const close = document.querySelector("#chat-source-close");
    if (event.key === "Escape" && close && close.offsetParent !== null) {
      event.preventDefault();
      close.click();
    }
  }, true);
}
"""
FOCUS_PANEL_JS = "() => setTimeout(() => document.querySelector('#chat-source .cc-viewer-title')?.focus(), 50)"
FOCUS_CHIP_JS = """() => {
  const from = window.__ccSourceFrom, link = window.__ccSourceFromLink;
  let tries = 20;  // the chatbot may still be redrawing: look again for up to a second
  const focus = () => {
    // the link that opened the panel; if the chatbot has redrawn it, its new copy (same href and text)
    const same = (a) => a.getAttribute("href") === from && (!link || a.textContent === link.textContent);
    const chip = link && link.isConnected ? link
      : from && [...document.querySelectorAll('#chat-box a[href^="#cc-source/"]')].find(same);
    if (chip) chip.focus();
    else if (--tries > 0) setTimeout(focus, 50);
  };
  setTimeout(focus, 50);
}"""


def find_source(message: ChatMessage, n: int) -> dict:
    source = next((s for s in message.sources if s.get("index") == n), None)
    if source is None:
        raise NotFound(f"The answer has no source [{n}].")
    return source


def head_html(source: dict, by_app: bool, lang: str) -> str:
    """The panel's title (focusable, so the panel takes the focus when it opens) and where the passage is."""
    where = " · ".join([esc(source.get("kb", "")), *(esc(p) for p in place(source, lang))])
    note = f'<p class="cc-viewer-note">{esc(t("cite.by_app", lang))}</p>' if by_app else ""
    return (f'<div class="cc-viewer-head"><h3 class="cc-viewer-title" tabindex="-1">'
            f'[{source.get("index", "?")}] {esc(source.get("file", ""))}</h3>'
            f'<p class="cc-viewer-where">{where}</p>{note}</div>')


def body_html(services, source: dict, lang: str) -> str:
    """The passage where it stands: its page as an image (PDF), or the passage page in a sandboxed frame."""
    shown = preview(services, source["kb"], source["file"], int(source.get("chunk_index") or 0), source.get("doc_id"))
    if shown.media_type == PNG:
        alt = t("viewer.page_alt", lang, page=shown.page, file=source.get("file", ""))
        note = (f'<p class="cc-viewer-note">{esc(t("viewer.note." + shown.note, lang))}</p>'
                if shown.note and shown.note != "found" else "")
        data = base64.b64encode(shown.content).decode("ascii")
        return f'{note}<img class="cc-viewer-page" src="data:image/png;base64,{data}" alt="{esc(alt)}">'
    page = html.escape(shown.content.decode("utf-8"), quote=True)
    title = esc(t("viewer.passage_title", lang, file=source.get("file", "")))
    return f'<iframe class="cc-viewer-passage" sandbox="" title="{title}" srcdoc="{page}"></iframe>'


def original_copy(services, source: dict) -> str:
    """A copy of the kept original where Gradio may serve it from (it serves no file of the data dir)."""
    kept = services.original(source["kb"], source["file"])
    target = ORIGINALS_DIR / (source.get("doc_id") or "kept") / Path(source["file"]).name
    if not target.is_file() or target.stat().st_size != kept.stat().st_size:
        atomic_copy(kept, target)
    return str(target)


class SourceViewer:
    """The side panel; build it inside the tab's row, beside the chat."""

    def __init__(self, services, conv_id: gr.State, lang: gr.Radio):
        self.services, self.conv_id, self.lang = services, conv_id, lang
        self.hook = gr.HTML("", js_on_load=LISTEN_JS, elem_id="chat-source-hook", elem_classes=["cc-hook"])
        with gr.Column(visible=False, scale=2, min_width=320, elem_id="chat-source",
                       elem_classes=["cc-viewer"]) as self.panel:
            with gr.Row(equal_height=True, elem_classes=["cc-viewer-bar"]):
                self.original = gr.DownloadButton(tr("viewer.original"), size="sm", value=None,
                                                  elem_id="chat-source-original")
                self.close = gr.Button(tr("viewer.close"), size="sm", elem_id="chat-source-close", scale=0,
                                       min_width=90)
            self.head = gr.HTML(elem_id="chat-source-head")
            self.body = gr.HTML(elem_id="chat-source-body")
            self.page_link = gr.HTML(elem_id="chat-source-link")

    @property
    def outputs(self) -> list:
        return [self.panel]

    def closed(self) -> dict:
        return {self.panel: gr.update(visible=False)}

    def open_link(self, link: str, cid: str | None, lang_: str, caller) -> dict:
        match = _LINK.match(link or "")
        if not match or not cid:
            raise NotFound("No such source.")
        self.services.policy.check_conversation(caller, cid)
        conversation = self.services.conversations.get(cid)
        message = next((m for m in conversation.messages if m.id == match.group(1)), None)
        if message is None:
            raise NotFound("The answer is no longer in this conversation.")
        source = find_source(message, int(match.group(2)))
        try:
            body, original = body_html(self.services, source, lang_), original_copy(self.services, source)
        except NotFound as exc:  # the document was deleted or replaced since the answer: say so, show nothing stale
            body, original = f'<p class="cc-viewer-gone">{esc(error_text(exc, lang_))}</p>', None
        by_app = markers_by_app(message)
        return {
            self.panel: gr.update(visible=True),
            self.head: head_html(source, by_app, lang_),
            self.body: body,
            self.original: gr.update(value=original, interactive=original is not None),
            self.page_link: self.page_link_html(source, lang_) if original else "",
        }

    def page_link_html(self, source: dict, lang: str) -> str:
        """The API's link to the original (a PDF at its page), for the browser's own viewer: only where an
        API caller may fetch it (no API key, which a link cannot send; a knowledge base the API shows)."""
        try:
            self.services.policy.check_visible(source["kb"], Caller())  # a caller without a session: the API's
            listed = not self.services.kb_info(source["kb"]).owner
        except ChatchatError:
            listed = False
        if self.services.settings.api_key or not listed:
            return ""
        url, _ = source_links(source["kb"], source["file"], source.get("page"), source.get("doc_id"), None)
        label = t("viewer.open_page", lang, page=source["page"]) if source.get("page") else t("viewer.open", lang)
        return f'<a class="cc-viewer-open" href="{esc(url)}" target="_blank" rel="noopener">{esc(label)} ↗</a>'

    def register_events(self) -> None:
        @guarded
        def show(cid, lang_, evt: gr.EventData, request: gr.Request):
            return self.open_link(getattr(evt, "link", ""), cid, lang_, caller_of(request))

        opened = self.hook.click(show, [self.conv_id, self.lang],
                                 [self.panel, self.head, self.body, self.original, self.page_link],
                                 concurrency_limit=None, show_progress="hidden")
        opened.then(None, js=FOCUS_PANEL_JS)
        self.close.click(lambda: gr.update(visible=False), None, self.panel, concurrency_limit=None).then(
            None, js=FOCUS_CHIP_JS)
