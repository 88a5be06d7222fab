"""The Chat tab's search-engine and agent modes: which modes are offered (search-engine chat only where the
policy lets this app search the web), the agent's "use the web" switch (its knowledge bases are the
knowledge-base picker's), an answer's options in each mode, and the panel that asks the person's OK
before a tool that asks first runs (chatchat.ui.agent_steps.Approvals)."""

from __future__ import annotations

import threading
from typing import Any

import gradio as gr

from chatchat.service import Services
from chatchat.ui.agent_steps import Approvals, Asking, approval_text
from chatchat.ui.common import caller_of
from chatchat.ui.i18n import tr

BASE_MODES = ("llm", "kb", "file")
KB_MODES = ("kb", "agent")  # modes that read the knowledge-base picker


class ChatModes:
    def __init__(self, services: Services):
        self.services = services
        self.approvals = Approvals()

    def web_allowed(self) -> bool:
        return self.services.policy.may_search_web(self.services.settings)

    def modes(self) -> tuple[str, ...]:
        return (*BASE_MODES, *(("web",) if self.web_allowed() else ()), "agent")

    def no_provider(self, mode_: str) -> bool:
        """Search-engine mode with no search engine picked in Settings yet."""
        return mode_ == "web" and not self.services.settings.web_provider

    # --- components -------------------------------------------------------------------------------
    def build_bar(self) -> None:
        self.use_web = gr.Checkbox(value=False, label=tr("agent.use_web"), visible=False, elem_id="chat-use-web",
                                   scale=1)

    def build_panel(self) -> None:
        with gr.Group(visible=False, elem_id="chat-approval", elem_classes=["cc-approval"]) as self.panel:
            self.ask_text = gr.Markdown(elem_id="chat-approval-text")
            with gr.Row():
                self.allow_btn = gr.Button(tr("agent.allow"), variant="primary", size="sm", elem_id="chat-allow")
                self.deny_btn = gr.Button(tr("agent.deny"), variant="stop", size="sm", elem_id="chat-deny")

    @property
    def outputs(self) -> list:
        return [self.panel, self.ask_text]

    # --- views ------------------------------------------------------------------------------------
    def setup_view(self, mode_: str) -> dict:
        return {self.use_web: gr.update(visible=mode_ == "agent" and self.web_allowed())}

    def panel_view(self, asking: Asking | None, lang: str) -> dict:
        return {self.panel: gr.update(visible=asking is not None), self.ask_text: approval_text(asking, lang)}

    def options(self, mode_: str, model_: str | None, tokens_default: int, params: tuple, use_web: bool) -> dict:
        """An answer's options from the sliders (temperature, top_k, threshold, max_tokens): max_tokens left
        at `tokens_default` (the setting's) means the model's own default (the tiny demo model rambles on
        for minutes with a large one). An agent answer takes the temperature, max_tokens and the web switch."""
        temperature, top_k, threshold, max_tokens = params
        settings = self.services.settings
        tokens = int(max_tokens)
        if tokens == tokens_default:
            tokens = self.services.catalog.default_max_tokens(model_ or settings.default_llm, settings.max_tokens)
        if mode_ == "agent":
            return {"temperature": float(temperature), "max_tokens": tokens, "web": bool(use_web) and self.web_allowed()}
        if mode_ == "web":  # web pages are ranked among themselves: no score threshold
            return {"temperature": float(temperature), "top_k": int(top_k), "max_tokens": tokens}
        return {"temperature": float(temperature), "top_k": int(top_k), "score_threshold": float(threshold),
                "max_tokens": tokens}

    def with_approval(self, mode_: str, options: dict, session: str, stop: threading.Event) -> dict:
        """An agent turn asks this session before a tool that asks first (Stop refuses it)."""
        if mode_ != "agent":
            return options
        return {**options, "approve": self.approvals.asker(session, stop)}

    # --- wiring -----------------------------------------------------------------------------------
    def decide(self, allowed: bool):
        def handler(request: gr.Request) -> dict[Any, Any]:
            self.approvals.decide(caller_of(request).session, allowed)
            return gr.update(visible=False)

        return handler

    def register_events(self) -> None:
        now = {"concurrency_limit": None}
        self.allow_btn.click(self.decide(True), None, self.panel, **now)
        self.deny_btn.click(self.decide(False), None, self.panel, **now)

