"""The legacy engine the design card names: ctransformers (GGML and early GGUF, llama.cpp of 2023).

It cannot load current GGUF files (it fails with "Failed to create LLM"); that becomes a
ModelError pointing at the llama.cpp engine. It has no chat templates of its own, so chat
renders the template stored in the GGUF. It cannot call tools.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

from chatchat.config import Settings
from chatchat.errors import ChatchatError, ModelError
from chatchat.llm.base import ChatModel, ModelRef, Request, check_fits_memory, cpu_threads, local_file_size
from chatchat.llm.gguf import check_gguf, read_metadata, render_chat


class CTransformersModel(ChatModel):
    reads_gguf = True

    def __init__(
        self,
        model_id: str,
        path: Path,
        *,
        context: int,
        threads: int,
        gpu_layers: int = 0,
        expected_size: int | None = None,
    ):
        check_gguf(model_id, path, expected_size)
        check_fits_memory(model_id, path)
        try:
            from ctransformers import AutoModelForCausalLM
        except ImportError as exc:
            raise ModelError(
                f"Model '{model_id}' uses the ctransformers engine, which is not installed: "
                "pip install 'chatchat[legacy]', or switch the model to engine llama.cpp."
            ) from exc
        metadata = read_metadata(path)
        arch = metadata.get("general.architecture", "llama")
        try:
            self._llm = AutoModelForCausalLM.from_pretrained(
                str(path), model_type=arch, context_length=context, threads=threads, gpu_layers=gpu_layers
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(
                f"Model '{model_id}': ctransformers cannot load {path.name} (architecture '{arch}'): {exc} "
                "Its llama.cpp dates from 2023 and does not read current GGUF files. "
                "Set the model's engine to llama.cpp in models.yaml."
            ) from exc
        self.model_id = model_id
        self.context = context
        self._template = metadata.get("tokenizer.chat_template")
        self.has_chat_template = bool(self._template)
        tokens = metadata.get("tokenizer.ggml.tokens", [])

        def token(key: str) -> str:
            index = metadata.get(key)
            return tokens[index] if isinstance(index, int) and index < len(tokens) else ""

        self._bos, self._eos = token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id")
        self._lock = threading.Lock()

    @classmethod
    def load(cls, ref: ModelRef, path: Path | None, settings: Settings, *, timeout: float) -> "CTransformersModel":
        entry = ref.entry
        return cls(entry.id, path, context=entry.context, threads=cpu_threads(settings.llm_threads),
                   gpu_layers=entry.n_gpu_layers if entry.n_gpu_layers >= 0 else 999,  # -1: every layer
                   expected_size=local_file_size(entry))

    def _generate(self, request: Request) -> Iterator[str]:
        prompt, stop = request.prompt, list(request.stop)
        if request.messages is not None:
            prompt = render_chat(self._template, request.messages, self._bos, self._eos)
            stop += [self._eos] if self._eos else []
        used = len(self._llm.tokenize(prompt))
        if used >= self.context:
            raise ModelError(
                f"The prompt ({used} tokens) is too long for model '{self.model_id}' "
                f"(context {self.context}). Ask a shorter question or keep less history."
            )
        return self._llm(
            prompt,
            stream=True,
            temperature=request.temperature,
            max_new_tokens=min(request.max_tokens, self.context - used),
            stop=stop,
            reset=True,
        )

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text))

    def close(self) -> None:
        with self._lock:
            self._llm = None

    def _error(self, exc: Exception) -> ChatchatError:
        return ModelError(f"Model '{self.model_id}' (ctransformers) failed while generating: {exc}")
