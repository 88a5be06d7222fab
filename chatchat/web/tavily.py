"""Tavily: POST /search with {query, max_results}, key as a bearer token; results[] as {title, url, content}."""

from __future__ import annotations

from chatchat.web.base import Language, SearchProvider, SearchResult, results_from


class Tavily(SearchProvider):
    id = "tavily"
    name = "Tavily"
    key_id = "web.tavily"
    key_env = "TAVILY_API_KEY"
    endpoint = "https://api.tavily.com/search"

    def search(self, query: str, count: int, language: Language = "en") -> list[SearchResult]:
        body = {"query": query, "max_results": count, "search_depth": "basic"}
        data = self.request_json("POST", self.url, json=body, headers={"Authorization": f"Bearer {self.key}"})
        return results_from(data.get("results") if isinstance(data, dict) else None, "url", "title", "content", count)
