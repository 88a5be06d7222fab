"""One agent answer: the tools this question may use (built-in, knowledge bases, the web, MCP servers),
the agent's instructions in the question's language, and the loop."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from chatchat.agent.builtin import basic_tools, kb_search_tool
from chatchat.agent.loop import Approve, run_agent
from chatchat.agent.mcp_tools import McpToolbox
from chatchat.agent.tools import Tool
from chatchat.answer.answerer import AnswerEvent
from chatchat.config import Settings
from chatchat.errors import ChatchatError

if TYPE_CHECKING:
    from chatchat.llm.base import ChatModel
    from chatchat.web.base import SearchProvider

INSTRUCTIONS = {
    "en": "You are Chatchat's assistant with tools. Call a tool when it helps answer: search the user's knowledge "
          "bases for anything their documents may cover, calculate instead of guessing numbers, look things up "
          "on the web when it is offered. Then answer briefly in English, saying where facts came from.",
    "zh": "你是 Chatchat 的助手，可以调用工具。需要时调用工具：凡是用户文档可能涉及的问题先检索知识库，数字用计算器算而不是猜，"
          "提供了网络搜索时可上网查找。然后用中文简洁作答，并说明事实的出处。",
}


class AgentUnavailable(ChatchatError):
    code = "agent_unavailable"


def toolset(settings: Settings, language: str, *, search=None, kbs: Sequence[str] = (),
            provider: SearchProvider | None = None, allow_private: bool = True) -> list[Tool]:
    """The built-in tools for one answer: always the calculator, time and units; knowledge-base search when
    knowledge bases are chosen (`search(kbs, query) -> hits`); web search and page reading when a provider
    is given (the person picked the web, and the policy allows it). `search` is e.g. Services.search_many."""
    tools = basic_tools()
    if kbs and search is not None:
        tools.append(kb_search_tool(search, list(kbs)))
    if provider is not None:
        from chatchat.agent.web_tools import read_url_tool, web_search_tool

        tools += [web_search_tool(provider, language), read_url_tool(settings.web_timeout_s, allow_private)]
    return tools


def agent_answer(
    settings: Settings,
    model: ChatModel,
    history: Sequence[dict[str, Any]],
    question: str,
    language: str,
    tools: list[Tool],
    *,
    approve: Approve | None = None,
    cancel: threading.Event | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> Iterator[AnswerEvent]:
    """Stream an agent answer to `question` after `history` (OpenAI-style messages) as AnswerEvents (see
    run_agent). The MCP servers in Settings are opened for the length of the answer; one that cannot be
    reached is named in a "notice" and the others go on. A problem the user can fix (a model that cannot
    call tools, a provider that refuses) ends the answer as an "error" event, never an exception."""
    messages = [{"role": "system", "content": INSTRUCTIONS.get(language, INSTRUCTIONS["en"])}, *history,
                {"role": "user", "content": question}]

    def step(conversation, specs, stop):
        return model.chat(conversation, tools=specs or None, cancel=stop,
                          temperature=settings.temperature if temperature is None else temperature,
                          max_tokens=max_tokens or settings.max_tokens)

    try:
        with McpToolbox(list(settings.mcp_servers)) as box:
            for problem in box.problems:
                unreachable = AgentUnavailable(f"MCP server {problem}", key="mcp_unreachable", problem=problem)
                yield AnswerEvent("notice", text=unreachable.message, error=unreachable)
            yield from run_agent(step, messages, [*tools, *box.tools], approve=approve, cancel=cancel,
                                 max_steps=settings.agent_max_steps)
    except ChatchatError as exc:
        yield AnswerEvent("error", text=exc.message, error=exc)

