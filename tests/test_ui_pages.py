"""The UI's tabs as pages (issue 13, item 4) without a browser: a page builds, then registers its events; it
tells the other pages what it changed through the named events (chatchat.ui.page.Events) and re-renders
only on those, on a session's load and on a language switch, never on a tab switch; the first render of a
session is in the language the server chose for it; what the policy refuses reads in the session's
language. Real services on a tmp data dir; the handlers are the pages' own, called as Gradio calls them."""

from __future__ import annotations

import re

import gradio as gr
import pytest

from chatchat import space
from chatchat.policy import Caller, ProtectedKB, SpacePolicy
from chatchat.ui import build_ui
from chatchat.ui.common import Context, esc, kb_choices
from chatchat.ui.i18n import t
from chatchat.ui.knowledge import KnowledgePage
from chatchat.ui.page import Events, bump
from chatchat.ui.settings import FIELDS, SettingsPage
from conftest import SAMPLES

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def page_in_blocks(services, page_class):
    """One page built and wired inside a Blocks of its own, as build_ui does it for every tab."""
    with gr.Blocks():
        lang = gr.Radio(["zh", "en"], value="en")
        page = page_class(Context(services=services, lang=lang), Events.create())
        page.build()
        page.register_events()
    return page


def listeners(demo: gr.Blocks, component, event: str) -> list:
    return [fn for fn in demo.fns.values() if (component._id, event) in fn.targets]


def by_elem_id(demo: gr.Blocks, elem_id: str):
    return next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == elem_id)


def toast(handler, *args) -> str:
    """The message a guarded handler shows (outside an event Gradio issues gr.Warning as a Python warning)."""
    with pytest.warns(UserWarning) as shown:
        assert handler(*args) == gr.skip()
    return str(shown[-1].message)


# --- events between pages -------------------------------------------------------------------------
def test_bump_always_changes_the_counter():
    values = [bump(), bump(), bump(7), bump(None)]
    assert len(set(values)) == 4 and values[2] >= 8


def test_what_the_knowledge_page_changes_it_announces(services):
    page = page_in_blocks(services, KnowledgePage)
    created = page.create("manuals", "", None, 400, 80, "en", None)
    assert created[page.kb_pick]["value"] == "manuals"
    first = created[page.events.kbs]
    deleted = page.delete("manuals", "en", None)
    assert deleted[page.kb_pick]["choices"] == []
    assert deleted[page.events.kbs] != first
    # a look at a knowledge base changes nothing: no news for the other pages
    assert page.events.kbs not in page.show(None, "en", None)



def test_what_the_settings_page_saves_it_announces(services):
    """Saved settings are news for the other pages (events.settings); a provider key saved or forgotten
    changes which models can answer (events.models)."""
    page = page_in_blocks(services, SettingsPage)
    form = {name: getattr(services.settings, name) for name in FIELDS}
    saved = page.save("en", *{**form, "top_k": 5}.values())
    assert services.settings.top_k == 5 and saved[page.top_k] == 5
    assert isinstance(saved[page.events.settings], int)
    key, table, news = page.store_key("openai", "sk-test-0123456789abcdef", "en")
    assert key == "" and "sk-••••••••cdef" in table.to_string()
    _, table, again = page.drop_key("openai", "en")
    assert news != again and "sk-" not in table.to_string()

def test_the_search_engines_keys_are_saved_and_forgotten_in_the_one_keys_table(services):
    """A search engine's key sits beside the cloud providers' (masked, with Forget), not in a row of its own."""
    from chatchat.config import KeyStore
    from chatchat.web.registry import open_provider

    page = page_in_blocks(services, SettingsPage)
    assert ("Brave Search", "web.brave") in page.provider.choices and ("DeepSeek", "deepseek") in page.provider.choices
    demo = build_ui(services)
    with pytest.raises(StopIteration):
        by_elem_id(demo, "set-web-key")  # no second key row in the search-engine section
    assert by_elem_id(demo, "set-key-forget").visible
    key, table, _ = page.store_key("web.brave", "BSA-0123456789abcdef", "en")
    row = table[table["Provider"] == "Brave Search (search engine)"].iloc[0]
    assert key == "" and row["API key"] == "BSA••••••••cdef" and row["Source"] == "saved here"
    assert row["API address"] == "https://api.search.brave.com/res/v1/web/search"
    assert open_provider(services.settings, "brave", allowed=True).key == "BSA-0123456789abcdef"
    _, table, _ = page.drop_key("web.brave", "zh")
    assert KeyStore(services.settings.home).get("web.brave") is None
    assert table[table["服务商"] == "Brave Search（搜索引擎）"].iloc[0]["API 密钥"] == "—"


def test_a_change_reaches_the_pages_that_show_it_and_no_tab_switch_re_renders(services):
    demo = build_ui(services)
    states = [block for block in demo.blocks.values() if isinstance(block, gr.State)]
    heard = {id(state): {out.elem_id for fn in listeners(demo, state, "change") for out in fn.outputs} for state in states}
    assert any({"chat-kb"} <= outs for outs in heard.values())  # a new knowledge base shows in Chat's picker
    assert any({"set-llm"} <= outs for outs in heard.values())  # a new model in Settings' default model list
    assert any({"kb-new-embedding"} <= outs for outs in heard.values())
    tabs = [block for block in demo.blocks.values() if isinstance(block, gr.Tab)]
    assert len(tabs) >= 4
    assert not [tab.elem_id for tab in tabs if listeners(demo, tab, "select")]


def test_the_first_render_is_in_the_language_the_server_chose(services):
    """A session's refreshes read the language the load decided from server-side state, not the switch's
    value in the browser, which an event fired as the page loads reads before the decision (English): a
    first Chinese session once showed the demo notice in English (browser test: test_ui_browser.py)."""
    demo = build_ui(services)
    switch = by_elem_id(demo, "cc-lang")
    load = next(fn for fn in demo.fns.values() if (demo._id, "load") in [tuple(t) for t in fn.targets])
    language = next(block for block in load.outputs if isinstance(block, gr.State))
    chain, step = [], load
    while (step := next((fn for fn in demo.fns.values() if fn.trigger_after == step._id), None)) is not None:
        chain.append(step)
    refreshes = [fn for fn in chain if fn.fn is not None]
    assert len(refreshes) >= 4  # a tab's labels, and each page's render
    assert all(switch not in fn.inputs for fn in refreshes)
    assert sum(language in fn.inputs for fn in refreshes) >= 3



def test_an_upload_streams_its_progress_then_announces_the_new_documents(services):
    """The page's ingest runs on chatchat.jobs.Job: the buttons go busy, the panel moves, the outcome shows,
    and the other pages hear that the knowledge base changed."""
    page = page_in_blocks(services, KnowledgePage)
    page.create("notes", "", None, 400, 80, "en", None)
    updates = list(page.add("notes", [str(SAMPLES / "test.txt")], None, "en", "[]", None))
    assert updates[0][page.add_btn]["interactive"] is False and updates[0][page.cancel_btn]["visible"] is True
    panels = [update[page.progress] for update in updates if page.progress in update]
    assert "0 of 1 files" in panels[0] and "1 of 1 files" in panels[-1] and "cc-added" in panels[-1]
    final = updates[-1]
    assert final[page.add_btn]["interactive"] is True and final[page.cancel_btn]["visible"] is False
    assert isinstance(final[page.events.kbs], int) and final[page.files_in] is None
    assert [d.file for d in services.documents("notes")] == ["test.txt"]

# --- the Knowledge bases page and the policy --------------------------------------------------------
def test_on_a_space_a_session_sees_the_demo_and_its_own_uploads(services):
    """The pickers list what the policy lets a session see; the Knowledge bases page asks it before it
    touches one (KnowledgePage._need); the session's uploads go when it ends."""
    services.policy = SpacePolicy()
    page = page_in_blocks(services, KnowledgePage)
    services.create_kb(space.DEMO_KB)
    services.create_kb("private")
    one, two = Caller("session-1"), Caller("session-2")
    mine = services.policy.upload_target(services, one, "private")
    services.policy.upload_target(services, two, "private")
    assert sorted(kb_choices(services, one, "zh")) == sorted([(space.DEMO_KB, space.DEMO_KB), ("我的上传", mine)])
    page._need(mine, one, "zh", write=True)
    with pytest.raises(ProtectedKB):
        page._need(space.DEMO_KB, one, "zh", write=True)
    with pytest.raises(Exception, match="No knowledge base"):
        page._need("private", one, "zh")
    services.policy.end_session(services, one)
    assert mine not in [kb.name for kb in services.list_kbs()]


def test_on_a_space_the_pages_hide_what_the_policy_refuses(services):
    services.policy = SpacePolicy()
    knowledge = page_in_blocks(services, KnowledgePage)
    settings = page_in_blocks(services, SettingsPage)
    assert knowledge.new_box.visible is False and settings.save_btn.visible is False
    # and refuse it when asked all the same (an event sent without the page's button), in the session's language
    assert toast(knowledge.create, "mine", "", None, 400, 80, "zh", None) == esc(t("kb.space_no_create", "zh"))
    assert toast(settings.save, "zh") == esc(t("settings.space_read_only", "zh"))
    assert toast(settings.store_key, "deepseek", "sk-x", "zh") == esc(t("settings.space_read_only", "zh"))


# --- what a person reads in Chinese -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a/b", "   ", "../etc"])
def test_a_refused_knowledge_base_name_reads_in_chinese(services, name):
    page = page_in_blocks(services, KnowledgePage)
    message = toast(page.create, name, "", None, 400, 80, "zh", None)
    assert CHINESE.search(message) and "not a valid" not in message, message
    english = toast(page.create, name, "", None, 400, 80, "en", None)
    assert "is not a valid knowledge-base name" in english


def test_refused_chunking_a_duplicate_and_an_empty_search_read_in_chinese(services):
    page = page_in_blocks(services, KnowledgePage)
    assert CHINESE.search(toast(page.create, "notes", "", None, 40, 10, "zh", None))
    page.create("notes", "", None, 400, 80, "zh", None)
    assert "notes" in (duplicate := toast(page.create, "notes", "", None, 400, 80, "zh", None))
    assert CHINESE.search(duplicate) and "already exists" not in duplicate
    empty = toast(page.search, "notes", "  ", 3, 0.0, "hybrid", "zh", None)
    assert CHINESE.search(empty) and "empty" not in empty


def test_the_demo_is_protected_in_chinese_too(services):
    services.policy = SpacePolicy()
    services.create_kb(space.DEMO_KB)
    page = page_in_blocks(services, KnowledgePage)
    message = toast(page.ask_delete, space.DEMO_KB, "zh", None)
    assert CHINESE.search(message) and "shared demo" not in message
