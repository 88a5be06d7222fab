"""The UI's own logic without a browser: strings in both languages, the language choice, settings saving,
the progress panel, conversation rendering and export, error messages, and the Space rules for what a
session sees. Real services on a tmp data dir; the browser tests are in test_ui_browser.py."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import gradio as gr
import pytest
import yaml

from chatchat.answer.conversations import ChatMessage, Mode
from chatchat.models.downloads import JobStatus
from chatchat.errors import InvalidName, SettingsError
from chatchat.models.hardware import Fit
from chatchat.ingest.job import FileResult, Progress
from chatchat.service import SEARCH_MODES
from chatchat.policy import Caller, SpacePolicy
from chatchat.ui import build_ui
from chatchat.ui.chat_views import export_file, render
from chatchat.ui.common import guarded, kb_choices
from chatchat.ui.i18n import STRINGS, choose_language, t
from chatchat.ui.progress import IngestView
from chatchat.ui.settings import apply

UI = Path(__file__).resolve().parents[1] / "chatchat" / "ui"


# --- strings ----------------------------------------------------------------------------------------
def test_every_string_has_both_languages_with_the_same_placeholders():
    for key, (english, chinese) in STRINGS.items():
        assert english.strip() and chinese.strip(), key
        assert set(re.findall(r"{(\w+)}", english)) == set(re.findall(r"{(\w+)}", chinese)), key


def test_every_key_the_ui_uses_exists():
    used = set()
    for source in UI.glob("*.py"):
        used |= set(re.findall(r'\bt(?:r)?\(\s*"([^"{]+[^".])"', source.read_text(encoding="utf-8")))
    assert len(used) > 100
    assert not used - set(STRINGS), sorted(used - set(STRINGS))
    families = {
        "stage": ["waiting", "parse", "split", "embed", "store", "done", "added", "replaced", "unchanged", "failed", "cancelled"],
        "status": ["ingesting", "ready", "failed", "deleting"],
        "search.mode": list(SEARCH_MODES),
        "chat.mode": list(typing.get_args(Mode)),
        "fit": list(typing.get_args(Fit)),
        "models.job": [s for s in typing.get_args(JobStatus) if s in ("queued", "running", "failed")],
        "docs": ["file", "pages", "chunks", "status", "error", "added"],
    }
    missing = [f"{family}.{name}" for family, names in families.items() for name in names if f"{family}.{name}" not in STRINGS]
    assert not missing


@pytest.mark.parametrize(
    ("saved", "browser", "accept", "setting", "expected"),
    [
        ("en", ["zh-CN"], None, "zh", "en"),  # the person's own pick in this browser wins
        ("", ["zh-CN", "en"], None, "en", "en"),  # then the app's setting
        ("", ["zh-CN", "en"], None, "auto", "zh"),  # then the browser: Chinese when it asks for it
        ("", ["zh-TW"], None, "auto", "zh"),
        ("", ["en-US", "zh-CN"], None, "auto", "en"),
        ("", ["fr-FR", "zh"], None, "auto", "zh"),  # the first language we speak
        ("", ["fr-FR"], None, "auto", "en"),
        ("", [""], "zh-CN,zh;q=0.9,en;q=0.8", "auto", "zh"),  # no navigator info: the Accept-Language header
    ],
)
def test_choose_language(saved, browser, accept, setting, expected):
    assert choose_language(saved, browser, accept, setting) == expected


def test_t_fills_values_named_like_its_own_parameters():
    assert "sk-•" in t("keys.saved_msg", "en", provider="DeepSeek", key="sk-••••")


# --- errors -----------------------------------------------------------------------------------------
def test_guarded_turns_errors_into_escaped_messages():
    @guarded
    def refuse():
        raise InvalidName("'<img src=x onerror=alert(1)>' is not a valid name")

    @guarded
    def crash():
        raise ZeroDivisionError("boom")

    @guarded
    def stream():
        yield 1
        raise InvalidName("half way")

    # a toast (gr.Warning; outside an event Gradio issues it as a Python warning), never a raised gr.Error,
    # which would mark every output of the event "Error"; the outputs are left as they were (gr.skip())
    with pytest.warns(UserWarning) as refused:
        assert refuse() == gr.skip()
    message = str(refused[0].message)
    assert "&lt;img" in message and "<img" not in message
    with pytest.warns(UserWarning) as crashed:
        assert crash() == gr.skip()
    assert "ZeroDivisionError: boom" in str(crashed[0].message) and "Traceback" not in str(crashed[0].message)
    generator = stream()
    assert next(generator) == 1
    with pytest.warns(UserWarning, match="half way"):
        assert next(generator) == gr.skip()
    assert next(generator, "ended") == "ended"

    @guarded
    def nothing_to_do():  # e.g. Retry with no conversation open
        return
        yield

    # Gradio empties every output of a stream that ends without an update: one skip keeps them
    assert list(nothing_to_do()) == [gr.skip()]


# --- settings ----------------------------------------------------------------------------------------
def test_settings_are_validated_together_and_saved_without_run_only_options(tmp_path: Path):
    from chatchat.config import load_settings

    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.yaml").write_text("embed_batch_size: 16\n", encoding="utf-8")
    settings = load_settings(home=home, port=7999, auth="me:secret")
    with pytest.raises(SettingsError, match="chunk overlap"):
        apply(settings, {"chunk_size": 100, "chunk_overlap": 100})
    with pytest.raises(SettingsError, match="top_k"):
        apply(settings, {"top_k": 0})
    assert settings.top_k == 3 and settings.chunk_size == 400  # nothing applied from a refused change
    apply(settings, {"top_k": 7, "language": "zh", "temperature": 0.7})
    saved = yaml.safe_load((home / "settings.yaml").read_text(encoding="utf-8"))
    assert saved == {"embed_batch_size": 16, "top_k": 7, "language": "zh"}  # no port, no auth, no defaults
    assert load_settings(home=home).top_k == 7


# --- ingest progress -------------------------------------------------------------------------------------
def test_progress_panel_moves_and_escapes_file_names():
    hostile = "<img src=x onerror=alert(1)>.md"
    view = IngestView(["a.md", hostile])
    view.update(Progress("a.md", 0, 2, "embed", 32, 64))
    html = view.render("en")
    assert "0 of 2 files" in html and "32/64" in html and "<img" not in html
    view.finish([FileResult("a.md", "added", chunks=64), FileResult(hostile, "failed", error="not <b>supported</b>")])
    html = view.render("zh")
    assert "已完成 2/2 个文件" in html and "64 个分块" in html and "&lt;b&gt;" in html and "<b>" not in html


# --- conversations -------------------------------------------------------------------------------------
def test_conversation_renders_with_folded_sources_and_exports(services):
    store = services.conversations
    conversation = store.create(title="Q&A / 问答")
    source = {"index": 1, "kb": "k", "file": "a.pdf", "page": 3, "section": None, "snippet": "x < y", "score": 0.81234}
    store.add_exchange(
        conversation.id,
        ChatMessage(role="user", content="What?"),
        ChatMessage(role="assistant", content="This [1].", sources=[source], cancelled=True),
    )
    messages = render(store.get(conversation.id), "en")
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant"]
    assert messages[1]["content"].endswith("*(stopped)*")
    assert messages[2]["metadata"] == {"title": "Sources (1)", "status": "done"}
    assert "a.pdf" in messages[2]["content"] and "page 3" in messages[2]["content"] and "0.812" in messages[2]["content"]
    assert "x &lt; y" in messages[2]["content"]
    exported = Path(export_file(services, store.get(conversation.id)))
    assert exported.name == "Q&A - 问答.md"
    assert "This [1]." in exported.read_text(encoding="utf-8")


# --- what a session sees ----------------------------------------------------------------------------------
def test_file_chat_knowledge_bases_are_not_listed(services):
    services.create_kb("manuals")
    services.attach_files(services.conversations.create().id, [])
    assert kb_choices(services, Caller("session-1"), "en") == [("manuals", "manuals")]


def test_the_ui_builds_for_a_desktop_and_for_a_space(services):
    assert isinstance(build_ui(services), gr.Blocks)
    services.policy = SpacePolicy()
    assert isinstance(build_ui(services), gr.Blocks)
