"""One object for the Models tab, the API and the CLI: the catalog, what is on disk, the hardware fit and
the download queue. It holds the process's catalog and keeps it in step with the user's models.yaml."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from chatchat.config import Settings, save_settings
from chatchat.errors import AlreadyExists, ModelError, NotFound
from chatchat.models import hardware
from chatchat.models.catalog import Catalog, EmbeddingEntry, LLMEntry
from chatchat.models.downloads import DownloadManager, Job, ProgressFn
from chatchat.models.install import delete, pull
from chatchat.models.layout import disk_bytes, installed_path, is_shipped, partial_bytes
from chatchat.models.sources import Entry, Source, source_of
from chatchat.models.user_catalog import add_model, forget, open_catalog, user_ids


@dataclass
class ModelStatus:
    id: str
    kind: Literal["llm", "embedding"]
    name: str
    entry: Entry
    installed: bool
    path: Path | None
    disk_bytes: int  # what the installed model takes
    download_bytes: int | None  # what a download takes, when the catalog knows
    partial_bytes: int  # an interrupted download kept for resume
    shipped: bool  # lives in a pip package
    user_added: bool
    default: bool
    fit: hardware.FitReport | None  # None for cloud models
    job: Job | None  # the latest download job of this model, if any


def set_default(settings: Settings, catalog: Catalog, model_id: str) -> None:
    """Make an installed chat or embedding model the default, saved in settings.yaml."""
    if model_id in catalog.llms:
        entry: Entry = catalog.llms[model_id]
        if not entry.chat:
            raise ModelError(f"'{model_id}' is a base model without a chat template: it cannot be the chat model.",
                             key="base_not_chat", model=model_id)
        field_name = "default_llm"
    elif model_id in catalog.embeddings:
        entry, field_name = catalog.embeddings[model_id], "default_embedding"
    else:
        raise NotFound(f"Unknown model '{model_id}'. List them with: chatchat models list")
    if entry.is_local and installed_path(settings, entry) is None:
        raise ModelError(f"'{model_id}' is not installed: pull it first (chatchat models pull {model_id}).",
                         key="not_installed", model=model_id)
    save_settings(settings, {field_name: model_id})


class ModelManager:
    """Catalog, disk, hardware fit and the download queue behind one object.

    `catalog` is the process's one catalog (Services.catalog); models added or forgotten here update it in
    place. Without one (a CLI command on its own), the manager opens the catalog itself.
    `listener(job)` is called from the download thread on each progress report and status change.
    """

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog | None = None,
        listener: Callable[[Job], None] | None = None,
        source: Source = "auto",
    ):
        self.settings = settings
        self.source = source
        self.catalog = catalog if catalog is not None else open_catalog(settings)
        self._sources: dict[str, Source] = {}
        self._hardware: hardware.Hardware | None = None
        self.downloads = DownloadManager(self._run, listener)

    def hardware(self, refresh: bool = False) -> hardware.Hardware:
        if self._hardware is None or refresh:
            self._hardware = hardware.detect(self.settings.models_dir)
        return self._hardware

    def entry(self, model_id: str) -> Entry:
        return self.catalog.entry(model_id)

    def status(self, model_id: str) -> ModelStatus:
        return self._status(self.entry(model_id), user_ids(self.settings))

    def _status(self, entry: Entry, added: set[str]) -> ModelStatus:
        settings = self.settings
        path = installed_path(settings, entry) if entry.is_local else None
        embedding = self.catalog.embeddings.get(settings.default_embedding)
        if isinstance(entry, LLMEntry) and entry.engine == "openai":
            report = None
        else:
            probe = path if path is not None and isinstance(entry, LLMEntry) and not entry.n_layers else None
            report = hardware.fit(entry, self.hardware(), embedding=embedding, model_path=probe)
        known = [f.size for f in entry.files]
        return ModelStatus(
            id=entry.id,
            kind="llm" if isinstance(entry, LLMEntry) else "embedding",
            name=entry.name,
            entry=entry,
            installed=path is not None or not entry.is_local,
            path=path,
            disk_bytes=disk_bytes(settings, entry) if path is not None else 0,
            download_bytes=sum(known) if known and all(known) else (int(entry.size_mb * 2**20) if entry.size_mb else None),
            partial_bytes=partial_bytes(settings, entry),
            shipped=is_shipped(entry),
            user_added=entry.id in added,
            default=entry.id in (settings.default_llm, settings.default_embedding),
            fit=report,
            job=self.downloads.job(entry.id),
        )

    def models(self, kind: Literal["llm", "embedding"] | None = None) -> list[ModelStatus]:
        """Every catalog model with its install state, size, fit and download job."""
        added = user_ids(self.settings)
        entries = [*(self.catalog.llms.values() if kind != "embedding" else []),
                   *(self.catalog.embeddings.values() if kind != "llm" else [])]
        return [self._status(entry, added) for entry in entries]

    def pull(self, model_id: str, source: Source | None = None) -> Job:
        """Queue a download; follow it with job.progress / job.status, or wait(model_id)."""
        entry = self.entry(model_id)
        if not entry.is_local:
            raise ModelError(f"'{model_id}' runs at a provider: there is nothing to download.")
        if source and source != "auto":
            source_of(entry, source)
        self._sources[model_id] = source or self.source
        return self.downloads.submit(model_id)

    def _run(self, model_id: str, progress: ProgressFn, cancel: threading.Event) -> Path:
        return pull(self.settings, self.entry(model_id), progress, cancel, self._sources.get(model_id, self.source))

    def cancel(self, model_id: str) -> Job:
        return self.downloads.cancel(model_id)

    def wait(self, model_id: str, timeout: float | None = None) -> Job:
        return self.downloads.wait(model_id, timeout)

    def delete(self, model_id: str, forget_entry: bool = False) -> None:
        """Delete the model's files; `forget_entry` also drops a user-added catalog entry."""
        entry = self.entry(model_id)
        job = self.downloads.job(model_id)
        if job is not None and job.active:
            raise AlreadyExists(f"'{model_id}' is being downloaded: cancel the download first.", key="downloading",
                                model=model_id)
        if installed_path(self.settings, entry) is not None or partial_bytes(self.settings, entry):
            delete(self.settings, entry)
        elif not forget_entry:
            raise NotFound(f"'{model_id}' is not installed.")
        if forget_entry:
            forget(self.settings, model_id)
            self.reload()

    def set_default(self, model_id: str) -> None:
        set_default(self.settings, self.catalog, model_id)

    def add(self, **source) -> Entry:
        """add_model(...) with the same arguments; the catalog (every holder's) lists the model at once."""
        entry = add_model(self.settings, **source)
        self.reload()
        return entry

    def reload(self) -> None:
        """Bring the catalog up to date with the user's models.yaml, in place."""
        self.catalog.update_from(open_catalog(self.settings))

    def recommend_embedding(self, language: str) -> EmbeddingEntry:
        """The catalog's suggested embedding model for a language ('zh' → bge-small-zh), else the default."""
        for entry in self.catalog.embeddings.values():
            if language in entry.recommended_for:
                return entry
        return self.catalog.embedding(self.settings.default_embedding)

    def recommend(self) -> LLMEntry | None:
        """The best chat model for this machine, as the first-run default (None: nothing local fits)."""
        hw = self.hardware()
        return hardware.recommend(
            self.catalog, hw, hardware.gpu_engines(hw), self.catalog.embeddings.get(self.settings.default_embedding)
        )

    def close(self) -> None:
        self.downloads.close()
