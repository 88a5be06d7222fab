"""Model ids to loaded ChatModels: catalog entries, or `<provider>/<model>` for any provider model.

Local models load on first use and stay loaded; loading another local model unloads the
oldest once `max_local` are loaded (one by default: RAM is the scarce thing). Engine modules
are imported only when a model needs them, so lite mode never imports a local engine.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

from chatchat.config import Settings
from chatchat.errors import ModelError, NotFound
from chatchat.llm.base import ChatModel, ModelRef
from chatchat.models.catalog import Catalog

# engine name (a catalog entry's `engine`) -> "module:class" of its ChatModel, imported on first use
ENGINES = {
    "llama.cpp": "chatchat.llm.llama_cpp_engine:LlamaCppModel",
    "ctransformers": "chatchat.llm.ctransformers_engine:CTransformersModel",
    "gptq": "chatchat.llm.gptq_engine:GPTQChatModel",
    "openai": "chatchat.llm.openai_engine:OpenAIChatModel",
}


def engine_class(engine: str) -> type[ChatModel]:
    module, name = ENGINES[engine].split(":")
    return getattr(importlib.import_module(module), name)


class LLMManager:
    def __init__(self, settings: Settings, catalog: Catalog, *, max_local: int = 1, timeout: float = 60.0):
        self.settings = settings
        self.catalog = catalog
        self.max_local = max_local
        self.timeout = timeout
        self._loaded: dict[str, ChatModel] = {}  # in load order
        self._lock = threading.Lock()

    def resolve(self, model_id: str) -> ModelRef:
        """A catalog id, or `<provider>/<model>` (the model part may itself hold slashes)."""
        model_id = model_id.strip()
        if "/" in model_id:
            provider_id, name = model_id.split("/", 1)
            if not name:
                raise NotFound(f"Model id '{model_id}' names no model: use <provider>/<model>, e.g. deepseek/deepseek-chat.")
            return ModelRef(model_id, "openai", provider=self.catalog.provider(provider_id), remote_name=name)
        entry = self.catalog.llm(model_id)
        if entry.engine == "openai":
            return ModelRef(model_id, "openai", entry, self.catalog.provider(entry.provider or ""), entry.model)
        return ModelRef(model_id, entry.engine, entry)

    def get(self, model_id: str | None = None) -> ChatModel:
        """The loaded model (loading it now if needed); None means settings.default_llm."""
        ref = self.resolve(model_id or self.settings.default_llm)
        if ref.local and self.settings.lite:
            raise ModelError(
                f"Lite mode is on, so the local model '{ref.id}' cannot load. Choose a cloud model "
                "(e.g. deepseek/deepseek-chat) or turn lite mode off in Settings."
            )
        with self._lock:
            model = self._loaded.get(ref.id)
            if model is None:
                path = self._locate(ref) if ref.local else None  # a missing file keeps the current model
                if ref.local:
                    self._make_room()
                model = self._load(ref, path)
                self._loaded[ref.id] = model
            return model

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._loaded)

    def unload(self, model_id: str) -> bool:
        """Free a model (after its stream in progress, if any, stops). False if it was not loaded."""
        with self._lock:
            model = self._loaded.pop(model_id, None)
        if model is None:
            return False
        model.close()
        return True

    def unload_all(self) -> None:
        for model_id in self.loaded():
            self.unload(model_id)

    def _make_room(self) -> None:
        local = [model_id for model_id, model in self._loaded.items() if model.local]
        for model_id in local[: max(0, len(local) - self.max_local + 1)]:
            self._loaded.pop(model_id).close()

    def _locate(self, ref: ModelRef) -> Path:
        from chatchat.models.layout import require_installed

        assert ref.entry is not None
        return engine_class(ref.engine).locate(ref.id, require_installed(self.settings, ref.entry), ref.entry)

    def _load(self, ref: ModelRef, path: Path | None) -> ChatModel:
        return engine_class(ref.engine).load(ref, path, self.settings, timeout=self.timeout)
