"""Brave Search API: GET /res/v1/web/search?q=…&count=…, key in the X-Subscription-Token header; results in
web.results[] as {title, url, description}."""

from __future__ import annotations

from chatchat.web.base import Language, SearchProvider, SearchResult, results_from


class Brave(SearchProvider):
    id = "brave"
    name = "Brave Search"
    key_id = "web.brave"
    key_env = "BRAVE_SEARCH_API_KEY"
    endpoint = "https://api.search.brave.com/res/v1/web/search"

    def search(self, query: str, count: int, language: Language = "en") -> list[SearchResult]:
        params = {"q": query, "count": min(count, 20), "search_lang": "zh-hans" if language == "zh" else "en"}
        headers = {"X-Subscription-Token": self.key or "", "Accept": "application/json"}
        data = self.request_json("GET", self.url, params=params, headers=headers)
        web = data.get("web") if isinstance(data, dict) else None
        return results_from(web.get("results") if isinstance(web, dict) else None, "url", "title", "description",
                            count)
