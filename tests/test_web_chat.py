"""Search-engine chat through every face: `chatchat ask --web`, /v1/chat/completions with model web:<model>,
and a web conversation (Services.reply). The web is tests/web_stand_in.py, a local stand-in for SearXNG
and the pages it finds (real HTML files of tests/data/web/), started by these tests in a thread; the model
is the packaged SmolLM2; no request leaves this machine."""

from __future__ import annotations

import json

import openai
import pytest

from api_server import api_settings, running
from chatchat.cli import main as cli_main
from chatchat.config import save_settings
from chatchat.policy import SpacePolicy
from chatchat.service import Services
from web_stand_in import offline, web  # noqa: F401 (fixtures)

LLM = "smollm2-135m-instruct"
QUESTION = "元宵节为什么要吃汤圆？"


def test_ask_web_cites_pages_by_address_and_says_what_could_not_be_read(settings, web, capsys):
    home = ["--home", str(settings.home)]
    assert cli_main([*home, "ask", "--web", "--max-tokens", "8", QUESTION]) == 2
    assert "Pick a search engine first" in capsys.readouterr().err  # offline by default: nothing was searched
    save_settings(settings, {"web_searxng_url": web.url})
    assert cli_main([*home, "ask", "--web", "searxng", "--max-tokens", "8", QUESTION]) == 0
    out = capsys.readouterr().out
    assert f"元宵节的由来与习俗 <{web.url}/pages/lantern-festival.html>" in out
    assert "有 3 个来源无法读取：" in out and f"({web.url}/loop/a): 陷入重定向循环" in out
    assert cli_main([*home, "ask", "--web", "searxng", "--json", "--max-tokens", "8", QUESTION]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [sources] = [e["sources"] for e in events if e["kind"] == "sources"]
    assert sources[0]["url"] == f"{web.url}/pages/lantern-festival.html" and sources[0]["kb"] == "web"
    assert cli_main([*home, "ask", "--web", "--kb", "docs", QUESTION]) == 2


def test_openai_route_answers_web_models_with_page_sources(tmp_path, web):
    settings = api_settings(tmp_path / "home", llm_threads=1, web_provider="searxng", web_searxng_url=web.url)
    with running(settings, Services.open(settings)) as base:
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)
        reply = client.chat.completions.create(model=f"web:{LLM}", messages=[{"role": "user", "content": QUESTION}],
                                               max_tokens=8, temperature=0)
        sources = reply.model_extra["sources"]
        assert sources[0]["url"] == f"{web.url}/pages/lantern-festival.html"
        assert "有 3 个来源无法读取：" in reply.choices[0].message.content
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="web:", messages=[{"role": "user", "content": QUESTION}],
                                           extra_body={"web_provider": "brave"})
        assert "Brave Search needs an API key" in str(refused.value)


def test_a_web_conversation_keeps_its_answer_and_page_sources(settings, web):
    save_settings(settings, {"web_provider": "searxng", "web_searxng_url": web.url})
    services = Services.open(settings)
    conversation = services.conversations.create(mode="web")
    events = list(services.reply(conversation.id, QUESTION, max_tokens=8))
    assert [e.kind for e in events][-2:] == ["sources", "done"]
    saved = services.conversations.get(conversation.id).messages[-1]
    assert saved.sources[0]["url"] == f"{web.url}/pages/lantern-festival.html"
    assert "有 3 个来源无法读取：" in saved.content
    services.llms.unload_all()


def test_on_a_space_web_answers_wait_for_the_owner(settings, web):
    save_settings(settings, {"web_provider": "searxng", "web_searxng_url": web.url})
    services = Services.open(settings, policy=SpacePolicy())
    [event] = list(services.web_answer(QUESTION, max_tokens=8))
    assert event.kind == "error" and event.error.key == "web_off_on_space"
    settings.web_enabled_on_space = True
    retriever = services.web_retriever()
    assert retriever.allow_private is False  # a public app reads no page of its own network
    found = retriever(QUESTION, "zh")  # the stand-in is on 127.0.0.1: only the engine's snippets are used
    assert [u.error.key for u in found.unread] == ["page_private"] * 4
    assert {p.text for p in found.passages} <= {r.snippet for r in found.results}
