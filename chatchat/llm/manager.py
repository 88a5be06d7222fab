"""Model ids to loaded ChatModels: catalog entries, or `<provider>/<model>` for any provider model.

Local models load on first use and stay loaded; loading another local model unloads the
oldest once `max_local` are loaded (one by default: RAM is the scarce thing). Engine modules
are imported only when a model needs them, so lite mode never imports a local engine.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from chatchat.models.catalog import Catalog, LLMEntry, ProviderEntry
from chatchat.config import KeyStore, Settings
from chatchat.errors import ModelError, NotFound
from chatchat.llm.base import ChatModel, cpu_threads
from chatchat.llm.gguf import check_gguf

CLOUD_CONTEXT = 8192  # assumed context of a provider model the catalog does not describe


@dataclass(frozen=True)
class ModelRef:
    """What a model id names."""

    id: str
    engine: str
    entry: LLMEntry | None = None  # catalog entry, when the id is one
    provider: ProviderEntry | None = None  # for engine openai
    remote_name: str | None = None  # the provider's name for the model

    @property
    def local(self) -> bool:
        return self.engine != "openai"


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
        from chatchat.models.hub import require_installed

        assert ref.entry is not None
        path = require_installed(self.settings, ref.entry)
        if ref.engine in ("llama.cpp", "ctransformers"):
            check_gguf(ref.id, path, ref.entry.files[0].size if ref.entry.files else None)
        elif ref.engine == "gptq":
            from chatchat.llm.gptq_engine import gptq_folder

            return gptq_folder(ref.id, path)
        return path

    def _load(self, ref: ModelRef, path: Path | None) -> ChatModel:
        if ref.engine == "openai":
            from chatchat.llm.openai_engine import OpenAIChatModel

            assert ref.provider is not None and ref.remote_name is not None
            key = KeyStore(self.settings.home).get(ref.provider.id, ref.provider.key_env)
            context = ref.entry.context if ref.entry else CLOUD_CONTEXT
            return OpenAIChatModel(ref.id, ref.provider, ref.remote_name, key, context=context, timeout=self.timeout)

        entry = ref.entry
        assert entry is not None and path is not None
        expected_size = entry.files[0].size if entry.files else None
        threads = cpu_threads(self.settings.llm_threads)
        if entry.engine == "llama.cpp":
            from chatchat.llm.llama_cpp_engine import LlamaCppModel

            return LlamaCppModel(
                entry.id, path, context=entry.context, threads=threads,
                n_gpu_layers=entry.n_gpu_layers, expected_size=expected_size,
            )
        if entry.engine == "ctransformers":
            from chatchat.llm.ctransformers_engine import CTransformersModel

            return CTransformersModel(
                entry.id, path, context=entry.context, threads=threads,
                gpu_layers=entry.n_gpu_layers if entry.n_gpu_layers >= 0 else 999,  # -1: every layer
                expected_size=expected_size,
            )
        from chatchat.llm.gptq_engine import GPTQChatModel  # the one engine left: gptq

        return GPTQChatModel(
            entry.id, path, context=entry.context, threads=threads,
            gpus=entry.gpus, num_gpus=entry.num_gpus, max_gpu_memory=entry.max_gpu_memory,
        )
