"""LLMs behind one `ChatModel` interface (a stream of text deltas).

Engines: llama.cpp (GGUF, default), ctransformers (legacy), GPTQ (gptqmodel, optional) and
OpenAI-compatible HTTP. Importing this package imports no engine; `LLMManager` loads them on demand.
"""

from chatchat.llm.base import ChatModel, Message
from chatchat.llm.manager import LLMManager, ModelRef

__all__ = ["ChatModel", "LLMManager", "Message", "ModelRef"]
