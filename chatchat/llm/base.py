"""The engine every chat model is: one base class, one stream shell, and what engines share.

A model streams events: text deltas, and ToolCall events when the caller offered tools (chatchat.llm.tools).
Streams are lazy: work starts at the first `next()`, and a stream stops as soon as its `cancel` event is set
or the consumer closes it; either way the engine is free for the next request at once.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Literal, NotRequired, Sequence, TypedDict

import psutil

from chatchat.cjk import WIDE
from chatchat.config import Settings
from chatchat.errors import ChatchatError, ModelError
from chatchat.llm.gguf import check_gguf
from chatchat.llm.tools import ToolCall, no_tools_error
from chatchat.models.catalog import LLMEntry, ProviderEntry

GIB = 1024**3
LOCK_POLL = 0.1  # seconds between checks of `cancel` while a stream waits for its engine


class Message(TypedDict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: NotRequired[list[dict]]  # an assistant's calls (ToolCall.as_openai), when it made some
    tool_call_id: NotRequired[str]  # a tool's result: the call it answers


Event = str | ToolCall
ToolChoice = Literal["auto", "none", "required"] | dict  # dict: {"type": "function", "function": {"name": ...}}


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


@dataclass(frozen=True)
class Request:
    """One generation: a chat (`messages`, formatted with the model's chat template) or a raw
    continuation of `prompt`."""

    messages: Sequence[Message] | None = None
    prompt: str | None = None
    temperature: float = 0.7
    max_tokens: int = 512
    stop: Sequence[str] = ()
    cancel: threading.Event | None = field(default=None, compare=False)
    tools: Sequence[dict] | None = None  # OpenAI-style function specs the model may call
    tool_choice: ToolChoice = "auto"


class ChatModel(ABC):
    """What every engine is. A subclass loads its model and implements `_generate` (the raw stream),
    `count_tokens` and `close`; `stream` is the one shell around every generation."""

    model_id: str
    context: int  # tokens the model attends to: prompt and answer together
    local = True  # runs in this process (False: an HTTP provider)
    has_chat_template = True  # False: a base model, which only completes
    template_source = "GGUF"  # where its chat template would be, for the base-model message
    can_call_tools = False
    reads_gguf = False  # its model is a GGUF file, checked before loading
    _lock: threading.Lock | None = None  # one stream at a time on this engine (None: no limit)

    @classmethod
    @abstractmethod
    def load(cls, ref: ModelRef, path: Path | None, settings: Settings, *, timeout: float) -> "ChatModel":
        """The engine with the model loaded (`path` from `locate`; None for a provider model)."""

    @classmethod
    def locate(cls, model_id: str, path: Path, entry: LLMEntry) -> Path:
        """What `load` opens, given the installed model's first file; checked before another model is
        unloaded to make room, so a broken file keeps the current model."""
        if cls.reads_gguf:
            check_gguf(model_id, path, local_file_size(entry))
        return path

    def chat(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.7,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
        cancel: threading.Event | None = None,
        tools: Sequence[dict] | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> Iterator[Event]:
        """Stream the assistant's reply to `messages`: text deltas, and ToolCall events when `tools` are
        offered. A base model, or tools offered to a model that cannot call them, fail here, before any work."""
        if not self.has_chat_template:
            raise base_model_error(self.model_id, self.template_source)
        if tools and not self.can_call_tools:
            raise no_tools_error(self.model_id)
        return self.stream(Request(messages=list(messages), temperature=temperature, max_tokens=max_tokens,
                                   stop=tuple(stop or ()), cancel=cancel, tools=list(tools) if tools else None,
                                   tool_choice=tool_choice))

    def complete(
        self,
        prompt: str,
        *,
        temperature: float = 0.7,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Stream a raw continuation of `prompt` (what base models are for)."""
        return self.stream(Request(prompt=prompt, temperature=temperature, max_tokens=max_tokens,
                                   stop=tuple(stop or ()), cancel=cancel))

    def stream(self, request: Request) -> Iterator[Event]:
        """Run the engine's raw stream (`_generate`, under the engine's lock): cancellable while waiting for
        the lock and between events, engine errors turned into ChatchatErrors, the engine's generator closed
        on every exit. An engine that can interrupt its own work (llama.cpp's prefill) raises when `cancel`
        is set: that ends the stream as a stop, not as an error."""
        cancel, lock = request.cancel, self._lock
        if lock is not None:
            while not lock.acquire(timeout=LOCK_POLL):  # another stream runs on this engine
                if cancel is not None and cancel.is_set():
                    return
        iterator: Iterator[Event] | None = None
        try:
            iterator = iter(self._generate(request))
            while cancel is None or not cancel.is_set():
                try:
                    event = next(iterator)
                except StopIteration:
                    return
                if event:
                    yield event
        except ChatchatError:
            raise
        except Exception as exc:  # engines raise ValueError, RuntimeError, OSError, httpx errors...
            if cancel is not None and cancel.is_set():
                return
            raise self._error(exc) from exc
        finally:
            close = getattr(iterator, "close", None)  # stops llama.cpp / closes the HTTP response
            try:
                if close is not None:
                    close()
            finally:
                if lock is not None:
                    lock.release()

    @abstractmethod
    def _generate(self, request: Request) -> Iterable[Event]:
        """The engine's own stream for one request; it starts when `stream` first asks for an event."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes, with the model's tokenizer where there is one, else a safe overestimate."""

    @abstractmethod
    def close(self) -> None:
        """Free the model; waits for a stream in progress to stop."""

    def _error(self, exc: Exception) -> ChatchatError:
        return ModelError(f"Model '{self.model_id}' failed while generating: {exc}")


def base_model_error(model_id: str, where: str) -> ModelError:
    """Chat asked of a model without a chat template (`where` has none: "GGUF", "tokenizer")."""
    return ModelError(
        f"Model '{model_id}' is a base model: its {where} has no chat template, so it cannot chat. "
        "Use it for plain completion, or choose a chat (instruct) model."
    )


def estimate_tokens(text: str) -> int:
    """An overestimate for tokenizers we cannot run: CJK characters 1.5 each, other text 3 chars a token."""
    cjk = len(WIDE.findall(text))
    return int(cjk * 1.5 + (len(text) - cjk) / 3) + 1


def check_fits_memory(model_id: str, path: Path, *, size: int | None = None) -> None:
    """Refuse to load a model whose weights (`size`, else the file's size) cannot fit the RAM free now."""
    size = path.stat().st_size if size is None else size
    need = int(size * 1.1)
    free = psutil.virtual_memory().available
    if need > free:
        raise ModelError(
            f"Model '{model_id}' needs about {need / GIB:.1f} GiB of RAM ({path.name} is "
            f"{size / GIB:.1f} GiB) but only {free / GIB:.1f} GiB is free. Unload other models, "
            "close other programs, or choose a smaller quantisation."
        )


def cpu_threads(setting: int) -> int:
    """settings.llm_threads: 0 means every physical core."""
    return setting or psutil.cpu_count(logical=False) or psutil.cpu_count() or 1


def local_file_size(entry: LLMEntry | None) -> int | None:
    """The size the catalog records for a local model's (first) file, to check the file against."""
    return entry.files[0].size if entry is not None and entry.files else None
