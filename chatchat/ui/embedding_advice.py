"""Which embedding model suits Chinese, said where it matters: when a knowledge base is made in the Chinese UI,
and when the first Chinese documents land in one whose model understands English only. The advice comes
from the catalog's `languages` (Services.embedding_for), never from a fixed model id."""

from __future__ import annotations

from dataclasses import dataclass

from chatchat.models.catalog import EmbeddingEntry
from chatchat.ingest.job import FileResult
from chatchat.answer.prompts import detect_language
from chatchat.service import Services
from chatchat.ui.i18n import t

SAMPLED_FILES = 5  # documents of a batch whose text is looked at for its language


def english_only(entry: EmbeddingEntry | None) -> bool:
    return entry is not None and bool(entry.languages) and "zh" not in entry.languages


def _alternative(services: Services, lang: str) -> str:
    """What to use for Chinese instead: the installed model that understands it, else one to download."""
    better = services.embedding_for("zh")
    if better is not None:
        return t("kb.embed_use", lang, better=better.name)
    candidate = next((e for e in services.catalog.embeddings.values() if "zh" in e.languages and e.is_local), None)
    return t("kb.embed_download", lang, better=candidate.name) if candidate else ""


def new_kb_choice(services: Services, lang: str) -> str:
    """The model the create form starts with: the default, but in the Chinese UI one that understands
    Chinese when the default does not and one is installed."""
    default = services.embedders.default_for_new_kb()[0]
    better = services.embedding_for("zh")
    if lang == "zh" and english_only(services.catalog.embeddings.get(default)) and better is not None:
        return better.id
    return default


def create_hint(services: Services, embedding: str | None, lang: str) -> str:
    """Under the create form's model: in the Chinese UI, why an English-only model is a poor choice."""
    entry = services.catalog.embeddings.get(embedding or "")
    if lang != "zh" or not english_only(entry):
        return ""
    return f"{t('kb.embed_english_only', lang, model=entry.name)} {_alternative(services, lang)}".strip()


@dataclass
class ChineseNotice:
    text: str
    rebuild_with: EmbeddingEntry | None  # None: nothing installed to rebuild with yet


def chinese_notice(services: Services, kb: str, results: list[FileResult], lang: str) -> ChineseNotice | None:
    """After a batch: when documents it added are Chinese but the knowledge base's model understands
    English only, the notice that offers a rebuild with a model that understands Chinese."""
    entry = services.catalog.embeddings.get(services.kb_info(kb).embedding)
    added = [r.file for r in results if r.status in ("added", "replaced")][:SAMPLED_FILES]
    if not english_only(entry) or not added:
        return None
    sample = " ".join(hit.text for file in added for hit in services.chunks(kb, file)[:3])
    if detect_language(sample) != "zh":
        return None
    better = services.embedding_for("zh")
    text = t("kb.chinese_notice", lang, model=entry.name, better=better.name) if better else (
        f"{t('kb.embed_english_only', lang, model=entry.name)} {_alternative(services, lang)}")
    return ChineseNotice(text, better)
