"""The Settings tab's search-engine and tool sections: which search engine search-engine chat uses (none
until one is picked), its SearXNG address, pages per question and timeout (the search engines' API keys
are in the tab's one keys table: chatchat.ui.settings.key_owners); the MCP tool servers of agent chat
(name, command or URL, on/off, ask before running) and the agent's step limit. Everything goes through
config.save_settings; the section is built only where the policy lets settings change."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from chatchat.config import Settings, save_settings
from chatchat.errors import SettingsError
from chatchat.service import Services
from chatchat.ui.common import Refresh, guarded, info
from chatchat.ui.i18n import t, tr
from chatchat.ui.page import Events, bump
from chatchat.web import registry


def mcp_frame(settings: Settings, lang: str) -> pd.DataFrame:
    rows = [[s.name, s.url or s.command, "✓" if s.enabled else "—", "✓" if s.ask_before_run else "—"]
            for s in settings.mcp_servers]
    return pd.DataFrame(rows, columns=[t(f"mcp.{c}", lang) for c in ("name", "target", "enabled", "ask")])


def with_server(settings: Settings, name: str, target: str, enabled: bool, ask: bool) -> list[dict]:
    """The MCP servers with `name` added (or replaced): a target that is an http(s) URL is a streamable
    HTTP server, anything else the command line of a stdio one."""
    target = (target or "").strip()
    url = target if target.startswith(("http://", "https://")) else ""
    server = {"name": (name or "").strip(), "command": "" if url else target, "url": url, "enabled": bool(enabled),
              "ask_before_run": bool(ask)}
    return [*without_server(settings, server["name"]), server]


def without_server(settings: Settings, name: str) -> list[dict]:
    return [s.model_dump() for s in settings.mcp_servers if s.name != (name or "").strip()]


class WebToolsSection:
    def __init__(self, services: Services, events: Events, lang: gr.Radio):
        self.services, self.events, self.lang = services, events, lang

    def build(self) -> None:
        s = self.services.settings
        with gr.Group(elem_id="set-web"):
            gr.Markdown(tr("web.provider"), elem_classes=["cc-group-title"])
            self.provider = gr.Dropdown([(tr("web.provider_none"), ""), *registry.choices()], value=s.web_provider,
                                        label=tr("web.provider"), info=tr("web.provider_info"), elem_id="set-web-provider")
            self.searxng_url = gr.Textbox(value=s.web_searxng_url, label=tr("web.searxng_url"),
                                          info=tr("web.searxng_url_info"), elem_id="set-web-searxng")
            with gr.Row():
                self.results = gr.Number(value=s.web_results, precision=0, minimum=1, maximum=20,
                                         label=tr("web.results"), elem_id="set-web-results")
                self.timeout = gr.Number(value=s.web_timeout_s, minimum=1, maximum=120, label=tr("web.timeout"),
                                         elem_id="set-web-timeout")
        with gr.Group(elem_id="set-mcp"):
            gr.Markdown(tr("mcp.title"), elem_classes=["cc-group-title"])
            self.servers = gr.Dataframe(interactive=False, wrap=True, elem_id="set-mcp-table")
            with gr.Row(equal_height=True):
                self.name = gr.Textbox(label=tr("mcp.name"), scale=1, elem_id="set-mcp-name")
                self.target = gr.Textbox(label=tr("mcp.target"), info=tr("mcp.target_info"), scale=3,
                                         elem_id="set-mcp-target")
            with gr.Row(equal_height=True):
                self.enabled = gr.Checkbox(value=True, label=tr("mcp.enabled"), elem_id="set-mcp-enabled")
                self.ask = gr.Checkbox(value=True, label=tr("mcp.ask"), elem_id="set-mcp-ask")
                self.add_btn = gr.Button(tr("mcp.add"), size="sm", variant="primary", elem_id="set-mcp-add")
                self.remove_btn = gr.Button(tr("mcp.remove"), size="sm", variant="stop", elem_id="set-mcp-remove")
            self.max_steps = gr.Number(value=s.agent_max_steps, precision=0, minimum=1, maximum=30,
                                       label=tr("mcp.max_steps"), elem_id="set-agent-steps")
        self.save_btn = gr.Button(tr("web.save"), variant="primary", elem_id="set-web-save")

    @property
    def outputs(self) -> list:
        return [self.provider, self.searxng_url, self.results, self.timeout, self.max_steps, self.servers]

    def current(self, lang_: str) -> dict:
        s = self.services.settings
        return {self.provider: s.web_provider, self.searxng_url: s.web_searxng_url, self.results: s.web_results,
                self.timeout: s.web_timeout_s, self.max_steps: s.agent_max_steps, self.servers: mcp_frame(s, lang_)}

    def _saved(self, changes: dict, lang_: str) -> dict:
        if not self.services.policy.may_change_settings():
            raise SettingsError(t("settings.space_read_only", lang_))
        save_settings(self.services.settings, changes)
        info(t("settings.saved", lang_))
        return {**self.current(lang_), self.events.settings: bump()}

    @guarded
    def show(self, lang_: str):
        return self.current(lang_)

    @guarded
    def save(self, lang_: str, provider_, url_, results_, timeout_, max_steps_):
        return self._saved({"web_provider": provider_ or "", "web_searxng_url": (url_ or "").strip(),
                            "web_results": int(results_), "web_timeout_s": float(timeout_),
                            "agent_max_steps": int(max_steps_)}, lang_)

    @guarded
    def add(self, lang_: str, name_, target_, enabled_, ask_):
        return self._saved({"mcp_servers": with_server(self.services.settings, name_, target_, enabled_, ask_)}, lang_)

    @guarded
    def remove(self, lang_: str, name_):
        return self._saved({"mcp_servers": without_server(self.services.settings, name_)}, lang_)

    def register_events(self) -> None:
        lang, done = self.lang, [*self.outputs, self.events.settings]
        self.save_btn.click(self.save, [lang, self.provider, self.searxng_url, self.results, self.timeout,
                                        self.max_steps], done)
        self.add_btn.click(self.add, [lang, self.name, self.target, self.enabled, self.ask], done)
        self.remove_btn.click(self.remove, [lang, self.name], done)

    def refreshes(self) -> list[Refresh]:
        return [Refresh(self.show, [self.lang], self.outputs)]
