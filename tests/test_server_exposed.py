"""A server other machines can reach: the API docs behind the same credentials as the API, and a start
banner that lists the addresses it answers at. The real app on a real socket (bound to 0.0.0.0)."""

from __future__ import annotations

import socket

import httpx
import psutil

from api_server import api_settings, running
from chatchat.server import banner, bind_socket, reachable_urls

KEY = "s3cret-key"


def _ipv4_addresses() -> list[str]:
    return [a.address for entries in psutil.net_if_addrs().values() for a in entries if a.family == socket.AF_INET]


def test_docs_need_the_api_key_when_exposed(tmp_path):
    settings = api_settings(tmp_path / "home", host="0.0.0.0", api_key=KEY, auth="admin:pw")
    with running(settings) as base:
        for path in ("/docs", "/openapi.json"):
            refused = httpx.get(base + path)
            assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
            assert "API key" in refused.json()["error"]["message"]
            assert httpx.get(base + path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert httpx.get(base + path, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
            assert httpx.get(base + path, auth=("anyone", KEY)).status_code == 200  # what a browser's prompt sends
            assert httpx.get(base + path, auth=("admin", "pw")).status_code == 200  # the web UI's login
            assert httpx.get(base + path, auth=("admin", "nope")).status_code == 401
        assert "/v1/models" in httpx.get(base + "/openapi.json", auth=("x", KEY)).json()["paths"]
        port = base.rsplit(":", 1)[1]
        for address in _ipv4_addresses():  # every address the banner names reaches the server
            assert httpx.get(f"http://{address}:{port}/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_docs_stay_open_on_loopback(tmp_path):
    with running(api_settings(tmp_path / "home", api_key=KEY)) as base:
        assert httpx.get(base + "/docs").status_code == 200
        assert httpx.get(base + "/openapi.json").status_code == 200


def test_banner_lists_every_address_of_a_wildcard_bind():
    ipv4 = _ipv4_addresses()
    sock = bind_socket("0.0.0.0", 0)
    try:
        port = sock.getsockname()[1]
        urls = reachable_urls(sock)
        assert urls[0] == f"http://127.0.0.1:{port}"
        assert set(urls) == {f"http://{a}:{port}" for a in ipv4}
        text = banner(sock)
        assert all(url in text for url in urls) and "0.0.0.0" not in text
    finally:
        sock.close()
    loopback = bind_socket("127.0.0.1", 0)
    try:
        assert reachable_urls(loopback) == [f"http://127.0.0.1:{loopback.getsockname()[1]}"]
    finally:
        loopback.close()
