"""One progress pump for the UI and the API: a job function runs in its own thread, its progress events
come back to the caller's thread, and at the end its result or its error.

    job = Job(lambda progress, cancel: services.add_files(kb, paths, progress=progress, cancel=cancel))
    for event in job.events(idle=0.25):   # None after 0.25 s without an event: time to redraw
        ...
    results = job.result()                # the return value, or the job's exception raised here

The job starts at once. Leaving the loop early does not stop it (what a person asked to add gets added);
`job.cancel` is the event handed to the job function: set it to ask the job to stop.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, Iterator, TypeVar

E = TypeVar("E")  # a progress event
R = TypeVar("R")  # the job's result

_DONE = object()


class Job(Generic[E, R]):
    """`work(progress, cancel)` run in a daemon thread named `name`; `progress(event)` may be called from
    any thread, any number of times. `cancel` is the event handed to `work` (a new one if not given)."""

    def __init__(
        self,
        work: Callable[[Callable[[E], None], threading.Event], R],
        name: str = "chatchat-job",
        cancel: threading.Event | None = None,
    ):
        self.cancel = cancel if cancel is not None else threading.Event()
        self._events: queue.Queue = queue.Queue()
        self._outcome: tuple[bool, object] | None = None  # (succeeded, result or exception)
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[Callable[[E], None], threading.Event], R]) -> None:
        try:
            self._outcome = (True, work(self._events.put, self.cancel))
        except BaseException as exc:  # handed to the caller's thread, which raises it in result()
            self._outcome = (False, exc)
        finally:
            self._events.put(_DONE)

    def events(self, idle: float | None = None) -> Iterator[E | None]:
        """The job's progress events in order, until it ends. With `idle`, None whenever no event came for
        `idle` seconds (a long stage reports nothing for a while: a UI redraws what came before it).
        Iterate once: the events are handed out as they are taken."""
        while True:
            try:
                item = self._events.get(timeout=idle)
            except queue.Empty:
                yield None
                continue
            if item is _DONE:
                return
            yield item

    def result(self) -> R:
        """Wait for the job to end; its return value, or its exception raised here."""
        self._thread.join()
        assert self._outcome is not None
        succeeded, value = self._outcome
        if not succeeded:
            raise value  # type: ignore[misc]
        return value  # type: ignore[return-value]

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()
