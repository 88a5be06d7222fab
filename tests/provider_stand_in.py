"""A local stand-in for an OpenAI-compatible provider or model server (no cloud, Ollama or Azure is reachable from
the tests): real HTTP on 127.0.0.1 that keeps each request's method, path, query and headers, and answers in
OpenAI's shape (GET …/models, streamed chat completions, embeddings)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Recorder:
    """A local stand-in for a provider (no cloud is reachable from the tests): it keeps (method, path, query,
    headers) of every request and answers in OpenAI's shape; `models` is what GET …/models returns, `raw` a body
    (with `status`) to send instead."""

    def __init__(self, models: list[dict] | None = None):
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.models = models if models is not None else [{"id": "stand-in", "object": "model", "owned_by": "test"}]
        self.raw: tuple[int, str] | None = None

    def __enter__(self) -> "Recorder":
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, body: str, kind: str = "application/json") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> dict:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                recorder.requests.append((self.command, parts.path, parse_qs(parts.query),
                                          {k.lower(): v for k, v in self.headers.items()}))
                return body

            def do_GET(self) -> None:
                self._record()
                if recorder.raw:
                    return self._answer(recorder.raw[0], recorder.raw[1], "text/html")
                self._answer(200, json.dumps({"object": "list", "data": recorder.models}))

            def do_POST(self) -> None:
                body = self._record()
                if self.path.split("?")[0].endswith("/embeddings"):
                    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                    return self._answer(200, json.dumps({"object": "list", "model": body["model"], "data": [
                        {"object": "embedding", "index": i, "embedding": [0.25] * 8} for i in range(len(texts))],
                        "usage": {"prompt_tokens": 2, "total_tokens": 2}}))
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Paris."},
                                      "finish_reason": None}]}
                stream = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"
                self._answer(200, stream, "text/event-stream")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
