"""What a citation opens: the cited passage shown where it stands in its document.

A PDF passage is its page as a PNG with the passage highlighted (chatchat.answer.preview_pdf); any other
source (and a PDF passage on request) is a small HTML page: the passage between its neighbouring chunks,
under its section title, highlighted, every piece of document text escaped. A passage is named by its
knowledge base, document and chunk number, and optionally the document's doc_id: a document deleted or
replaced since the answer (another doc_id) is NotFound, never a page of what is there now.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from chatchat.answer.prompts import detect_language
from chatchat.errors import NotFound
from chatchat.ingest import ocr_boxes
from chatchat.retrieval.context import WINDOW, merge_texts
from chatchat.retrieval.chunks import Hit

if TYPE_CHECKING:
    from chatchat.service import Services

View = Literal["auto", "page", "passage"]
PNG = "image/png"
HTML = "text/html; charset=utf-8"
# the passage page is document text only: nothing in it may run or load anything
HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_STYLE = """
body{font:15px/1.6 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:0;padding:12px 16px;color:#1f2328;background:#fff}
header{font-size:13px;color:#57606a;margin-bottom:8px;word-break:break-all}
header a{color:#0969da}
h1{font-size:16px;margin:4px 0 10px}
.text{white-space:pre-wrap;word-wrap:break-word}
.context{color:#57606a}
mark{background:#fff3a3;color:inherit;outline:2px solid #e0b000;border-radius:2px;padding:1px 0}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}.context,header{color:#8b949e}
mark{background:#5a4a00;outline-color:#b08800}header a{color:#58a6ff}}
"""


@dataclass(frozen=True)
class SourceChunk:
    """A cited chunk with the text around it (the splitter's overlaps kept once)."""

    kb: str
    doc_id: str
    sha256: str  # of the cited version's original
    hit: Hit
    before: str  # the neighbouring chunks before it, up to WINDOW
    after: str

    @property
    def file(self) -> str:
        return self.hit.file


@dataclass(frozen=True)
class Preview:
    content: bytes
    media_type: str  # PNG or HTML
    page: int | None  # the PDF page shown
    # PNG: how the passage was found on the page (preview_pdf.PagePreview.note); HTML: None
    note: str | None = None


def source_chunk(services: Services, kb: str, file: str, chunk_index: int, doc_id: str | None = None) -> SourceChunk:
    """Chunk `chunk_index` of the ready document `file` with its neighbours. NotFound when the document
    is gone, not ready, or (with `doc_id`) another version than the one cited."""
    record = services.store.get(kb).document(file)
    current = record is not None and record.status == "ready" and (not doc_id or record.doc_id == doc_id)
    chunks = services.chunk_spans(kb, [(record.doc_id, max(0, chunk_index - WINDOW), chunk_index + WINDOW)]) if current else []
    hit = next((c for c in chunks if c.chunk_index == chunk_index), None)
    if record is None or hit is None:
        raise NotFound(f"The passage of '{file}' can no longer be shown: the document was deleted or replaced "
                       "since this answer.")
    earlier = [c.text for c in chunks if c.chunk_index < chunk_index]
    later = [c.text for c in chunks if c.chunk_index > chunk_index]
    upto = merge_texts([*earlier, hit.text])
    whole = merge_texts([*earlier, hit.text, *later])
    return SourceChunk(kb, record.doc_id, record.sha256, hit, upto[: len(upto) - len(hit.text)], whole[len(upto):])


def passage_html(chunk: SourceChunk, original_url: str | None = None) -> str:
    """The passage between its neighbours as a standalone HTML page (no script, every text escaped)."""
    hit = chunk.hit
    lang = "zh-CN" if detect_language(hit.text) == "zh" else "en"
    name = html.escape(hit.file)
    where = f'<a href="{html.escape(original_url, quote=True)}">{name}</a>' if original_url else name
    if hit.page is not None:
        where += f" · {'第 %d 页' % hit.page if lang == 'zh-CN' else 'p. %d' % hit.page}"
    title = f"<h1>{html.escape(hit.section)}</h1>" if hit.section else ""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{name}</title>'
        f"<style>{_STYLE}</style></head><body><header>{where}</header>{title}"
        f'<div class="text"><span class="context">{html.escape(chunk.before)}</span>'
        f'<mark id="passage">{html.escape(hit.text)}</mark>'
        f'<span class="context">{html.escape(chunk.after)}</span></div></body></html>'
    )


def is_pdf(services: Services, kb: str, file: str) -> bool:
    """The kept original is a PDF (by its first bytes: a name may lie)."""
    with services.original(kb, file).open("rb") as handle:
        return handle.read(5) == b"%PDF-"


def preview(services: Services, kb: str, file: str, chunk_index: int, doc_id: str | None = None,
            view: View = "auto", original_url: str | None = None) -> Preview:
    """The cited passage for a reader: `auto` is the page image for a PDF passage with a page, else the
    passage page; `page` asks for the image (a passage page where there is none), `passage` for the HTML.
    `original_url`: the passage page's header links the file name to it."""
    chunk = source_chunk(services, kb, file, chunk_index, doc_id)
    page = chunk.hit.page
    if view != "passage" and page is not None and is_pdf(services, kb, file):
        from chatchat.answer.preview_pdf import render_page  # PDFium's library: loaded at the first page shown

        boxes = ocr_boxes.load(services.store.get(kb).blobs, file, chunk.sha256, page)
        shown = render_page(services.original(kb, file), page, chunk.hit.text, boxes)
        return Preview(shown.png, PNG, page, shown.note)
    return Preview(passage_html(chunk, original_url).encode("utf-8"), HTML, None)
