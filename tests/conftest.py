"""Shared fixtures: a fresh data dir per test, the real services on it, and the shared test documents."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import chatchat  # noqa: F401  (telemetry off before any library import)
from chatchat.config import Settings, load_settings
from chatchat.service import Services

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DOCS = SHARED / "docs"
SAMPLES = SHARED_DOCS / "chatchat-samples"
UNSTRUCTURED_DOCS = SHARED_DOCS / "unstructured"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CHATCHAT_HOME", str(tmp_path / "home"))
    return load_settings(home=tmp_path / "home")


@pytest.fixture
def services(settings: Settings) -> Services:
    return Services.open(settings)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every connection that leaves this machine, the way an offline laptop would."""
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1") or sock.family == socket.AF_UNIX):
            return real_connect(sock, address)
        raise OSError(f"network blocked by test: connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_only(socket.getaddrinfo))


def _loopback_only(real_getaddrinfo):
    def lookup(host, *args, **kwargs):
        if host in (None, "localhost") or str(host).startswith("127.") or host == "::1":
            return real_getaddrinfo(host, *args, **kwargs)
        raise socket.gaierror(f"network blocked by test: lookup of {host!r}")

    return lookup
