"""The Models tab's section for model servers the user runs and any provider's models: pick a server or provider,
check its address, list what it offers (chatchat.models.discovery: its GET /models, only on the List button), and
add one of its models (or a name typed in, such as an Azure deployment) as a chat or embedding model. Built only
where the policy lets models be managed; an addition is announced through `events.models`."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from chatchat.config import KeyStore
from chatchat.errors import ModelError
from chatchat.models.catalog import ProviderEntry
from chatchat.models.discovery import ServedModel, add_served, list_models, with_address
from chatchat.service import Services
from chatchat.ui.common import Refresh, guarded, info
from chatchat.ui.i18n import t, tr
from chatchat.ui.page import Events, bump

ADD_AS = {"chat": "llm", "embedding": "embedding"}  # what a listed model is added as, by the kind it was listed with


def provider_choices(services: Services) -> list[tuple[str, str]]:
    """The servers the user runs (discover presets) first, then the cloud providers."""
    providers = sorted(services.catalog.providers.values(), key=lambda p: not p.discover)
    return [(p.name, p.id) for p in providers]


def preset_models(provider: ProviderEntry) -> list[ServedModel]:
    """What the catalog itself lists for a provider: its chat models, then its embedding models."""
    return [*(ServedModel(m, "chat", None, None) for m in provider.chat_models),
            *(ServedModel(m, "embedding", None, dim) for m, dim in provider.embedding_models.items())]


def offered_frame(models: list[ServedModel], lang: str, listed: bool) -> pd.DataFrame:
    """The models table: a server's own list (`listed`), or the catalog's preset names before that."""
    rows = []
    for m in models:
        kind = t(f"servers.kind.{m.kind or 'unknown'}", lang)
        rows.append([m.id, kind if listed else f"{kind} · {t('servers.kind.preset', lang)}", m.context or ""])
    return pd.DataFrame(rows, columns=[t(f"servers.col.{c}", lang) for c in ("model", "kind", "context")])


def remembered(models: list[ServedModel]) -> dict[str, list]:
    """What the section keeps of a list between clicks: name -> [kind, context, dim]."""
    return {m.id: [m.kind, m.context, m.dim] for m in models}


def server_models(services: Services, provider_id: str, address: str | None) -> list[ServedModel]:
    """The server's own list, asked now (the List button), at the address in the field."""
    provider = with_address(services.catalog.provider(provider_id), address)
    return list_models(provider, KeyStore(services.settings.home).get(provider.id, provider.key_env))


def add_offered(services: Services, provider_id: str, address: str | None, model: str, kind: str,
                offered: dict[str, list] | None = None) -> str:
    """Add the model as a chat (`llm`) or embedding model; the process's catalog lists it at once. `offered`
    (the last list, name → [kind, context, dim]) lends the context and dimension the server reported."""
    provider = with_address(services.catalog.provider(provider_id), address)
    _, context, dim = (offered or {}).get((model or "").strip(), [None, None, None])
    model_id = add_served(services.settings, services.catalog, provider, model, "embedding" if kind == "embedding" else "llm",
                          api_key=KeyStore(services.settings.home).get(provider.id, provider.key_env),
                          context=context, dim=dim)
    services.models.reload()
    return model_id


class ServersSection:
    def __init__(self, services: Services, events: Events, lang: gr.Radio):
        self.services, self.events, self.lang = services, events, lang

    def build(self) -> None:
        choices = provider_choices(self.services)
        first = self.services.catalog.provider(choices[0][1])
        with gr.Group(elem_id="models-servers"):
            gr.Markdown(tr("servers.title"), elem_classes=["cc-group-title"])
            gr.Markdown(tr("servers.note"), elem_classes=["cc-group-title"])  # cc-note would not wrap
            with gr.Row(equal_height=True):
                self.provider = gr.Dropdown(choices, value=first.id, label=tr("servers.provider"), scale=1,
                                            elem_id="servers-provider")
                self.address = gr.Textbox(first.base_url, label=tr("servers.address"), scale=2, elem_id="servers-address")
                self.list_btn = gr.Button(tr("servers.list"), size="sm", scale=0, min_width=140, elem_id="servers-list")
            self.found = gr.Markdown(elem_id="servers-found")
            self.table = gr.Dataframe(interactive=False, wrap=True, max_height=300, elem_id="servers-table")
            self.offered = gr.State({})  # the last list: name -> [kind, context, dim]
            with gr.Row(equal_height=True):
                self.model = gr.Dropdown([], value=None, allow_custom_value=True, label=tr("servers.model"), scale=2,
                                         elem_id="servers-model")
                self.kind = gr.Radio([(tr("servers.as.llm"), "llm"), (tr("servers.as.embedding"), "embedding")],
                                     value="llm", label=tr("servers.as"), scale=1, elem_id="servers-kind")
                self.add_btn = gr.Button(tr("servers.add"), size="sm", variant="primary", scale=0, min_width=120,
                                         elem_id="servers-add")

    @property
    def shown(self) -> list:
        return [self.address, self.found, self.table, self.model, self.offered]

    def refreshes(self) -> list[Refresh]:
        return [Refresh(self._preset, [self.provider, self.lang], self.shown)]

    def register_events(self) -> None:
        shown = self.shown
        self.provider.change(self._preset, [self.provider, self.lang], shown, concurrency_limit=None)
        self.list_btn.click(self._list, [self.provider, self.address, self.lang], shown[1:])
        self.model.change(self._picked, [self.model, self.offered], [self.kind], concurrency_limit=None)
        self.add_btn.click(self._add, [self.provider, self.address, self.model, self.kind, self.offered, self.lang],
                           [self.events.models])

    # --- handlers ----------------------------------------------------------------------------------
    @guarded
    def _preset(self, provider_id: str, lang_: str) -> tuple:
        provider = self.services.catalog.provider(provider_id)
        models = preset_models(provider)
        return (provider.base_url, "", offered_frame(models, lang_, listed=False),
                gr.update(choices=[m.id for m in models], value=None), remembered(models))

    @guarded
    def _list(self, provider_id: str, address: str, lang_: str) -> tuple:
        self._owner_only(lang_)
        models = server_models(self.services, provider_id, address)
        name = self.services.catalog.provider(provider_id).name
        found = t("servers.found", lang_, provider=name, count=len(models)) if models else \
            t("servers.none", lang_, provider=name)
        return (found, offered_frame(models, lang_, listed=True), gr.update(choices=[m.id for m in models], value=None),
                remembered(models))

    def _picked(self, model: str | None, offered: dict[str, list]) -> dict:
        kind = (offered or {}).get(model or "", [None])[0]
        return gr.update(value=ADD_AS[kind]) if kind in ADD_AS else gr.update()

    @guarded
    def _add(self, provider_id: str, address: str, model: str, kind: str, offered: dict, lang_: str):
        self._owner_only(lang_)
        model_id = add_offered(self.services, provider_id, address, model, kind, offered)
        info(t("servers.added", lang_, name=model.strip(), id=model_id))
        return bump()

    def _owner_only(self, lang_: str) -> None:
        if not self.services.policy.may_manage_models():
            raise ModelError(t("models.space_read_only", lang_))
