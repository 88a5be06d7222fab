"""The legacy engine the design card names: ctransformers (GGML and early GGUF, llama.cpp of 2023).

It cannot load current GGUF files (it fails with "Failed to create LLM"); that becomes a
ModelError pointing at the llama.cpp engine. It has no chat templates of its own, so chat
renders the template stored in the GGUF.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator, Sequence

from chatchat.errors import ChatchatError, ModelError
from chatchat.llm.base import Message, base_model_error, check_fits_memory, guarded_stream
from chatchat.llm.gguf import check_gguf, read_metadata, render_chat


class CTransformersModel:
    local = True

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
        tokens = metadata.get("tokenizer.ggml.tokens", [])

        def token(key: str) -> str:
            index = metadata.get(key)
            return tokens[index] if isinstance(index, int) and index < len(tokens) else ""

        self._bos, self._eos = token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id")
        self._lock = threading.Lock()

    def chat(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.7,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        if not self._template:
            raise base_model_error(self.model_id, "GGUF")
        prompt = render_chat(self._template, messages, self._bos, self._eos)
        stops = [*(stop or []), *([self._eos] if self._eos else [])]
        return self.complete(prompt, temperature=temperature, max_tokens=max_tokens, stop=stops, cancel=cancel)

    def complete(
        self,
        prompt: str,
        *,
        temperature: float = 0.7,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        def start() -> Iterator[str]:
            used = len(self._llm.tokenize(prompt))
            if used >= self.context:
                raise ModelError(
                    f"The prompt ({used} tokens) is too long for model '{self.model_id}' "
                    f"(context {self.context}). Ask a shorter question or keep less history."
                )
            return self._llm(
                prompt,
                stream=True,
                temperature=temperature,
                max_new_tokens=min(max_tokens, self.context - used),
                stop=list(stop or []),
                reset=True,
            )

        return guarded_stream(start, cancel=cancel, lock=self._lock, to_error=self._error)

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text))

    def close(self) -> None:
        with self._lock:
            self._llm = None

    def _error(self, exc: Exception) -> ChatchatError:
        return ModelError(f"Model '{self.model_id}' (ctransformers) failed while generating: {exc}")
