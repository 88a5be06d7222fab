"""Search-engine chat (chatchat.web) against a local stand-in for the web: tests/web_stand_in.py, a real HTTP
server on 127.0.0.1 started by these tests in a thread, which speaks the JSON APIs of SearXNG, Brave,
Tavily, Bing and Exa and serves real HTML pages from tests/data/web/ (Chinese and English pages, a GBK page,
a PNG, a page past the size cap, a redirect loop). No request leaves this machine (the no_network fixture
refuses any that would). DuckDuckGo (ddgs) reads duckduckgo.com itself: only its result mapping and its
error when it cannot connect are tested. Ranking uses the real default embedding model."""

from __future__ import annotations

import os
import stat
import time

import pytest

from chatchat.config import KeyStore, Settings, load_settings
from chatchat.models.catalog import load_catalog
from chatchat.retrieval.embeddings import EmbedderPool
from chatchat.ui.i18n import error_text
from chatchat.web import registry
from chatchat.web.base import PageUnreadable, SearchResult, WebSearchError
from chatchat.web.bing import Bing
from chatchat.web.brave import Brave
from chatchat.web.duckduckgo import DuckDuckGo, mapped
from chatchat.web.exa import Exa
from chatchat.web.extract import main_text
from chatchat.web.fetch import MAX_PAGE_BYTES, Page, decode, fetch_pages
from chatchat.web.retriever import STAGES, WebRetriever
from chatchat.web.searxng import SearXNG
from chatchat.web.tavily import Tavily
from web_stand_in import DATA, KEY, SLOW_S, StandIn, offline, web  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("web-home")


@pytest.fixture(scope="module")
def pool(home):
    """One embedder pool for the module: the default model loads once."""
    settings = load_settings(home=home)
    return EmbedderPool(settings, load_catalog())


def retriever(pool: EmbedderPool, web: StandIn, timeout: float = 2.0, **options) -> WebRetriever:
    settings = pool.settings.model_copy(update={"web_timeout_s": timeout})
    return WebRetriever(settings, pool.catalog, pool, SearXNG(timeout=timeout, endpoint=web.url), **options)


def caught(call) -> WebSearchError:
    with pytest.raises(WebSearchError) as info:
        call()
    return info.value


def assert_explained(error: Exception) -> None:
    """The message is the English text of its key; the key has a Chinese text too."""
    assert error.key and error_text(error, "en") == error.message
    assert error_text(error, "zh") != error.message


# --- providers against the stand-in -----------------------------------------------------------------------

def test_searxng_json_api_gives_url_title_and_snippet(web):
    results = SearXNG(timeout=2, endpoint=web.url).search("元宵节吃什么", 3, "zh")
    assert [r.url for r in results] == [f"{web.url}/pages/lantern-festival.html", f"{web.url}/pages/lantern.png",
                                        f"{web.url}/huge"]
    assert results[0] == SearchResult(f"{web.url}/pages/lantern-festival.html", "元宵节的由来与习俗",
                                      "元宵节是中国的传统节日，时间在每年农历正月十五……")


@pytest.mark.parametrize("cls, path", [(Brave, "/res/v1/web/search"), (Tavily, "/tavily/search"),
                                       (Bing, "/bing/v7.0/search"), (Exa, "/exa/search")])
def test_key_providers_read_their_own_response_shape(web, cls, path):
    results = cls(key=KEY, timeout=2, endpoint=web.url + path).search("a short history of tea", 5)
    assert [r.title for r in results] == ["A Short History of Tea", "Tea photo gallery", "Tea prices (archived)"]
    assert results[0].snippet == "How tea travelled from China to the rest of the world."
    refused = caught(lambda: cls(key="wrong", timeout=2, endpoint=web.url + path).search("tea", 5))
    assert (refused.key, refused.params["status"]) == ("web_refused", 401)
    assert_explained(refused)
    missing = caught(lambda: cls(key=None, timeout=2, endpoint=web.url + path))
    assert missing.key == "web_no_key" and cls.key_env in missing.message


def test_provider_faults_each_have_a_clear_message(web):
    searxng = SearXNG(timeout=1, endpoint=web.url)
    limited = caught(lambda: searxng.search("tea status:429", 5))
    assert limited.key == "web_rate_limited" and "429" in limited.message
    broken = caught(lambda: searxng.search("tea status:503", 5))
    assert (broken.key, broken.params["status"]) == ("web_http", 503)
    no_json = caught(lambda: searxng.search("tea status:403", 5))
    assert no_json.key == "web_searxng_json" and "settings.yml" in no_json.message
    started = time.monotonic()
    slow = caught(lambda: searxng.search("tea slow-search", 5))
    assert slow.key == "web_timeout" and time.monotonic() - started < SLOW_S
    for error in (limited, broken, no_json, slow):
        assert_explained(error)
    assert (no_json.status, limited.status, broken.status, slow.status) == (400, 502, 502, 502)  # set-up vs fault
    assert searxng.search("tea nothing", 5) == []


def test_a_provider_that_is_not_there(web):
    with StandIn() as gone:
        url = gone.url
    error = caught(lambda: SearXNG(timeout=2, endpoint=url).search("tea", 5))
    assert error.key == "web_unreachable" and "127.0.0.1" in error.message
    assert_explained(error)


def test_duckduckgo_maps_ddgs_results_and_says_when_it_cannot_connect(web, monkeypatch):
    items = [{"title": "A Short History of Tea", "href": "https://example.org/tea", "body": "How tea  travelled"},
             {"title": "no address", "href": "", "body": "dropped"}]
    assert mapped(items, 5) == [SearchResult("https://example.org/tea", "A Short History of Tea", "How tea travelled")]
    with StandIn() as gone:
        closed = gone.url
    monkeypatch.setenv("DDGS_PROXY", closed)  # ddgs's own setting: every request goes to a closed local port
    error = caught(lambda: DuckDuckGo(timeout=3).search("tea", 3))
    assert error.key in ("web_unreachable", "web_timeout")
    assert_explained(error)


# --- choosing a provider: offline by default, keys, Spaces --------------------------------------------------

def test_nothing_is_searched_until_a_provider_is_picked(settings: Settings):
    assert settings.web_provider == ""
    with StandIn() as instance:
        settings.web_searxng_url = instance.url  # an instance is set up, but no provider picked
        error = caught(lambda: registry.open_provider(settings, allowed=True))
        assert (error.key, error.status) == ("web_no_provider", 400)
        assert instance.requests == []
    settings.web_searxng_url = ""
    assert caught(lambda: registry.open_provider(settings, "searxng", allowed=True)).key == "web_searxng_url"
    assert caught(lambda: registry.open_provider(settings, "yahoo", allowed=True)).key == "web_unknown_provider"


def test_on_a_space_search_chat_is_off_unless_its_owner_enabled_it(settings: Settings, web):
    settings.web_provider, settings.web_searxng_url = "searxng", web.url
    error = caught(lambda: registry.open_provider(settings, allowed=False))
    assert error.key == "web_off_on_space"
    assert_explained(error)
    assert isinstance(registry.open_provider(settings, allowed=True), SearXNG)


def test_provider_keys_live_in_keys_yaml_like_the_other_provider_keys(settings: Settings, web, monkeypatch):
    monkeypatch.delenv("BRAVE_SEARCH_API_KEY", raising=False)
    assert caught(lambda: registry.open_provider(settings, "brave", allowed=True)).key == "web_no_key"
    KeyStore(settings.home).set(Brave.key_id, KEY)
    assert stat.S_IMODE(os.stat(settings.home / "keys.yaml").st_mode) == 0o600
    brave = registry.open_provider(settings, "brave", allowed=True)
    assert brave.key == KEY and brave.url == Brave.endpoint
    monkeypatch.setenv("TAVILY_API_KEY", "from-env")
    assert registry.open_provider(settings, "tavily", allowed=True).key == "from-env"
    assert {cls.id for cls in registry.PROVIDERS.values()} == {"searxng", "duckduckgo", "bing", "tavily", "brave", "exa"}


def test_web_settings_are_checked(tmp_path):
    with pytest.raises(ValueError):
        Settings(home=tmp_path, web_searxng_url="localhost:8888")
    with pytest.raises(ValueError):
        Settings(home=tmp_path, web_results=0)
    assert Settings(home=tmp_path, web_searxng_url="http://localhost:8888").web_searxng_url == "http://localhost:8888"


# --- fetching and extracting pages --------------------------------------------------------------------------

def test_pages_that_cannot_be_read_each_say_why(web):
    paths = ["/pages/lantern.png", "/mislabeled", "/huge", "/loop/a", "/missing", "/slow-page"]
    started = time.monotonic()
    pages = fetch_pages([web.url + p for p in paths], timeout=1.0)
    assert time.monotonic() - started < SLOW_S  # concurrent, and the slow page is given up at its deadline
    keys = [p.key if isinstance(p, PageUnreadable) else "read" for p in pages]
    assert keys == ["page_binary", "page_binary", "page_too_large", "page_redirects", "page_http", "page_timeout"]
    assert pages[2].params["limit"] == f"{MAX_PAGE_BYTES / 2**20:g}"
    for page in pages:
        assert_explained(page)


def test_a_gbk_page_decodes_by_its_meta_charset(web):
    [page] = fetch_pages([f"{web.url}/pages/giant-panda-gbk.html"], timeout=2)
    assert isinstance(page, Page)
    title, text = main_text(page)
    assert title == "大熊猫的饮食习性"
    assert "百分之九十九的食物都是竹子" in text and "\ufffd" not in text


def test_a_gbk_page_that_declares_no_charset_is_recognised():
    data = (DATA / "giant-panda-gbk.html").read_bytes().replace(b"; charset=gbk", b"")
    assert b"charset" not in data
    text = decode(data, None, "giant-panda-gbk.html")
    assert "大熊猫是中国特有的物种" in text


def test_main_text_leaves_out_navigation_and_footer(web):
    pages = fetch_pages([f"{web.url}/pages/lantern-festival.html", f"{web.url}/pages/tea-history.html"], timeout=2)
    (zh_title, zh), (en_title, en) = (main_text(p) for p in pages)
    assert (zh_title, en_title) == ("元宵节的由来与习俗", "A Short History of Tea")
    assert "猜灯谜始于南宋" in zh and "版权所有" not in zh and "热门文章" not in zh
    assert "Catherine of Braganza" in en and "newsletter" not in en and "Log in" not in en


def test_addresses_of_this_machine_can_be_refused(web):
    [page] = fetch_pages([f"{web.url}/pages/tea-history.html"], timeout=2, allow_private=False)
    assert isinstance(page, PageUnreadable) and page.key == "page_private"


# --- the whole retrieval --------------------------------------------------------------------------------------

def test_web_retrieval_ranks_the_readable_pages_and_names_the_unreadable(pool, web):
    found = retriever(pool, web)("元宵节为什么要吃汤圆", "zh")
    best = found.passages[0]
    assert best.hit.url == f"{web.url}/pages/lantern-festival.html" and best.hit.file == "元宵节的由来与习俗"
    assert "象征团圆美满" in best.text and best.hit.kb == "web"
    assert found.covered
    unread = {u.result.url.removeprefix(web.url): u.error.key for u in found.unread}
    assert unread == {"/pages/lantern.png": "page_binary", "/huge": "page_too_large", "/loop/a": "page_redirects"}
    snippets = {p.hit.url.removeprefix(web.url): p.text for p in found.passages[1:]}
    assert set(snippets) <= {"/pages/lantern.png", "/huge"}  # what the engine said of a page stands in for it
    assert set(found.timings) == set(STAGES) and all(t >= 0 for t in found.timings.values())


def test_english_question_and_a_page_whose_title_only_the_page_knows(pool, web):
    tea = retriever(pool, web)("Who made tea fashionable in England?", "en")
    assert tea.passages[0].hit.url == f"{web.url}/pages/tea-history.html"
    assert "Catherine of Braganza" in tea.passages[0].text
    assert {u.error.key for u in tea.unread} == {"page_binary", "page_http"}
    panda = retriever(pool, web)("大熊猫每天吃多少竹子？", "zh")
    assert panda.passages[0].hit.file == "大熊猫的饮食习性"  # the engine gave no title: the page's own
    assert "十二到三十八公斤" in panda.passages[0].text


def test_no_results_and_nothing_readable_are_errors(pool, web):
    nothing = caught(lambda: retriever(pool, web)("tea nothing", "en"))
    assert nothing.key == "web_no_results" and "tea nothing" in nothing.message
    assert_explained(nothing)
    unreadable = caught(lambda: retriever(pool, web, timeout=1.0)("slow-page", "en"))
    assert unreadable.key == "web_nothing_readable" and "took longer than 1 s" in unreadable.message


def test_a_web_answer_cites_pages_and_says_which_could_not_be_read(pool, web):
    """The answerer's retrieve contract with the real demo model (SmolLM2 through llama.cpp)."""
    from chatchat.answer.answerer import Answerer
    from chatchat.llm.manager import LLMManager
    from chatchat.web.notes import web_answer

    settings = pool.settings.model_copy(update={"web_timeout_s": 2.0, "llm_threads": 1})
    llms = LLMManager(settings, pool.catalog)
    web_retriever = retriever(pool, web)
    try:
        events = list(web_answer(Answerer(settings, llms), web_retriever, "元宵节为什么要吃汤圆？", temperature=0,
                                 max_tokens=16))
    finally:
        llms.unload_all()
    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["sources", "done"] and "error" not in kinds
    sources = events[-2].sources
    assert sources[0].file == "元宵节的由来与习俗" and sources[0].kb == "web"
    done = events[-1].text
    assert done == "".join(e.text for e in events if e.kind == "delta")
    note = done[done.index("有 3 个来源无法读取："):]
    assert f"[元宵节花灯图片]({web.url}/pages/lantern.png): 不是网页（image/png）；已改用搜索引擎给出的摘要" in note
    assert f"[元宵节全集]({web.url}/huge): 超过 2 MB" in note
    assert f"[元宵节专题]({web.url}/loop/a): 陷入重定向循环" in note


def test_the_unread_note_in_english(pool, web):
    from chatchat.web.notes import unread_note

    found = retriever(pool, web)("Who made tea fashionable in England?", "en")
    note = unread_note(found.unread, "en")
    assert note.splitlines() == [
        "Could not read 2 of the sources:",
        f"- [Tea photo gallery]({web.url}/mislabeled): not a web page (binary data); the search engine's snippet "
        "was used instead",
        f"- [Tea prices (archived)]({web.url}/missing): it answered HTTP 404",
    ]
    assert unread_note((), "en") == ""
