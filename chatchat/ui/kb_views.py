"""What the Knowledge bases tab draws on the server: the knowledge base's card, the document and chunk
tables, and the test search's results."""

from __future__ import annotations

import pandas as pd

from chatchat.service import Services
from chatchat.retrieval.chunks import Hit
from chatchat.ui.common import esc, local_time
from chatchat.ui.i18n import document_error_text, t


def kb_card(services: Services, kb: str | None, lang: str) -> str:
    if not kb:
        return ""
    info_ = services.kb_info(kb)
    docs = services.documents(kb)
    ready = [d for d in docs if d.status == "ready"]
    lines = [
        f"### {esc(info_.name)}",
        esc(info_.description) if info_.description else f"*{t('kb.no_description', lang)}*",
        "",
        f"- {t('kb.embedding', lang)}: `{info_.embedding}` ({info_.dim}-d)",
        f"- {t('kb.chunking', lang, size=info_.chunk_size, overlap=info_.chunk_overlap)}",
        f"- {t('kb.counts', lang, docs=len(ready), chunks=sum(d.chunks for d in ready))}",
        f"- {t('kb.created', lang)}: {local_time(info_.created)}",
    ]
    return "\n".join(lines)


def docs_frame(services: Services, kb: str | None, lang: str) -> pd.DataFrame:
    headers = [t(f"docs.{c}", lang) for c in ("file", "pages", "chunks", "status", "error", "added")]
    if not kb:
        return pd.DataFrame(columns=headers)
    rows = [
        [d.file, d.pages if d.pages else "", d.chunks, t("status." + d.status, lang), document_error_text(d, lang),
         local_time(d.added)]
        for d in services.documents(kb)
    ]
    return pd.DataFrame(rows, columns=headers)


def chunks_frame(hits: list[Hit], lang: str) -> pd.DataFrame:
    headers = [t(f"chunks.{c}", lang) for c in ("index", "page", "section", "text")]
    rows = [[h.chunk_index, h.page or "", h.section or "", h.text] for h in hits]
    return pd.DataFrame(rows, columns=headers)


def hits_html(hits: list[Hit], lang: str) -> str:
    if not hits:
        return f'<div class="cc-empty">{esc(t("search.none", lang))}</div>'
    relevance = esc(t("search.relevance", lang))
    cards = []
    for rank, hit in enumerate(hits, 1):
        where = esc(hit.file) + (f" · {esc(t('source.page', lang, page=hit.page))}" if hit.page else "")
        section = f'<div class="cc-section">{esc(hit.section)}</div>' if hit.section else ""
        cards.append(
            f'<div class="cc-hit"><div class="cc-hit-head"><span class="cc-rank">{rank}</span>'
            f'<span class="cc-where">{where}</span><span class="cc-score-label">{relevance}</span>'
            f'<span class="cc-score" title="{relevance}">{hit.relevance:.3f}</span></div>'
            f'{section}<div class="cc-snippet">{esc(hit.text)}</div></div>'
        )
    return f'<div class="cc-hits">{"".join(cards)}</div>'
