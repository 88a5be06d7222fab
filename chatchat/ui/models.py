"""The Models tab: the catalog with what is installed, loaded and the default; load and unload; download
with progress and cancel; delete. The model manager (`services.models`) and the loaded-model manager
(`services.llms`) do the work."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from chatchat.models.downloads import human
from chatchat.errors import InvalidName, ModelError
from chatchat.models.manager import ModelStatus
from chatchat.service import Services
from chatchat.ui.common import Refresh, esc, guarded, info
from chatchat.ui.i18n import error_text, t, tr
from chatchat.ui.model_servers import ServersSection
from chatchat.ui.page import Page, bump

POLL_SECONDS = 1.0  # download progress refresh while a download runs


def chat_models_installed(services: Services) -> bool:
    return any(s.installed and s.kind == "llm" and s.entry.chat and s.entry.is_local
               for s in services.models.models("llm"))


def _state(status: ModelStatus, lang: str, served: set[str]) -> str:
    job = status.job
    if job is not None and job.active:
        fraction = job.progress.fraction if job.progress else None
        return t("models.downloading", lang, pct=f"{fraction * 100:.0f}%" if fraction is not None else "…")
    if not status.entry.is_local:
        return t("models.served" if status.entry.provider in served else "models.cloud", lang)
    if status.installed:
        return t("models.installed", lang)
    if job is not None and job.status == "failed":
        return t("models.failed", lang)
    if status.partial_bytes:
        return t("models.partial", lang, size=human(status.partial_bytes))
    return t("models.not_installed", lang)


def _fit(status: ModelStatus, lang: str) -> str:
    if status.fit is None:
        return ""
    text = t(f"fit.{status.fit.cpu}", lang)
    if status.fit.cpu != "no" and status.fit.slow:
        speed = status.fit.cpu_tokens_per_s
        text = t("fit.slow", lang, fit=text, tps=f"{speed:.0f}" if speed >= 1 else f"{speed:.1f}")
    if status.fit.gpu:
        text += f" · GPU {t(f'fit.{status.fit.gpu}', lang)}"
    return text


def catalog_frame(services: Services, lang: str) -> pd.DataFrame:
    loaded = set(services.llms.loaded())
    served = {p.id for p in services.catalog.providers.values() if p.discover}  # servers the user runs
    rows = []
    for status in services.models.models():
        entry = status.entry
        kind = "embedding" if status.kind == "embedding" else ("llm" if getattr(entry, "chat", True) else "base")
        size = status.disk_bytes or status.download_bytes
        marks = ("★ " if status.default else "") + ("● " if entry.id in loaded else "")
        rows.append([
            marks + entry.name, entry.id, t(f"models.kind.{kind}", lang), getattr(entry, "engine", "onnx"),
            human(size) if size else "", ", ".join(entry.languages), _state(status, lang, served), _fit(status, lang),
        ])
    headers = [t(f"models.col.{c}", lang) for c in ("name", "id", "kind", "engine", "size", "languages", "state", "fit")]
    return pd.DataFrame(rows, columns=headers)


def hardware_line(services: Services, lang: str) -> str:
    hw = services.models.hardware()
    gpus = ", ".join(f"{g.name} ({human(g.free_mb * 2**20)} / {human(g.total_mb * 2**20)})" for g in hw.gpus)
    return t(
        "models.hardware", lang, cpu=hw.cpu, cores=hw.cores, threads=hw.threads,
        ram=human(hw.ram_available_mb * 2**20), ram_total=human(hw.ram_total_mb * 2**20),
        gpu=gpus or t("models.no_gpu", lang), disk=human(hw.disk_free_mb * 2**20),
    )


def downloads_html(services: Services, lang: str) -> str:
    """Running and queued downloads with a bar each, and the reason of any that failed."""
    rows = []
    for job in services.models.downloads.jobs():
        if job.status == "failed":
            rows.append(
                f'<li class="cc-file cc-failed"><span class="cc-name">{esc(job.model_id)}</span>'
                f'<span class="cc-stage">{esc(t("models.job.failed", lang))}</span>'
                f'<span class="cc-note">{esc(error_text(job.failure, lang) if job.failure else job.error or "")}</span></li>'
            )
        if not job.active:
            continue
        p = job.progress
        share = (p.fraction or 0.0) if p else 0.0
        detail = ""
        if p is not None:
            total = human(p.total) if p.total else "?"
            eta = f" · {int(p.eta)} s" if p.eta else ""
            detail = f"{human(p.done)} / {total} · {human(p.speed)}/s{eta}"
        rows.append(
            f'<li class="cc-file cc-embed"><span class="cc-name">{esc(job.model_id)}</span>'
            f'<span class="cc-stage">{esc(t("models.job." + job.status, lang))}</span>'
            f'<span class="cc-bar"><span style="width:{share * 100:.0f}%"></span></span>'
            f'<span class="cc-note">{esc(detail)}</span></li>'
        )
    return f'<div class="cc-progress"><ul class="cc-files">{"".join(rows)}</ul></div>' if rows else ""


class ModelsPage(Page):
    """The Models tab. It announces `events.models` whenever what its table shows changes (a download that
    ends, a delete, a new default, a model loaded or unloaded), and re-renders on `events.models` and
    `events.settings` from the other tabs."""

    def build(self) -> None:
        self.selected = gr.State(None)
        self.seen = gr.State(None)  # the table's last state, to tell a change worth announcing
        self.hint = gr.Markdown(visible=False, elem_classes=["cc-hint"], elem_id="models-hint")
        self.hardware = gr.Markdown(elem_classes=["cc-note"], elem_id="models-hardware")
        self.table = gr.Dataframe(interactive=False, wrap=True, elem_id="models-table", max_height=460,
                                  column_widths=["24%", "16%", "8%", "9%", "8%", "8%", "14%", "13%"])
        # on a Hugging Face Space the visitors share one machine: the models are the owner's to change
        with gr.Row(elem_classes=["cc-doc-actions"], visible=self.services.policy.may_manage_models()):
            self.picked = gr.Markdown(tr("models.pick"), elem_id="models-selected")
            self.load_btn = gr.Button(tr("models.load"), size="sm", variant="primary", interactive=False,
                                      elem_id="models-load")
            self.unload_btn = gr.Button(tr("models.unload"), size="sm", interactive=False, elem_id="models-unload")
            self.default_btn = gr.Button(tr("models.make_default"), size="sm", interactive=False,
                                         elem_id="models-default")
            self.pull_btn = gr.Button(tr("models.download"), size="sm", interactive=False, elem_id="models-download")
            self.cancel_btn = gr.Button(tr("models.cancel"), size="sm", variant="stop", interactive=False,
                                        elem_id="models-cancel")
            self.delete_btn = gr.Button(tr("models.delete"), size="sm", variant="stop", interactive=False,
                                        elem_id="models-delete")
        self.progress = gr.HTML(elem_id="models-progress")
        gr.Markdown(tr("models.legend"), elem_classes=["cc-note"])
        self.servers = ServersSection(self.services, self.events, self.ctx.lang)  # model servers, providers' models
        if self.services.policy.may_manage_models():
            self.servers.build()
        self.timer = gr.Timer(POLL_SECONDS, active=False)
        self.actions = [self.load_btn, self.unload_btn, self.default_btn, self.pull_btn, self.cancel_btn,
                        self.delete_btn]
        self.outputs = [self.hint, self.hardware, self.table, self.progress, self.timer, *self.actions, self.seen,
                        self.events.models]

    def register_events(self) -> None:
        lang = self.ctx.lang
        inputs = [self.selected, lang, self.seen]
        self.table.select(self._pick, [lang], [self.selected, self.picked, *self.actions], concurrency_limit=None)
        for button, handler in ((self.load_btn, self._load), (self.unload_btn, self._unload),
                                (self.default_btn, self._make_default), (self.pull_btn, self._download),
                                (self.cancel_btn, self._cancel), (self.delete_btn, self._delete)):
            button.click(guarded(handler), inputs, self.outputs,
                         concurrency_id="models" if handler == self._load else None)
        self.timer.tick(guarded(self._view), inputs, self.outputs, concurrency_limit=None, show_progress="hidden")
        for event in (self.events.models, self.events.settings):
            event.change(guarded(self._view), inputs, self.outputs, concurrency_limit=None, show_progress="hidden")
        if self.services.policy.may_manage_models():
            self.servers.register_events()

    def refreshes(self) -> list[Refresh]:
        servers = self.servers.refreshes() if self.services.policy.may_manage_models() else []
        return [Refresh(guarded(self._view), [self.selected, self.ctx.lang, self.seen], self.outputs), *servers]

    # --- rendering ---------------------------------------------------------------------------------
    def _buttons(self, model_id: str | None) -> dict:
        if not model_id:
            return {button: gr.update(interactive=False) for button in self.actions}
        status = self.services.models.status(model_id)
        job = status.job
        downloading = job is not None and job.active
        chat = status.kind == "llm" and getattr(status.entry, "chat", True)
        loaded = model_id in self.services.llms.loaded()
        return {
            self.load_btn: gr.update(interactive=chat and status.installed and not loaded),
            self.unload_btn: gr.update(interactive=loaded),
            self.default_btn: gr.update(interactive=status.installed and not status.default
                                        and (chat or status.kind == "embedding")),
            self.pull_btn: gr.update(interactive=status.entry.is_local and not status.installed and not downloading),
            self.cancel_btn: gr.update(interactive=downloading),
            self.delete_btn: gr.update(interactive=status.installed and status.entry.is_local and not status.shipped
                                       and not status.default),
        }

    def _snapshot(self) -> list:
        loaded = set(self.services.llms.loaded())
        return [[s.entry.id, s.installed, s.default, s.entry.id in loaded] for s in self.services.models.models()]

    def _view(self, model_id: str | None, lang_: str, seen: list | None) -> dict:
        services = self.services
        active = any(job.active for job in services.models.downloads.jobs())
        now = self._snapshot()
        return {
            self.hint: gr.update(value=t("models.empty", lang_), visible=not chat_models_installed(services)),
            self.hardware: hardware_line(services, lang_),
            self.table: catalog_frame(services, lang_),
            self.progress: downloads_html(services, lang_),
            self.timer: gr.Timer(active=active),
            self.seen: now,
            self.events.models: gr.skip() if seen is None or now == seen else bump(),
            **self._buttons(model_id),
        }

    def _pick(self, evt: gr.SelectData, lang_: str) -> dict:
        row = evt.row_value or []
        model_id = str(row[1]) if len(row) > 1 else None
        label = t("models.selected", lang_, name=row[0].lstrip("★● ")) if model_id else t("models.pick", lang_)
        return {self.selected: model_id, self.picked: label, **self._buttons(model_id)}

    # --- actions -----------------------------------------------------------------------------------
    def _need(self, model_id: str | None, lang_: str) -> str:
        if not self.services.policy.may_manage_models():
            raise ModelError(t("models.space_read_only", lang_))
        if not model_id:
            raise InvalidName(t("models.pick", lang_))
        return model_id

    def _load(self, model_id: str | None, lang_: str, seen: list | None) -> dict:
        model = self.services.llms.get(self._need(model_id, lang_))
        info(t("models.loaded_msg", lang_, name=model.model_id))
        return self._view(model_id, lang_, seen)

    def _unload(self, model_id: str | None, lang_: str, seen: list | None) -> dict:
        self.services.llms.unload(self._need(model_id, lang_))
        info(t("models.unloaded_msg", lang_, name=model_id))
        return self._view(model_id, lang_, seen)

    def _make_default(self, model_id: str | None, lang_: str, seen: list | None) -> dict:
        self.services.models.set_default(self._need(model_id, lang_))
        info(t("models.default_msg", lang_, name=model_id))
        return self._view(model_id, lang_, seen)

    def _download(self, model_id: str | None, lang_: str, seen: list | None) -> dict:
        self.services.models.pull(self._need(model_id, lang_))
        info(t("models.download_started", lang_, name=model_id))
        return self._view(model_id, lang_, seen)

    def _cancel(self, model_id: str | None, lang_: str, seen: list | None) -> dict:
        self.services.models.cancel(self._need(model_id, lang_))
        return self._view(model_id, lang_, seen)

    def _delete(self, model_id: str | None, lang_: str, seen: list | None) -> dict:
        model_id = self._need(model_id, lang_)
        self.services.llms.unload(model_id)
        self.services.models.delete(model_id)
        info(t("models.deleted_msg", lang_, name=model_id))
        return self._view(model_id, lang_, seen)
