"""Exa (formerly Metaphor): POST /search with {query, numResults, contents}, key in the x-api-key header;
results[] as {title, url, highlights[]}."""

from __future__ import annotations

from chatchat.web.base import Language, SearchProvider, SearchResult, results_from


class Exa(SearchProvider):
    id = "exa"
    name = "Exa (Metaphor)"
    key_id = "web.exa"
    key_env = "EXA_API_KEY"
    endpoint = "https://api.exa.ai/search"

    def search(self, query: str, count: int, language: Language = "en") -> list[SearchResult]:
        body = {"query": query, "numResults": count, "type": "auto", "contents": {"highlights": True}}
        data = self.request_json("POST", self.url, json=body, headers={"x-api-key": self.key or ""})
        return results_from(data.get("results") if isinstance(data, dict) else None, "url", "title", "highlights",
                            count)
