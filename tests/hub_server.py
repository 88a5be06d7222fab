"""A local stand-in for the Hugging Face hub: real files over real HTTP on 127.0.0.1.

It speaks what huggingface_hub 1.x asks of `/{repo}/resolve/{revision}/{filename}`: HEAD and GET
with ETag (the file's sha256, as the hub sends for LFS files), X-Repo-Commit, Content-Length,
Accept-Ranges and 206 partial content, and X-Error-Code on 401/404 so the client raises its typed
errors. `/files/{name}` serves the same files as plain URLs. Faults are per file: drop the
connection after N bytes (once), send no Content-Length, serve an HTML page, or throttle.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Served:
    path: Path
    sha256: str
    drop_after: int | None = None  # close the connection after this many body bytes, the first `drops` times
    drops: int = 1
    chunked: bool = False  # no Content-Length, no ranges (like a dynamic page)
    bytes_per_s: int | None = None
    content_type: str = "application/octet-stream"


@dataclass
class HubServer:
    files: dict[tuple[str, str], Served] = field(default_factory=dict)  # (repo, filename) -> file
    gated: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Range

    def add(self, repo: str, filename: str, path: Path, **faults) -> Served:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        served = Served(Path(path), digest.hexdigest(), **faults)
        self.files[(repo, filename)] = served
        return served

    def start(self) -> str:
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _error(self, status: int, code: str | None) -> None:
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _lookup(self) -> tuple[Served | None, str | None]:
        hub = self.server_hub
        path = unquote(self.path.split("?", 1)[0])
        match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if match:
            repo, _revision, filename = match.groups()
            if repo in hub.gated:
                return None, "GatedRepo"
            if not any(r == repo for r, _ in hub.files):
                return None, "RepoNotFound"
            served = hub.files.get((repo, filename))
            return served, None if served else "EntryNotFound"
        match = re.fullmatch(r"/files/(.+)", path)
        if match:
            served = next((s for (_, name), s in hub.files.items() if name == match.group(1)), None)
            return served, None if served else ""
        return None, ""

    def _serve(self, body: bool) -> None:
        hub = self.server_hub
        hub.requests.append((self.command, self.path, self.headers.get("Range")))
        served, error = self._lookup()
        if served is None:
            self._error(401 if error in ("GatedRepo", "RepoNotFound") else 404, error or None)
            return
        size = served.path.stat().st_size
        start = 0
        range_header = self.headers.get("Range")
        if range_header and not served.chunked:
            start = int(re.fullmatch(r"bytes=(\d+)-", range_header).group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", served.content_type)
        self.send_header("ETag", f'"{served.sha256}"')
        self.send_header("X-Repo-Commit", COMMIT)
        if served.chunked:
            self.send_header("Connection", "close")
        else:
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(size - start))
        self.end_headers()
        if body:
            self._send_body(served, start, size)

    def _send_body(self, served: Served, start: int, size: int) -> None:
        limit = size
        if served.drop_after is not None and served.drops > 0 and start < served.drop_after:
            served.drops -= 1
            limit = served.drop_after
        with open(served.path, "rb") as handle:
            handle.seek(start)
            if served.bytes_per_s is None and not served.chunked:
                self.connection.sendfile(handle, start, limit - start)
            else:
                position = start
                while position < limit:
                    block = handle.read(min(64 * 1024, limit - position))
                    self.wfile.write(block)
                    position += len(block)
                    if served.bytes_per_s:
                        time.sleep(len(block) / served.bytes_per_s)
        if limit < size or served.chunked:
            self.close_connection = True
            self.connection.shutdown(2)


def html_page(folder: Path) -> Path:
    """A login page where a model file was expected."""
    page = folder / "login.html"
    page.write_text("<!DOCTYPE html><html><body>Please log in</body></html>" * 50, encoding="utf-8")
    return page


if __name__ == "__main__":
    # python tests/hub_server.py REPO FILENAME PATH [REPO FILENAME PATH ...]
    # serves the files in its own process (so a benchmark's client does not share its GIL),
    # prints the base URL, and stops when its standard input closes
    import sys

    served_hub = HubServer()
    args = sys.argv[1:]
    for i in range(0, len(args), 3):
        served_hub.add(args[i], args[i + 1], Path(args[i + 2]))
    print(served_hub.start(), flush=True)
    sys.stdin.read()
    served_hub.stop()
