"""A stand-in for a cloud model that calls tools: an OpenAI-compatible /v1/chat/completions server, started
by the tests on a loopback port, that answers from a script (no cloud model is reachable here). Each
request takes the next scripted reply: tool calls or text. Streamed replies send a tool call as OpenAI
does (id and name first, the JSON arguments in two fragments). Every request body is kept for asserts."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api_server import free_port

# {"content": str} or {"tool_calls": [(name, arguments dict), ...]}; "delay": seconds between words,
# "wait": seconds before the first chunk (a slow model thinking)
Reply = dict[str, Any]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    body = {"id": "chatcmpl-stand-in", "object": "chat.completion.chunk", "created": 0, "model": "stand-in",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _stream(reply: Reply) -> Iterator[str]:
    time.sleep(reply.get("wait", 0))
    yield _chunk({"role": "assistant"})
    for index, (name, arguments) in enumerate(reply.get("tool_calls", [])):
        text = json.dumps(arguments, ensure_ascii=False)
        half = len(text) // 2
        yield _chunk({"tool_calls": [{"index": index, "id": f"call_{index}", "type": "function",
                                      "function": {"name": name, "arguments": ""}}]})
        for piece in (text[:half], text[half:]):
            yield _chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    for word in reply["content"].split(" ") if reply.get("content") else ():
        yield _chunk({"content": word + " "})
        time.sleep(reply.get("delay", 0))
    yield _chunk({}, "tool_calls" if reply.get("tool_calls") else "stop")
    yield "data: [DONE]\n\n"


def _whole(reply: Reply) -> dict[str, Any]:
    calls = [{"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
             for i, (name, args) in enumerate(reply.get("tool_calls", []))]
    message = {"role": "assistant", "content": reply.get("content") or None, **({"tool_calls": calls} if calls else {})}
    return {"id": "chatcmpl-stand-in", "object": "chat.completion", "created": 0, "model": "stand-in",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class ToolModelStandIn:
    def __init__(self, script: list[Reply]):
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.url = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        def models() -> dict:
            return {"object": "list", "data": [{"id": "stand-in", "object": "model", "owned_by": "tests"}]}

        @app.post("/v1/chat/completions")
        async def completions(request: Request):
            body = await request.json()
            self.requests.append(body)
            reply = self.script.pop(0) if self.script else {"content": "(the script is over)"}
            if body.get("stream"):
                return StreamingResponse(_stream(reply), media_type="text/event-stream")
            return JSONResponse(_whole(reply))

        return app


@contextmanager
def running(script: list[Reply]) -> Iterator[ToolModelStandIn]:
    """The stand-in serving `script`; `.url` is its base URL (…/v1)."""
    stand_in = ToolModelStandIn(script)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(stand_in.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    stand_in.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield stand_in
    finally:
        server.should_exit = True
        thread.join(10)
