"""A local stand-in for a cloud chat model that calls tools: OpenAI's streamed chat-completions wire format
over real HTTP on 127.0.0.1.

llama-cpp-python's own server cannot play this part: with `--chat_format chatml-function-calling` it streams
a call only when the request names the tool (tool_choice {"type": "function", ...}); with "auto", the way
agents ask, its handler raises "Automatic streaming tool choice is not supported" after the 200 and the event
stream ends empty (tests/test_llm_openai.py shows both). So this server sends what
OpenAI, DeepSeek or Qwen send: `tool_calls` deltas, the id and name in the first piece and the JSON
arguments cut into fragments, several calls told apart by `index`, then finish_reason "tool_calls". A
request whose last message is a tool's result is answered in words that quote the result. Every request
body is kept, for a test to see what the client sent.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ToolsServer:
    calls: list[tuple[str, dict | str]] = field(default_factory=list)  # (tool name, arguments or raw JSON text)
    requests: list[dict] = field(default_factory=list)
    fragment: int = 7  # characters of arguments JSON a delta carries

    def start(self) -> int:
        stand_in = self

        class Handler(_Handler):
            server = stand_in

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self._httpd.server_address[1]  # the port

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def deltas(self, body: dict) -> list[dict]:
        """The `delta`s of the reply, last one first in line for finish_reason."""
        messages = body["messages"]
        if messages[-1]["role"] == "tool" or not body.get("tools") or body.get("tool_choice") == "none":
            text = f"The tool says: {messages[-1]['content']}" if messages[-1]["role"] == "tool" else "Hello."
            return [{"role": "assistant", "content": ""}, *({"content": text[at:at + 5]} for at in range(0, len(text), 5))]
        deltas: list[dict] = [{"role": "assistant", "content": None}]
        for index, (name, arguments) in enumerate(self.calls):
            text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
            deltas.append({"tool_calls": [{"index": index, "id": f"call_{index}_{name}", "type": "function",
                                           "function": {"name": name, "arguments": ""}}]})
            deltas += [{"tool_calls": [{"index": index, "function": {"arguments": text[at:at + self.fragment]}}]}
                       for at in range(0, len(text), self.fragment)]
        return deltas


class _Handler(BaseHTTPRequestHandler):
    server: ToolsServer  # set on the subclass made by ToolsServer.start
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        stand_in = type(self).server
        stand_in.requests.append(body)
        if self.path != "/v1/chat/completions" or not body.get("stream"):
            self.send_error(404, "the stand-in streams chat completions only")
            return
        deltas = stand_in.deltas(body)
        finish = "tool_calls" if any("tool_calls" in d for d in deltas) else "stop"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for number, delta in enumerate(deltas):
            last = number == len(deltas) - 1
            chunk = {"id": "chatcmpl-stand-in", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish if last else None}]}
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True
