"""The `ChatModel` interface every engine implements, and what engines share.

A model streams text deltas. Streams are lazy: work starts at the first `next()`, and a
stream stops as soon as its `cancel` event is set or the consumer closes it; either way the
engine is free for the next request at once.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal, Protocol, Sequence, TypedDict

import psutil

from chatchat.errors import ChatchatError, ModelError

GIB = 1024**3
LOCK_POLL = 0.1  # seconds between checks of `cancel` while a stream waits for its engine


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatModel(Protocol):
    model_id: str
    context: int  # tokens the model attends to: prompt and answer together
    local: bool  # runs in this process (False: an HTTP provider)

    def chat(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.7,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Stream the assistant's reply to `messages` (formatted with the model's chat template)."""
        ...

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
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes, with the model's tokenizer where there is one, else a safe overestimate."""
        ...

    def close(self) -> None:
        """Free the model; waits for a stream in progress to stop."""
        ...


_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def base_model_error(model_id: str, where: str) -> ModelError:
    """Chat asked of a model without a chat template (`where` has none: "GGUF", "tokenizer")."""
    return ModelError(
        f"Model '{model_id}' is a base model: its {where} has no chat template, so it cannot chat. "
        "Use it for plain completion, or choose a chat (instruct) model."
    )


def estimate_tokens(text: str) -> int:
    """An overestimate for tokenizers we cannot run: CJK characters 1.5 each, other text 3 chars a token."""
    cjk = len(_CJK.findall(text))
    return int(cjk * 1.5 + (len(text) - cjk) / 3) + 1


def guarded_stream(
    start: Callable[[], Iterable[str]],
    *,
    cancel: threading.Event | None,
    lock: threading.Lock | None,
    to_error: Callable[[Exception], ChatchatError],
) -> Iterator[str]:
    """Run an engine's raw stream (made by `start`, under the engine's lock): cancellable while waiting
    for the lock and between tokens, engine errors turned into ChatchatErrors, the engine's generator
    closed on every exit. An engine that can interrupt its own work (llama.cpp's prefill) raises when
    `cancel` is set: that ends the stream as a stop, not as an error."""
    if lock is not None:
        while not lock.acquire(timeout=LOCK_POLL):  # another stream runs on this engine
            if cancel is not None and cancel.is_set():
                return
    iterator: Iterator[str] | None = None
    try:
        iterator = iter(start())
        while cancel is None or not cancel.is_set():
            try:
                text = next(iterator)
            except StopIteration:
                return
            if text:
                yield text
    except ChatchatError:
        raise
    except Exception as exc:  # engines raise ValueError, RuntimeError, OSError, httpx errors...
        if cancel is not None and cancel.is_set():
            return
        raise to_error(exc) from exc
    finally:
        close = getattr(iterator, "close", None)  # stops llama.cpp / closes the HTTP response
        try:
            if close is not None:
                close()
        finally:
            if lock is not None:
                lock.release()


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
