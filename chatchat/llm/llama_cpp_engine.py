"""GGUF models in process through llama-cpp-python (the default local engine).

The chat template comes from the GGUF itself; a GGUF without one (a base model) only completes.
A stop reaches llama.cpp inside a decode too (its abort callback), so the prefill of a long prompt,
which runs before the first token, ends within one layer of the Stop.

Tools: a model whose template is ChatML (Qwen, SmolLM2) calls them through llama-cpp-python's
`chatml-function-calling` handler, which constrains the reply by grammar to a message or to calls of the
offered functions with JSON arguments that fit their schema.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

from chatchat.config import Settings
from chatchat.errors import ChatchatError, ModelError
from chatchat.llm.base import (
    ChatModel,
    Event,
    Message,
    ModelRef,
    Request,
    check_fits_memory,
    cpu_threads,
    local_file_size,
)
from chatchat.llm.gguf import check_gguf
from chatchat.llm.tools import ToolCalls

# llama.cpp's own CLI default; llama-cpp-python's is 1.0, with which small models loop on one sentence for
# the whole max_tokens (SmolLM2 135M did, answering Chinese)
REPEAT_PENALTY = 1.1
CHATML = "<|im_start|>"  # in the GGUF's chat template: the format chatml-function-calling writes
_LOADING = threading.Lock()  # load_llama swaps a llama-cpp-python default while one model loads


def load_llama(**options: Any) -> Any:
    """llama_cpp.Llama(**options); on a llama.cpp built with AMX kernels, with its extra weight layouts
    (AMX, repack) off. Those crash at the first decode on AMX CPUs under a hypervisor (llama.cpp #20824;
    here a Firecracker VM: a protection fault in libggml-cpu, the whole app gone); the plain CPU buffer
    runs the AVX2/AVX-512 kernels. Llama() takes no option for it, so its default model params are
    swapped while it loads."""
    from llama_cpp import Llama, llama_print_system_info
    from llama_cpp import llama as high_level

    if b"AMX_INT8 = 1" not in llama_print_system_info():
        return Llama(**options)
    with _LOADING:
        default = high_level.llama_cpp.llama_model_default_params

        def without_extra_layouts():
            params = default()
            params.use_extra_bufts = False
            return params

        high_level.llama_cpp.llama_model_default_params = without_extra_layouts
        try:
            return Llama(**options)
        finally:
            high_level.llama_cpp.llama_model_default_params = default


class LlamaCppModel(ChatModel):
    reads_gguf = True

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
        from llama_cpp import llama_supports_gpu_offload

        gpu_layers = n_gpu_layers if llama_supports_gpu_offload() else 0
        if gpu_layers == 0:  # weights on a GPU need no RAM
            check_fits_memory(model_id, path)
        self.model_id = model_id
        self.path = path
        try:
            self.llama = load_llama(
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
        template = self.llama.metadata.get("tokenizer.chat_template")
        self.has_chat_template = template is not None
        self.can_call_tools = template is not None and CHATML in template
        self._lock = threading.Lock()
        self._cancel: threading.Event | None = None  # the running stream's, until its first token
        self._abort = _abort_callback(self)  # kept: llama.cpp holds only its address

    @classmethod
    def load(cls, ref: ModelRef, path: Path | None, settings: Settings, *, timeout: float) -> "LlamaCppModel":
        entry = ref.entry
        return cls(entry.id, path, context=entry.context, threads=cpu_threads(settings.llm_threads),
                   n_gpu_layers=entry.n_gpu_layers, expected_size=local_file_size(entry))

    def _generate(self, request: Request) -> Iterator[Event]:
        options = dict(temperature=request.temperature, max_tokens=request.max_tokens, stop=list(request.stop),
                       repeat_penalty=REPEAT_PENALTY)
        if request.prompt is not None:
            chunks = self.llama.create_completion(request.prompt, stream=True, **options)
            return self._abortable((chunk["choices"][0]["text"] for chunk in chunks), request.cancel)
        if request.tools and request.tool_choice != "none":
            return self._abortable(self._with_tools(request, options), request.cancel)
        return self._abortable(self._chat(request.messages, options), request.cancel)

    def _chat(self, messages: Sequence[Message], options: dict) -> Iterator[str]:
        chunks = self.llama.create_chat_completion(list(messages), stream=True, **options)
        return (chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)

    def _with_tools(self, request: Request, options: dict) -> Iterator[Event]:
        """A reply that may call the offered tools. llama-cpp-python streams only a call of one named tool;
        with "auto" its reply comes whole. When the model chooses to answer in words, that handler's
        message is cut to nothing by its own grammar (llama-cpp-python 0.3), so the words come from the
        model's own chat template instead, streamed."""
        from llama_cpp.llama_chat_format import chatml_function_calling

        forced = isinstance(request.tool_choice, dict)
        reply = chatml_function_calling(
            llama=self.llama, messages=_for_function_calling(request.messages), tools=list(request.tools),
            tool_choice=request.tool_choice, stream=forced, **options,
        )
        calls = ToolCalls(self.model_id)
        if forced:
            for chunk in reply:
                for item in chunk["choices"][0]["delta"].get("tool_calls") or []:
                    calls.add(item)
        else:
            for position, item in enumerate(reply["choices"][0]["message"].get("tool_calls") or []):
                calls.add(item, position)
        found = calls.calls()
        if not found:
            yield from self._chat(request.messages, options)
        yield from found

    def _abortable(self, events: Iterator[Event], cancel: threading.Event | None) -> Iterator[Event]:
        """`events`, with llama.cpp's abort callback watching `cancel` until the first one: the prefill is
        the one long step between tokens (`stream` checks `cancel` at each event after it)."""
        self._watch(cancel)
        try:
            for event in events:
                self._watch(None)
                yield event
        finally:
            self._watch(None)
            events.close()

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
        return super()._error(exc)


def _for_function_calling(messages: Sequence[Message]) -> list[dict]:
    """The conversation as chatml-function-calling's template renders it: it writes system, user and
    assistant turns only, so a tool's result goes in as a user turn."""
    return [{"role": "user", "content": f"The function returned:\n{m['content']}"} if m["role"] == "tool" else dict(m)
            for m in messages]


def _abort_callback(model: LlamaCppModel):
    """A llama.cpp abort callback that ends a decode once the running stream's cancel is set."""
    from llama_cpp import llama_cpp as low

    def abort(_data) -> bool:
        cancel = model._cancel
        return cancel is not None and cancel.is_set()

    return low.ggml_abort_callback(abort)
