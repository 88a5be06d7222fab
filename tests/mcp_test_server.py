"""A real MCP server built with the official SDK, for the agent tests: `python tests/mcp_test_server.py stdio NOTES`
or `... http PORT NOTES` (streamable HTTP at /mcp). `add` is marked read-only; `remember` appends a line to the
file NOTES, so it is not; `wait` sleeps, for timeouts and Stop. (A stdio server gets only a default
environment from the SDK, so the path comes as an argument.)"""

from __future__ import annotations

import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("chatchat-test")
NOTES = sys.argv[-1]


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool()
def remember(note: str) -> str:
    """Save a note for later."""
    with open(NOTES, "a", encoding="utf-8") as handle:
        handle.write(note + "\n")
    return f"saved: {note}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def wait(seconds: float) -> str:
    """Wait a number of seconds."""
    time.sleep(seconds)
    return "done waiting"


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
