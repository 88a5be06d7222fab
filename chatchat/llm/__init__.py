"""LLMs behind one `ChatModel` base class (a stream of text deltas, and tool calls when tools are offered).

Engines: llama.cpp (GGUF, default), ctransformers (legacy), GPTQ (gptqmodel, optional) and
OpenAI-compatible HTTP. Importing this package imports no engine; `LLMManager` loads them on demand.
"""

from chatchat.llm.base import ChatModel, Message, ModelRef
from chatchat.llm.manager import LLMManager
from chatchat.llm.tools import ToolCall

__all__ = ["ChatModel", "LLMManager", "Message", "ModelRef", "ToolCall"]
