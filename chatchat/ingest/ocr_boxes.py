"""Where OCR read the text of a document's PDF pages (a scanned page, a picture on a page): the lines' boxes,
kept beside the original in the knowledge base's blobs (`ocr/<document>.json`), so that the source viewer
can highlight a cited passage on a page that has no text layer (chatchat.answer.preview_pdf).

The file names the original's sha256: boxes of another version of the document are never used. It is
written with the original by the ingest job (removed when the new version has none) and deleted with it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterable

from chatchat.errors import InvalidName
from chatchat.ingest.elements import Element, TextBox

if TYPE_CHECKING:
    from chatchat.retrieval.blobs import Blobs

VERSION = 1


def _key(file: str) -> str:
    return f"ocr/{file}.json"


def page_boxes(elements: Iterable[Element]) -> dict[int, list[TextBox]]:
    """The OCR boxes of each page, in reading order."""
    pages: dict[int, list[TextBox]] = {}
    for element in elements:
        if element.boxes and element.page:
            pages.setdefault(element.page, []).extend(element.boxes)
    return pages


def keep(blobs: Blobs, file: str, sha256: str, elements: Iterable[Element]) -> None:
    """Keep the OCR boxes of document `file` (the version with this sha256); none: forget older ones."""
    pages = page_boxes(elements)
    if not pages:
        forget(blobs, file)
        return
    data = {"version": VERSION, "sha256": sha256,
            "pages": {str(page): [[round(v, 5) for v in box[:4]] + [box.text] for box in boxes]
                      for page, boxes in pages.items()}}
    blobs.write_text(_key(file), json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def load(blobs: Blobs, file: str, sha256: str, page: int) -> list[TextBox]:
    """The OCR boxes of page `page` (1-based) of the version of `file` with this sha256; [] when OCR read
    nothing there, or the boxes kept are another version's."""
    try:
        data = json.loads(blobs.read_text(_key(file)))
    except (FileNotFoundError, InvalidName, ValueError):
        return []
    if data.get("version") != VERSION or data.get("sha256") != sha256:
        return []
    return [TextBox(*(float(v) for v in row[:4]), str(row[4])) for row in data["pages"].get(str(page), [])]


def forget(blobs: Blobs, file: str) -> None:
    try:
        blobs.delete(_key(file))
    except InvalidName:
        pass  # a link on the way: nothing outside the folder is ever deleted through it
