"""The web UI: one Gradio Blocks app with four tabs (Chat, Knowledge bases, Models, Settings), in Chinese
and English, mounted on the API's FastAPI app by `mount`."""

from __future__ import annotations

from typing import Any

import gradio as gr
from fastapi import FastAPI

from chatchat.resources import shipped
from chatchat.service import Services
from chatchat.ui import chat, knowledge, models, settings as settings_tab
from chatchat.ui.common import Context, Refresh, guarded, session_of
from chatchat.ui.i18n import FRONTEND_LOCALE, I18N, choose_language, tr

ASSETS = shipped("assets")
LOGO = ASSETS / "logo.svg"
STYLE = ASSETS / "style.css"
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
# returns that same instance. `save` keeps a person's pick for this browser.
def apply_language_js(save: bool) -> str:
    store = f'try {{ localStorage.setItem("{LANG_KEY}", lang); }} catch (e) {{}}' if save else ""
    return f"""
async (lang) => {{
  {store}
  const locale = {FRONTEND_LOCALE!r}[lang] || "en";
  const urls = performance.getEntriesByType("resource").map((e) => e.name)
    .concat([...document.querySelectorAll("link[rel=modulepreload]")].map((l) => l.href));
  const core = urls.find((u) => /\\/assets\\/core-[^/?]+\\.js(\\?|$)/.test(u));
  if (core) {{
    try {{ (await import(core)).changeLocale(locale); }} catch (e) {{ console.warn("chatchat: language switch", e); }}
  }}
  document.documentElement.lang = locale;
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
        lang = gr.Radio(
            choices=[("中文", "zh"), ("English", "en")], value="en", show_label=False, container=False,
            elem_id="cc-lang", scale=0, min_width=190,
        )
    return lang


def build_ui(services: Services) -> gr.Blocks:
    """The whole UI, for one process; each browser session keeps its own state in it."""
    with gr.Blocks(title="Chatchat", fill_width=True, delete_cache=(3600, 86400)) as demo:
        lang = header()
        browser = gr.Textbox(visible=False)
        ctx = Context(services=services, lang=lang)
        with gr.Tabs(elem_id="cc-tabs") as tabs:
            with gr.Tab(tr("tab.chat"), id="chat", elem_id="tab-chat") as chat_tab:
                chat_refresh = chat.build(ctx, tabs)
            with gr.Tab(tr("tab.kb"), id="kb", elem_id="tab-kb") as kb_tab:
                kb_refresh = knowledge.build(ctx)
            with gr.Tab(tr("tab.models"), id="models", elem_id="tab-models") as models_tab:
                models_refresh = models.build(ctx)
            with gr.Tab(tr("tab.settings"), id="settings", elem_id="tab-settings") as settings_tab_:
                settings_refresh = settings_tab.build(ctx)
        tabs_refresh = {chat_tab: chat_refresh, kb_tab: kb_refresh, models_tab: models_refresh,
                        settings_tab_: settings_refresh}

        def decide(seen: str, request: gr.Request) -> str:
            saved, _, languages = (seen or "").partition("|")
            accept = request.headers.get("accept-language") if request else None
            return choose_language(saved, languages.split(","), accept, services.settings.language)

        def then_refresh(event, refreshes: list[Refresh]):
            for refresh in refreshes:
                event = event.then(guarded(refresh.fn), refresh.inputs, refresh.outputs, concurrency_limit=None)

        # Gradio draws the buttons of tabs not on screen once: give them their labels again in the new language
        labels = {chat_tab: "tab.chat", kb_tab: "tab.kb", models_tab: "tab.models", settings_tab_: "tab.settings"}
        relabel = Refresh(lambda: [gr.Tab(label=tr(key)) for key in labels.values()], [], list(labels))
        everything = [relabel, *(r for refreshes in tabs_refresh.values() for r in refreshes)]
        loaded = demo.load(decide, [browser], [lang], js=COLLECT_LANGUAGE_JS, concurrency_limit=None)
        then_refresh(loaded.then(None, [lang], [lang], js=apply_language_js(save=False)), everything)
        picked = lang.input(None, [lang], [lang], js=apply_language_js(save=True))
        then_refresh(picked, everything)
        # another session or the CLI may have changed knowledge bases or models since: show what is there now
        for tab, refreshes in tabs_refresh.items():
            then_refresh(tab.select(None), refreshes)

        def end_session(request: gr.Request) -> None:
            session = session_of(request)
            chat.end_session(services, session)
            knowledge.end_session(services, session)

        demo.unload(end_session)
    demo.queue(default_concurrency_limit=4, max_size=256)
    return demo


def mount(app: FastAPI, services: Services) -> FastAPI:
    """Serve the UI at / of the API's app."""
    return gr.mount_gradio_app(app, build_ui(services), path="/", **page_options(services))
