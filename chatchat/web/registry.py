"""The search providers, by id: adding one is its module and its line here."""

from __future__ import annotations

from chatchat.config import KeyStore, Settings
from chatchat.web.base import SearchProvider, WebSetupError
from chatchat.web.bing import Bing
from chatchat.web.brave import Brave
from chatchat.web.duckduckgo import DuckDuckGo
from chatchat.web.exa import Exa
from chatchat.web.searxng import SearXNG
from chatchat.web.tavily import Tavily

PROVIDERS: dict[str, type[SearchProvider]] = {
    cls.id: cls for cls in (SearXNG, DuckDuckGo, Bing, Tavily, Brave, Exa)
}


def choices() -> list[tuple[str, str]]:
    """(name, id) of every provider, for a dropdown."""
    return [(cls.name, cls.id) for cls in PROVIDERS.values()]


def open_provider(settings: Settings, provider_id: str | None = None, *, allowed: bool) -> SearchProvider:
    """The provider to search with: `provider_id`, else the one picked in Settings (`web_provider`), with its
    key (keys.yaml, else its env var) and its address. `allowed`: whether this app may search the web at all
    (the policy's answer: on a Hugging Face Space only when its owner enabled it)."""
    if not allowed:
        raise WebSetupError(
            "Search-engine chat is off on this Space: its owner can turn it on in Settings (web_enabled_on_space).",
            key="web_off_on_space",
        )
    wanted = (provider_id or settings.web_provider).strip()
    if not wanted:
        raise WebSetupError("Pick a search engine first (Settings → Search engine): nothing is searched until then.",
                             key="web_no_provider")
    cls = PROVIDERS.get(wanted)
    if cls is None:
        raise WebSetupError(f"Unknown search engine '{wanted}'. Known: {', '.join(PROVIDERS)}.",
                             key="web_unknown_provider", provider=wanted, known=", ".join(PROVIDERS))
    key = KeyStore(settings.home).get(cls.key_id, cls.key_env) if cls.key_id else None
    return cls(key=key, timeout=settings.web_timeout_s, endpoint=cls.configured_endpoint(settings))
