"""The Knowledge bases tab's pure helpers (the tab itself runs in tests/test_ui_knowledge_browser.py)."""

from __future__ import annotations

from pathlib import Path

from chatchat.ui.uploads import upload_names


def test_upload_names_give_back_the_picked_paths_in_order():
    """Gradio saves each upload under its base name alone (two README.md land as README.md twice); the names
    as picked in the browser bring back the sub-folder paths, each used once, in order."""
    saved = [Path("/tmp/gradio/1/README.md"), Path("/tmp/gradio/2/test.txt"), Path("/tmp/gradio/3/README.md"),
             Path("/tmp/gradio/4/dropped.md")]
    picked = ["a/README.md", "test.txt", "b/README.md"]
    assert upload_names(saved, picked) == ["a/README.md", "test.txt", "b/README.md", "dropped.md"]


def test_upload_names_match_gradio_cleaned_names():
    saved = [Path("/tmp/gradio/1/whatnow.md")]  # Gradio strips characters such as '?'
    assert upload_names(saved, ["sub/what?now.md"]) == ["sub/what?now.md"]
    assert upload_names(saved, []) == ["whatnow.md"]
