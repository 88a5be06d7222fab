"""SearXNG, self-hosted: its JSON API (GET /search?q=…&format=json). No key; the instance's address is the
`web_searxng_url` setting. JSON must be on in the instance's settings.yml (search.formats), else it answers 403."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatchat.web.base import Language, SearchProvider, SearchResult, WebSearchError, WebSetupError, results_from

if TYPE_CHECKING:
    from chatchat.config import Settings


class SearXNG(SearchProvider):
    id = "searxng"
    name = "SearXNG"

    def __init__(self, key: str | None = None, timeout: float = 10.0, endpoint: str | None = None):
        if not endpoint:
            raise WebSetupError(
                "SearXNG needs the address of your instance (e.g. http://localhost:8888): set it under "
                "Settings → Search engine.", key="web_searxng_url",
            )
        super().__init__(key, timeout, endpoint)

    @classmethod
    def configured_endpoint(cls, settings: Settings) -> str | None:
        return settings.web_searxng_url

    def search(self, query: str, count: int, language: Language = "en") -> list[SearchResult]:
        params = {"q": query, "format": "json", "language": "zh-CN" if language == "zh" else "en"}
        try:
            data = self.request_json("GET", f"{self.url}/search", params=params)
        except WebSearchError as exc:
            if exc.params.get("status") == 403:
                raise WebSetupError(
                    f"SearXNG at {self.url} does not serve JSON (HTTP 403): add json to search.formats in its "
                    "settings.yml and restart it.", key="web_searxng_json", url=self.url,
                ) from None
            raise
        return results_from(data.get("results") if isinstance(data, dict) else None, "url", "title", "content", count)
