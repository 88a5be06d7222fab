"""DuckDuckGo through the maintained `ddgs` library (the web extra), which reads DuckDuckGo's HTML pages;
no key. It honours the DDGS_PROXY environment variable."""

from __future__ import annotations

from typing import Any

from chatchat.web.base import Language, SearchProvider, SearchResult, missing_package, results_from


class DuckDuckGo(SearchProvider):
    id = "duckduckgo"
    name = "DuckDuckGo"

    def search(self, query: str, count: int, language: Language = "en") -> list[SearchResult]:
        try:
            from ddgs import DDGS
            from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException
        except ImportError:
            raise missing_package("ddgs", "DuckDuckGo search") from None
        region = "cn-zh" if language == "zh" else "us-en"
        try:
            items = DDGS(timeout=max(1, round(self.timeout))).text(
                query, region=region, max_results=count, backend="duckduckgo")
        except RatelimitException:
            raise self.rate_limited() from None
        except TimeoutException:
            raise self.timed_out() from None
        except DDGSException as exc:
            if "no results" in str(exc).lower():
                return []
            raise self.unreachable("duckduckgo.com", str(exc) or type(exc).__name__) from None
        return mapped(items, count)


def mapped(items: Any, count: int) -> list[SearchResult]:
    """ddgs text results ({title, href, body}) as SearchResults."""
    return results_from(items, "href", "title", "body", count)
