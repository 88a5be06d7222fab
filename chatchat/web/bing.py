"""Bing Web Search API v7 (Azure): GET /v7.0/search?q=…&count=…&mkt=…, key in the Ocp-Apim-Subscription-Key
header; results in webPages.value[] as {name, url, snippet}."""

from __future__ import annotations

from chatchat.web.base import Language, SearchProvider, SearchResult, results_from


class Bing(SearchProvider):
    id = "bing"
    name = "Bing"
    key_id = "web.bing"
    key_env = "BING_SUBSCRIPTION_KEY"
    endpoint = "https://api.bing.microsoft.com/v7.0/search"

    def search(self, query: str, count: int, language: Language = "en") -> list[SearchResult]:
        params = {"q": query, "count": count, "mkt": "zh-CN" if language == "zh" else "en-US", "textFormat": "Raw"}
        data = self.request_json("GET", self.url, params=params, headers={"Ocp-Apim-Subscription-Key": self.key})
        pages = data.get("webPages") if isinstance(data, dict) else None
        return results_from(pages.get("value") if isinstance(pages, dict) else None, "url", "name", "snippet", count)
