"""Blocking generators (model streams, ingest progress) served as server-sent events.

The generator runs in worker threads one item at a time. When the client goes away, the `cancel` event
handed to the generator is set at once and the generator closed, so the engine stops (while it waits
for its lock, in a prefill, or at its next token) instead of generating for nobody.
"""

from __future__ import annotations

import json
import threading
from typing import Any, AsyncIterator, Callable, Iterator, TypeVar

import anyio
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

T = TypeVar("T")
_END = object()

DISCONNECT_POLL = 0.2  # seconds between checks that the client is still there
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ThreadedStream:
    """A blocking iterator, made with a cancel event, pulled from async code.

    With the `request`, a client that goes away while an item is being made (waiting for the engine,
    a long prefill, the whole of a non-streamed answer) sets `cancel` within DISCONNECT_POLL seconds:
    Starlette itself notices only once a streamed response has started, so before that every killed
    client's request used to wait its turn and run its whole prompt for nobody."""

    def __init__(self, make: Callable[[threading.Event], Iterator[T]], request: Request | None = None):
        self.cancel = threading.Event()
        self._iterator = make(self.cancel)
        self._request = request
        self._busy = threading.Lock()  # held by the worker thread that steps or closes the generator

    def _step(self) -> Any:
        with self._busy:
            return next(self._iterator, _END)

    def _close(self) -> None:
        with self._busy:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()

    async def next(self) -> Any:
        """The next item, or None at the end."""
        try:
            async with anyio.create_task_group() as group:
                if self._request is not None:
                    group.start_soon(self._watch, self._request)
                # abandon_on_cancel: a cancelled response returns at once and sets `cancel`; close() then
                # waits for the step to end before it closes the generator
                item = await anyio.to_thread.run_sync(self._step, abandon_on_cancel=True)
                group.cancel_scope.cancel()
        except BaseException:
            self.cancel.set()
            raise
        return None if item is _END else item

    async def _watch(self, request: Request) -> None:
        while True:
            await anyio.sleep(DISCONNECT_POLL)  # most items come sooner: no check at all for them
            if await request.is_disconnected():
                self.cancel.set()
                return

    async def rest(self) -> AsyncIterator[Any]:
        try:
            while (item := await self.next()) is not None:
                yield item
        finally:
            await self.close()

    async def close(self) -> None:
        self.cancel.set()
        with anyio.CancelScope(shield=True):  # also when the response task is being cancelled
            await run_in_threadpool(self._close)


def sse(data: Any) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def sse_response(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
