"""The web UI: one Gradio Blocks app with four tabs (Chat, Knowledge bases, Models, Settings), in Chinese
and English, mounted on the API's FastAPI app by `mount`."""

from __future__ import annotations

from typing import Any

import gradio as gr
from fastapi import FastAPI

from chatchat.resources import ASSETS_DIR
from chatchat.service import Services
from chatchat.ui.chat import ChatPage
from chatchat.ui.common import Context, Refresh, caller_of, guarded
from chatchat.ui.i18n import FRONTEND_LOCALE, I18N, choose_language, tr
from chatchat.ui.knowledge import KnowledgePage
from chatchat.ui.models import ModelsPage
from chatchat.ui.page import Events, Page
from chatchat.ui.settings import SettingsPage

LOGO = ASSETS_DIR / "logo.svg"
STYLE = ASSETS_DIR / "style.css"
LANG_KEY = "chatchat-lang"  # localStorage: the language a person picked in this browser

# What the browser knows of its person's languages: their own pick (if any) and navigator.languages.
COLLECT_LANGUAGE_JS = f"""
() => {{
  let saved = "";
  try {{ saved = localStorage.getItem("{LANG_KEY}") || ""; }} catch (e) {{}}
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  return saved + "|" + langs.join(",");
}}
"""

# Gradio translates labels in the browser with svelte-i18n; its locale store is exported by the core module
# as `changeLocale` (what Gradio's own settings panel calls). Importing the already loaded module by its URL
# returns that same instance. Run on the switch's change, whoever set it: the session's decision or a person.
APPLY_LANGUAGE_JS = f"""
async (lang) => {{
  if (!lang) return;
  const locale = {FRONTEND_LOCALE!r}[lang] || "en";
  const urls = performance.getEntriesByType("resource").map((e) => e.name)
    .concat([...document.querySelectorAll("link[rel=modulepreload]")].map((l) => l.href));
  const core = urls.find((u) => /\\/assets\\/core-[^/?]+\\.js(\\?|$)/.test(u));
  if (core) {{
    try {{ (await import(core)).changeLocale(locale); }} catch (e) {{ console.warn("chatchat: language switch", e); }}
  }}
  document.documentElement.lang = locale;
}}
"""
# A person's own pick is kept for this browser.
SAVE_LANGUAGE_JS = f"""
(lang) => {{
  try {{ localStorage.setItem("{LANG_KEY}", lang); }} catch (e) {{}}
  return lang;
}}
"""


def theme() -> gr.themes.Base:
    # system fonts only: nothing is fetched from a font CDN, and Chinese gets a proper CJK face
    sans = ["-apple-system", "BlinkMacSystemFont", "Segoe UI", "PingFang SC", "Hiragino Sans GB",
            "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "Helvetica Neue",
            "Arial", "sans-serif"]
    mono = ["SFMono-Regular", "Menlo", "Consolas", "Noto Sans Mono CJK SC", "monospace"]
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="sky", neutral_hue="slate", font=sans, font_mono=mono)


def page_options(services: Services) -> dict[str, Any]:
    """Keyword arguments for gr.mount_gradio_app (and Blocks.launch): look, language, limits, login."""
    settings = services.settings
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    return {
        "auth": auth,
        "auth_message": "Chatchat",
        "css_paths": [STYLE],
        "theme": theme(),
        "i18n": I18N,
        "favicon_path": str(LOGO),
        "footer_links": [],
        "run_history": False,  # else the browser keeps every run's inputs, provider keys included
        "max_file_size": settings.max_upload_mb * 2**20,
        "show_error": False,
    }


def header() -> gr.Radio:
    logo = LOGO.read_text(encoding="utf-8")
    with gr.Row(elem_id="cc-header", equal_height=True):
        gr.HTML(f'<div class="cc-brand">{logo}<span class="cc-title">Chatchat</span></div>', elem_id="cc-brand",
                padding=False)
        with gr.Column(scale=1, min_width=200, elem_id="cc-tagline-col"):
            gr.Markdown(tr("app.tagline"), elem_id="cc-tagline")
        # no value until the session's language is decided: setting it then is always a change
        lang = gr.Radio(
            choices=[("中文", "zh"), ("English", "en")], value=None, show_label=False, container=False,
            elem_id="cc-lang", scale=0, min_width=190,
        )
    return lang


def make_pages(ctx: Context, events: Events) -> dict[str, Page]:
    """The tabs by id, in their order."""
    return {
        "chat": ChatPage(ctx, events),
        "kb": KnowledgePage(ctx, events),
        "models": ModelsPage(ctx, events),
        "settings": SettingsPage(ctx, events),
    }


def build_ui(services: Services) -> gr.Blocks:
    """The whole UI, for one process; each browser session keeps its own state in it."""
    with gr.Blocks(title="Chatchat", fill_width=True, delete_cache=(3600, 86400)) as demo:
        lang = header()
        events = Events.create()
        with gr.Tabs(elem_id="cc-tabs") as tabs:
            pages = make_pages(Context(services=services, lang=lang, tabs=tabs), events)
            buttons = {}
            for tab_id, page in pages.items():
                with gr.Tab(tr(f"tab.{tab_id}"), id=tab_id, elem_id=f"tab-{tab_id}") as buttons[tab_id]:
                    page.build()
        for page in pages.values():
            page.register_events()
        register_session(demo, services, lang, pages, buttons)
    demo.queue(default_concurrency_limit=4, max_size=256)
    return demo


def register_session(demo: gr.Blocks, services: Services, lang: gr.Radio, pages: dict[str, Page],
                     buttons: dict[str, gr.Tab]) -> None:
    """What runs for a browser session as a whole: its language is chosen when it loads and every page
    renders in it; a language switch renders them again; when it ends, the pages and the policy let go
    of what they kept for it. Tab switches render nothing: a page follows the named events instead."""
    browser = gr.Textbox(visible=False)
    # the session's language as the server decided it: what the refreshes render in, never the switch's value
    # in the browser, which an event fired as the page loads reads before the decision (Gradio fires the
    # first tab's select then: a render chained to it once turned a first Chinese session's notice English)
    language = gr.State("en")

    def decide(seen: str, request: gr.Request) -> tuple[str, str]:
        saved, _, languages = (seen or "").partition("|")
        accept = request.headers.get("accept-language") if request else None
        chosen = choose_language(saved, languages.split(","), accept, services.settings.language)
        return chosen, chosen

    # Gradio draws the buttons of tabs not on screen once: give them their labels again in the new language
    relabel = Refresh(lambda: [gr.Tab(label=tr(f"tab.{tab_id}")) for tab_id in buttons], [], list(buttons.values()))
    everything = [relabel, *(refresh for page in pages.values() for refresh in page.refreshes())]

    def then_refresh(event) -> None:
        for refresh in everything:
            inputs = [language if component is lang else component for component in refresh.inputs]
            event = event.then(guarded(refresh.fn), inputs, refresh.outputs, concurrency_limit=None)

    lang.change(None, [lang], None, js=APPLY_LANGUAGE_JS)
    then_refresh(demo.load(decide, [browser], [lang, language], js=COLLECT_LANGUAGE_JS, concurrency_limit=None))
    then_refresh(lang.input(lambda picked: picked, [lang], [language], js=SAVE_LANGUAGE_JS, concurrency_limit=None))

    def end_session(request: gr.Request) -> None:
        caller = caller_of(request)
        for page in pages.values():
            page.end_session(caller.session)
        services.policy.end_session(services, caller)

    demo.unload(end_session)


def mount(app: FastAPI, services: Services) -> FastAPI:
    """Serve the UI at / of the API's app."""
    return gr.mount_gradio_app(app, build_ui(services), path="/", **page_options(services))
