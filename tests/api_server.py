"""The real app (API, and the UI when asked) served by uvicorn on a free loopback port in a thread."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from chatchat.config import Settings, load_settings
from chatchat.server import make_server, url_of
from chatchat.service import Services


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api_settings(home: Path, **overrides: Any) -> Settings:
    return load_settings(home=home, **{"port": free_port(), **overrides})


@contextmanager
def running(settings: Settings, services: Services | None = None, ui: bool = False) -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:PORT) while the server runs."""
    server, sock = make_server(settings, services, ui=ui)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
