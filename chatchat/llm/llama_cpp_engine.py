"""GGUF models in process through llama-cpp-python (the default local engine).

The chat template comes from the GGUF itself; a GGUF without one (a base model) only completes.
A stop reaches llama.cpp inside a decode too (its abort callback), so the prefill of a long prompt,
which runs before the first token, ends within one layer of the Stop.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator, Sequence

from chatchat.errors import ChatchatError, ModelError
from chatchat.llm.base import Message, base_model_error, check_fits_memory, guarded_stream
from chatchat.llm.gguf import check_gguf

# llama.cpp's own CLI default; llama-cpp-python's is 1.0, with which small models loop on one sentence for
# the whole max_tokens (SmolLM2 135M did, answering Chinese)
REPEAT_PENALTY = 1.1


class LlamaCppModel:
    local = True

    def __init__(
        self,
        model_id: str,
        path: Path,
        *,
        context: int,
        threads: int,
        n_gpu_layers: int = 0,
        expected_size: int | None = None,
    ):
        check_gguf(model_id, path, expected_size)
        from llama_cpp import Llama, llama_supports_gpu_offload

        gpu_layers = n_gpu_layers if llama_supports_gpu_offload() else 0
        if gpu_layers == 0:  # weights on a GPU need no RAM
            check_fits_memory(model_id, path)
        self.model_id = model_id
        self.path = path
        try:
            self.llama = Llama(
                model_path=str(path),
                n_ctx=context,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=gpu_layers,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(
                f"Model '{model_id}': llama.cpp could not load {path.name} ({exc}). The file is damaged, "
                "truncated, or of an architecture this llama.cpp does not know: reinstall it, or update "
                "llama-cpp-python."
            ) from exc
        self.context = self.llama.n_ctx()
        self.has_chat_template = "tokenizer.chat_template" in self.llama.metadata
        self._lock = threading.Lock()
        self._cancel: threading.Event | None = None  # the running stream's, until its first token
        self._abort = _abort_callback(self)  # kept: llama.cpp holds only its address

    def chat(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.7,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        if not self.has_chat_template:
            raise base_model_error(self.model_id, "GGUF")

        def start() -> Iterator[str]:
            chunks = self.llama.create_chat_completion(
                list(messages), stream=True, temperature=temperature, max_tokens=max_tokens, stop=list(stop or []),
                repeat_penalty=REPEAT_PENALTY,
            )
            return self._abortable((chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks), cancel)

        return guarded_stream(start, cancel=cancel, lock=self._lock, to_error=self._error)

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
            chunks = self.llama.create_completion(
                prompt, stream=True, temperature=temperature, max_tokens=max_tokens, stop=list(stop or []),
                repeat_penalty=REPEAT_PENALTY,
            )
            return self._abortable((chunk["choices"][0]["text"] for chunk in chunks), cancel)

        return guarded_stream(start, cancel=cancel, lock=self._lock, to_error=self._error)

    def _abortable(self, texts: Iterator[str], cancel: threading.Event | None) -> Iterator[str]:
        """`texts`, with llama.cpp's abort callback watching `cancel` until the first token: the prefill is
        the one long step between tokens (guarded_stream checks `cancel` at each token after it)."""
        self._watch(cancel)
        try:
            for text in texts:
                self._watch(None)
                yield text
        finally:
            self._watch(None)
            texts.close()

    def _watch(self, cancel: threading.Event | None) -> None:
        """Point llama.cpp's abort callback at `cancel`, or (None) take it off: it is a Python call for
        every node of every decode, so it runs only in the prefill, the one step with no token boundary
        (bench/bench_stop.py; its cost was within the noise of a loaded 2-core machine)."""
        from llama_cpp import llama_cpp as low

        was_on = self._cancel is not None
        self._cancel = cancel
        if (cancel is not None) != was_on:
            callback = self._abort if cancel is not None else low.ggml_abort_callback(0)
            low.llama_set_abort_callback(self.llama._ctx.ctx, callback, None)

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def close(self) -> None:
        with self._lock:
            self.llama.close()

    def _error(self, exc: Exception) -> ChatchatError:
        if "exceed context window" in str(exc):
            return ModelError(
                f"The prompt is too long for model '{self.model_id}' ({exc}). Ask a shorter question, "
                "keep fewer turns of history, or retrieve fewer passages."
            )
        return ModelError(f"Model '{self.model_id}' failed while generating: {exc}")


def _abort_callback(model: LlamaCppModel):
    """A llama.cpp abort callback that ends a decode once the running stream's cancel is set."""
    from llama_cpp import llama_cpp as low

    def abort(_data) -> bool:
        cancel = model._cancel
        return cancel is not None and cancel.is_set()

    return low.ggml_abort_callback(abort)
