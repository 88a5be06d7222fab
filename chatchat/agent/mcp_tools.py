"""Tools of MCP servers (the official MCP Python SDK, v2): each configured server is reached over stdio
(a command this app starts) or streamable HTTP (a URL), for the length of one agent answer.

The agent runs in a worker thread; the SDK is asyncio. A `McpToolbox` keeps one event loop in a thread
of its own, opens every enabled server there, and turns each server tool into a `Tool` whose `run`
waits on that loop."""

from __future__ import annotations

import asyncio
import re
import shlex
import threading
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from chatchat.agent.tools import Tool, ToolError
from chatchat.config import McpServer

CONNECT_TIMEOUT_S = 20.0
CALL_TIMEOUT_S = 60.0


@dataclass
class McpToolbox:
    """The tools of the enabled servers, usable while the box is open (`with McpToolbox(servers) as box`)."""

    servers: list[McpServer]
    tools: list[Tool] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # servers that could not be reached, and why
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stack: AsyncExitStack | None = None

    def __enter__(self) -> "McpToolbox":
        enabled = [server for server in self.servers if server.enabled]
        if not enabled:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chatchat-mcp", daemon=True)
        self._thread.start()
        self._stack = AsyncExitStack()
        for server in enabled:
            try:
                self.tools += self._wait(self._open(server), CONNECT_TIMEOUT_S)
            except Exception as exc:  # a server that does not start or answer must not stop the others
                self.problems.append(f"{server.name}: {_reason(exc)}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is None:
            return
        try:
            self._wait(self._stack.aclose(), CONNECT_TIMEOUT_S)
        except Exception:  # a server that hangs on exit is left to die with its process group
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
        self._loop = None

    def _wait(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _open(self, server: McpServer) -> list[Tool]:
        from mcp import Client, StdioServerParameters

        if server.command:
            argv = shlex.split(server.command)
            target: Any = StdioServerParameters(command=argv[0], args=argv[1:])
        else:
            target = server.url
        client = await self._stack.enter_async_context(Client(target, read_timeout_seconds=CALL_TIMEOUT_S))
        listing = await client.list_tools()
        return [self._tool(server, client, spec) for spec in listing.tools]

    def _tool(self, server: McpServer, client: Any, spec: Any) -> Tool:
        read_only = bool(spec.annotations and spec.annotations.read_only_hint)

        def run(arguments: dict[str, Any]) -> str:
            result = self._wait(client.call_tool(spec.name, arguments), CALL_TIMEOUT_S)
            text = "\n".join(getattr(part, "text", "") or f"[{getattr(part, 'type', 'content')}]"
                             for part in result.content)
            if result.is_error:
                raise ToolError(f"{server.name}/{spec.name}: {text or 'the tool reported an error'}")
            return text

        return Tool(
            name=tool_name(server.name, spec.name),
            description=f"[{server.name}] {spec.description or spec.name}",
            parameters=spec.input_schema or {"type": "object", "properties": {}},
            run=run,
            confirm=server.ask_before_run and not read_only,
            timeout_s=CALL_TIMEOUT_S,
            server=server.name,
        )


def tool_name(server: str, tool: str) -> str:
    """The name the model sees: the server's and the tool's, in the characters function names allow."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{server}__{tool}")[:64]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:g} s"
    inner = getattr(exc, "exceptions", None)  # anyio task groups wrap the real cause in an exception group
    if inner:
        return "; ".join(_reason(e) for e in inner)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
