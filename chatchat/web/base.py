"""The search-provider interface, a search result, and the errors a search or a page can end in.

A provider turns a query into `SearchResult`s. Those speaking a JSON API share `request_json`, which gives
every fault the same clear message with an i18n key (texts: chatchat/ui/strings/web.py, "error.<key>"):
timeout, unreachable, 401/403 (the key), 429 (rate limit), other 4xx/5xx, an answer that is not JSON.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit

from chatchat.errors import ChatchatError, ProviderError

if TYPE_CHECKING:
    from chatchat.config import Settings

Language = Literal["zh", "en"]
DETAIL_CHARS = 200  # of an error answer's body, in a message


@dataclass(frozen=True)
class SearchResult:
    url: str
    title: str
    snippet: str  # what the search engine shows under the title (may be empty)


class WebSearchError(ProviderError):
    """The search itself failed: the person can pick another provider, fix the key or try later."""

    code = "web_search_error"


class WebSetupError(WebSearchError):
    """Search chat cannot start as set up (no provider picked, no key, off on a Space): the person acts."""

    code = "web_setup"
    status = 400


class PageUnreadable(ChatchatError):
    """One result page could not be read; the answer goes on without it and says so."""

    code = "page_unreadable"
    status = 422


class SearchProvider(ABC):
    """One search engine. `key_id` names its key in keys.yaml (chatchat.config.KeyStore), `key_env` the
    environment variable read when none is saved; a provider without either needs no key."""

    id: ClassVar[str]
    name: ClassVar[str]
    key_id: ClassVar[str | None] = None
    key_env: ClassVar[str | None] = None
    endpoint: ClassVar[str] = ""  # the documented API address; a test or a mirror passes another

    def __init__(self, key: str | None = None, timeout: float = 10.0, endpoint: str | None = None):
        if self.key_id and not key:
            raise WebSetupError(
                f"{self.name} needs an API key: save it under Settings → API keys, or set {self.key_env}.",
                key="web_no_key", provider=self.name, env=self.key_env or "",
            )
        self.key = key
        self.timeout = timeout
        self.url = (endpoint or self.endpoint).rstrip("/")

    @classmethod
    def configured_endpoint(cls, settings: Settings) -> str | None:
        """The address the settings give this provider (None: its documented one)."""
        return None

    @abstractmethod
    def search(self, query: str, count: int, language: Language = "en") -> list[SearchResult]:
        """At most `count` results, best first; raises WebSearchError (an empty list is no error here)."""

    def timed_out(self) -> WebSearchError:
        return WebSearchError(
            f"{self.name} did not answer within {self.timeout:g} s: try again, or pick another search engine.",
            key="web_timeout", provider=self.name, seconds=f"{self.timeout:g}",
        )

    def unreachable(self, host: str, detail: str) -> WebSearchError:
        return WebSearchError(f"Cannot reach {self.name} at {host} ({detail}).",
                              key="web_unreachable", provider=self.name, host=host, detail=detail)

    def rate_limited(self) -> WebSearchError:
        return WebSearchError(
            f"{self.name} is limiting how often it may be asked (HTTP 429): wait a little and ask again, "
            "or pick another search engine.", key="web_rate_limited", provider=self.name,
        )

    def request_json(self, method: str, url: str, **options: Any) -> Any:
        """One request to the provider's API, its JSON answer; every fault a WebSearchError."""
        import httpx

        host = urlsplit(url).netloc or url
        try:
            response = httpx.request(method, url, timeout=self.timeout, follow_redirects=True, **options)
        except httpx.TimeoutException:
            raise self.timed_out() from None
        except httpx.HTTPError as exc:
            raise self.unreachable(host, str(exc) or type(exc).__name__) from None
        status = response.status_code
        if status == 429:
            raise self.rate_limited()
        if status in (401, 403):
            raise WebSearchError(
                f"{self.name} refused the request (HTTP {status}): check its API key under Settings → API keys.",
                key="web_refused", provider=self.name, status=status,
            )
        if status >= 400:
            detail = " ".join(response.text.split())[:DETAIL_CHARS] or response.reason_phrase
            raise WebSearchError(
                f"{self.name} answered HTTP {status} ({detail}): try again later, or pick another search engine.",
                key="web_http", provider=self.name, status=status, detail=detail,
            )
        try:
            return response.json()
        except ValueError:
            raise WebSearchError(
                f"{self.name} at {host} did not answer with JSON: is the address that of its API?",
                key="web_not_json", provider=self.name, host=host,
            ) from None


def missing_package(package: str, purpose: str) -> WebSearchError:
    return WebSearchError(f"{purpose} needs the {package} package: pip install 'chatchat[web]'.",
                          key="web_missing_package", package=package, purpose=purpose)


def results_from(items: Any, url: str, title: str, snippet: str, count: int) -> list[SearchResult]:
    """SearchResults from a provider's list of result objects, by the names of their three fields; items
    without an http(s) address are left out."""
    results = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not str(item.get(url) or "").startswith(("http://", "https://")):
            continue
        text = item.get(snippet) or ""
        if isinstance(text, list):  # Exa's highlights
            text = " … ".join(str(part) for part in text)
        results.append(SearchResult(str(item[url]), " ".join(str(item.get(title) or "").split()),
                                    " ".join(str(text).split())))
    return results[:count]
