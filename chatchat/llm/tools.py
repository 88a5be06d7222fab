"""Tool calling: what a model emits when it calls one of the OpenAI-style function specs offered to it.

A chat offered `tools` (a list of {"type": "function", "function": {"name", "description", "parameters"}})
streams ToolCall events besides its text. Engines receive calls in OpenAI's shape, whole or in streamed
pieces (the id and name once, the JSON arguments in fragments); `ToolCalls` puts them together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chatchat.errors import ModelError


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]

    def as_openai(self) -> dict:
        """The call as an assistant message's `tool_calls` item, to send back with the tool's result."""
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": json.dumps(self.arguments, ensure_ascii=False)}}


def no_tools_error(model_id: str) -> ModelError:
    return ModelError(f"Model '{model_id}' cannot call tools: choose a model that can (an OpenAI-compatible "
                      "provider model, or a llama.cpp chat model with a ChatML template such as Qwen).",
                      key="no_tools", model=model_id)


class ToolCalls:
    """Tool calls assembled from OpenAI-shaped deltas, by their index in the reply."""

    def __init__(self, model_id: str):
        self.model_id = model_id
        self._parts: dict[int, dict[str, str]] = {}

    def add(self, delta: Any, position: int = 0) -> None:
        """One `tool_calls` item: a dict (llama-cpp-python) or an object (the openai SDK); `position` is its
        place in the list, for items that carry no index (a whole, non-streamed reply)."""
        get = delta.get if isinstance(delta, dict) else lambda key: getattr(delta, key, None)
        function = get("function") or {}
        fget = function.get if isinstance(function, dict) else lambda key: getattr(function, key, None)
        index = get("index")
        part = self._parts.setdefault(position if index is None else index, {"id": "", "name": "", "arguments": ""})
        part["id"] = part["id"] or get("id") or ""
        part["name"] = part["name"] or fget("name") or ""  # sent once (OpenAI) or with every piece (llama.cpp)
        part["arguments"] += fget("arguments") or ""

    def calls(self) -> list[ToolCall]:
        found = []
        for index in sorted(self._parts):
            part = self._parts[index]
            try:
                arguments = json.loads(part["arguments"] or "{}")
                if not isinstance(arguments, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:  # json.JSONDecodeError is one
                raise ModelError(
                    f"Model '{self.model_id}' called the tool {part['name']!r} with arguments that are not a JSON "
                    f"object ({exc}): {part['arguments'][:200]!r}", key="tool_arguments", model=self.model_id,
                    tool=part["name"],
                ) from exc
            found.append(ToolCall(part["id"] or f"call_{index}", part["name"], arguments))
        return found
