"""A local stand-in for search engines and the web, for tests and bench/bench_web.py: a real HTTP server on
127.0.0.1 (http.server, in a thread of the test process) that speaks the JSON APIs of SearXNG, Brave, Tavily,
Bing and Exa and serves the result pages from the real HTML files in tests/data/web/.

Results come from tests/data/web/results.json: an entry is returned when one of its keywords is in the query.
Faults are asked for in the query: `status:429` (or any status) makes the search API answer that status,
`slow-search` makes it answer after the client's timeout, `nothing` gives no results. The pages include a
GBK page whose charset only its <meta> declares, a PNG, a page larger than the fetch cap (streamed, no
Content-Length), a redirect loop, a PNG sent as text/html, a 404 and a page that answers too slowly.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

DATA = Path(__file__).parent / "data" / "web"
KEY = "stand-in-key"
SLOW_S = 3.0  # how long the slow search and the slow page take: longer than the tests' timeouts
HUGE_BYTES = 3 * 2**20  # more than chatchat.web.fetch.MAX_PAGE_BYTES
TYPES = {".html": "text/html", ".png": "image/png"}


class StandIn:
    """`with StandIn() as web:` serves at `web.url`; `web.requests` lists the paths asked, in order."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="web-stand-in", daemon=True)

    def __enter__(self) -> "StandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def results(self, query: str) -> list[dict]:
        entries = json.loads((DATA / "results.json").read_text(encoding="utf-8"))
        lowered = query.lower()
        return [{**e, "url": self.url + e["path"]} for e in entries if any(k in lowered for k in e["keywords"])]


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that stopped reading is no fault
            super().handle_error(request, client_address)


def _handler(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet: the tests print what matters
            pass

        def do_GET(self) -> None:
            self._route("GET", {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._route("POST", json.loads(self.rfile.read(length) or b"{}"))

        def _route(self, method: str, body: dict) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            stand_in.requests.append(parts.path)
            path = parts.path
            if path == "/search" and method == "GET":  # SearXNG
                if query.get("format") != "json":
                    return self._send(403, b"<html><body>403 Forbidden</body></html>", "text/html")
                return self._search(query.get("q", ""), lambda r: {"results": [
                    {"url": e["url"], "title": e["title"], "content": e["snippet"], "engine": "stand-in"} for e in r],
                    "query": query.get("q", ""), "number_of_results": len(r), "unresponsive_engines": []})
            if path == "/res/v1/web/search":  # Brave
                if self.headers.get("X-Subscription-Token") != KEY:
                    return self._json(401, {"type": "ErrorResponse", "error": {"code": "SUBSCRIPTION_TOKEN_INVALID"}})
                return self._search(query.get("q", ""), lambda r: {"type": "search", "web": {"type": "search", "results": [
                    {"title": e["title"], "url": e["url"], "description": e["snippet"]} for e in r]}})
            if path == "/tavily/search":
                if self.headers.get("Authorization") != f"Bearer {KEY}":
                    return self._json(401, {"detail": {"error": "Unauthorized: missing or invalid API key."}})
                return self._search(body.get("query", ""), lambda r: {"query": body.get("query"), "results": [
                    {"title": e["title"], "url": e["url"], "content": e["snippet"], "score": 0.9} for e in r]})
            if path == "/bing/v7.0/search":
                if self.headers.get("Ocp-Apim-Subscription-Key") != KEY:
                    return self._json(401, {"error": {"code": "401", "message": "Access denied"}})
                return self._search(query.get("q", ""), lambda r: {"_type": "SearchResponse", "webPages": {"value": [
                    {"name": e["title"], "url": e["url"], "snippet": e["snippet"]} for e in r]}})
            if path == "/exa/search":
                if self.headers.get("x-api-key") != KEY:
                    return self._json(401, {"error": "Invalid API key"})
                return self._search(body.get("query", ""), lambda r: {"results": [
                    {"id": e["url"], "title": e["title"], "url": e["url"], "highlights": [e["snippet"]]} for e in r]})
            self._page(path)

        def _search(self, q: str, shape) -> None:
            if status := re.search(r"status:(\d{3})", q):
                code = int(status.group(1))
                return self._json(code, {"error": f"stand-in answers {code}"},
                                  {"Retry-After": "30"} if code == 429 else {})
            if "slow-search" in q:
                time.sleep(SLOW_S)
            self._json(200, shape([] if "nothing" in q else stand_in.results(q)))

        def _page(self, path: str) -> None:
            if path.startswith("/pages/") and (DATA / path[len("/pages/"):]).is_file():
                file = DATA / path[len("/pages/"):]
                return self._send(200, file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream"))
            if path in ("/loop/a", "/loop/b"):
                return self._send(302, b"", "text/html", {"Location": "/loop/b" if path == "/loop/a" else "/loop/a"})
            if path == "/mislabeled":
                return self._send(200, (DATA / "lantern.png").read_bytes(), "text/html")
            if path == "/slow-page":
                time.sleep(SLOW_S)
                return self._send(200, (DATA / "tea-history.html").read_bytes(), "text/html; charset=utf-8")
            if path == "/huge":
                return self._huge()
            self._send(404, b"<html><body>Not found</body></html>", "text/html")

        def _huge(self) -> None:
            html = (DATA / "lantern-festival-all.html").read_bytes()
            head, rest = html.split(b"<!-- repeat -->")
            block, tail = rest.split(b"<!-- /repeat -->")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = 0
            try:
                for part in [head] + [block * 64] * (HUGE_BYTES // (len(block) * 64) + 1) + [tail]:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    sent += len(part)
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading at its cap: what the test is about

        def _json(self, status: int, data: object, headers: dict | None = None) -> None:
            self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json", headers)

        def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


@pytest.fixture(scope="module")
def web():
    """The stand-in for a module's tests (import it with `offline`, which refuses the network beyond it)."""
    with StandIn() as stand_in:
        yield stand_in


@pytest.fixture(autouse=True)
def offline(no_network):
    """Every test of a module that imports this runs with the network refused beyond 127.0.0.1."""
