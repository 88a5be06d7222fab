"""Blocking generators (model streams, ingest progress) served as server-sent events.

The generator runs in worker threads one item at a time. When the client goes away, Starlette cancels
the response; the `cancel` event handed to the generator is then set and the generator closed, so
the engine stops at its next token instead of generating for nobody.
"""

from __future__ import annotations

import json
import threading
from typing import Any, AsyncIterator, Callable, Iterator, TypeVar

import anyio
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

T = TypeVar("T")
_END = object()

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ThreadedStream:
    """A blocking iterator, made with a cancel event, pulled from async code."""

    def __init__(self, make: Callable[[threading.Event], Iterator[T]]):
        self.cancel = threading.Event()
        self._iterator = make(self.cancel)

    async def next(self) -> Any:
        """The next item, or None at the end."""
        item = await run_in_threadpool(next, self._iterator, _END)
        return None if item is _END else item

    async def rest(self) -> AsyncIterator[Any]:
        try:
            while (item := await self.next()) is not None:
                yield item
        finally:
            await self.close()

    async def close(self) -> None:
        self.cancel.set()
        close = getattr(self._iterator, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):  # also when the response task is being cancelled
                await run_in_threadpool(close)


def sse(data: Any) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def sse_response(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
