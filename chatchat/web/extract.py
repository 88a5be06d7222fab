"""The main text of a page with trafilatura (the web extra): navigation, sidebars and footers left out."""

from __future__ import annotations

import re

from chatchat.web.base import PageUnreadable, missing_package
from chatchat.web.fetch import Page

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def main_text(page: Page) -> tuple[str, str]:
    """(title, text) of a page; plain text is its own text. Raises PageUnreadable when nothing is left."""
    if page.kind == "text":
        return "", page.text.strip()
    try:
        import trafilatura
    except ImportError:
        raise missing_package("trafilatura", "Reading web pages") from None
    document = trafilatura.bare_extraction(page.text, url=page.url, with_metadata=True, include_comments=False,
                                           include_tables=True, favor_recall=True)
    text = (document.text or "").strip() if document is not None else ""
    if not text:
        raise PageUnreadable(f"{page.url} has no text to read (it may show its content with JavaScript only).",
                             key="page_no_text", url=page.url)
    title = (document.title or "").strip() if document is not None else ""
    if not title and (match := _TITLE.search(page.text)):
        title = " ".join(match.group(1).split())
    return title, text
