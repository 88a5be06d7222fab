"""The agent's web tools, on chatchat.web: search the web with the provider picked in Settings, and read
one page's main text."""

from __future__ import annotations

from typing import Any

from chatchat.agent.tools import Tool, ToolError
from chatchat.web.base import PageUnreadable, SearchProvider
from chatchat.web.extract import main_text
from chatchat.web.fetch import fetch_pages

PAGE_CHARS = 3500
RESULTS = 5


def web_search_tool(provider: SearchProvider, language: str) -> Tool:
    def run(arguments: dict[str, Any]) -> str:
        query = str(arguments.get("query") or "").strip()
        if not query:
            raise ToolError("web_search needs a non-empty 'query'.")
        results = provider.search(query, RESULTS, "zh" if language == "zh" else "en")
        if not results:
            return f"{provider.name} found nothing for {query!r}."
        return "\n\n".join(f"[{i}] {r.title}\n{r.url}\n{r.snippet}" for i, r in enumerate(results, 1))

    return Tool("web_search", f"Search the web ({provider.name}) and get result titles, URLs and snippets.",
                {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
                run, timeout_s=provider.timeout + 5)


def read_url_tool(timeout: float, allow_private: bool) -> Tool:
    """`allow_private` False (a Space): addresses of this machine and its network are refused."""
    def run(arguments: dict[str, Any]) -> str:
        url = str(arguments.get("url") or "").strip()
        if not url.startswith(("http://", "https://")):
            raise ToolError("read_url needs an http:// or https:// address.")
        page = fetch_pages([url], timeout, allow_private=allow_private)[0]
        if isinstance(page, PageUnreadable):
            raise ToolError(page.message)
        title, text = main_text(page)
        cut = text[:PAGE_CHARS] + (" …" if len(text) > PAGE_CHARS else "")
        return f"{title}\n{page.url}\n\n{cut}" if title else f"{page.url}\n\n{cut}"

    return Tool("read_url", "Read the main text of a web page.",
                {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
                run, timeout_s=timeout + 5)
