"""Files a person drops into the Knowledge bases tab, by the names they had: Gradio saves each upload under
its base name alone, so a folder's sub-folder paths (and a hidden file's leading dot) would be lost."""

from __future__ import annotations

from collections import deque
from pathlib import Path, PurePosixPath

from gradio_client.utils import strip_invalid_filename_characters

# Gradio uploads each file under its base name alone, and empties its file input right after. So the names as
# picked (a folder's files with their paths inside it, hidden ones included) are caught when a file input of
# the tab changes (a listener on the document, ahead of Gradio's own), and sent along with Add as JSON.
PICKED_NAMES_LISTENER = """if (!window.ccPicked) {
  window.ccPicked = {};
  document.addEventListener("change", (event) => {
    const input = event.target;
    const box = input instanceof HTMLInputElement && input.type === "file"
      && input.closest("#kb-upload-files, #kb-upload-folder");
    if (box) window.ccPicked[box.id] = Array.from(input.files || [],
      (f) => f.webkitRelativePath ? f.webkitRelativePath.split("/").slice(1).join("/") : f.name);
  }, true);
}"""
PICKED_NAMES_JS = """(kb, files, folder, lang, picked) => {
  const names = [files ? window.ccPicked?.["kb-upload-files"] : [], folder ? window.ccPicked?.["kb-upload-folder"] : []];
  return [kb, files, folder, lang, JSON.stringify(names.flatMap((list) => list || []))];
}"""


def upload_names(uploaded: list[Path], picked: list[str]) -> list[str]:
    """The names the uploaded files had when picked: each file Gradio saved (under its cleaned-up base name)
    takes the first unused picked name that cleans up to its own, in order, so two README.md from different
    sub-folders keep their paths. A file with no picked name (dropped rather than picked) keeps its own."""
    waiting: dict[str, deque[str]] = {}
    for name in picked:
        waiting.setdefault(strip_invalid_filename_characters(PurePosixPath(name).name), deque()).append(name)
    names = []
    for path in uploaded:
        queue_ = waiting.get(path.name)
        names.append(queue_.popleft() if queue_ else path.name)
    return names
