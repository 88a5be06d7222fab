"""Keep unstructured's text classifier from downloading a spaCy model.

unstructured 0.27 classifies text (title / narrative / list) with spaCy: the first
partition call loads ``en_core_web_sm`` and, when it is missing, downloads the wheel
from GitHub (``unstructured.nlp.tokenize._get_nlp``). That model is not on PyPI, so a
pip install cannot supply it, and Chatchat must not download anything the user did not
ask for: offline the download fails and every partitioner except csv/xlsx raises.

When ``en_core_web_sm`` is not installed we hand unstructured a blank multi-language
spaCy pipeline with the rule-based sentencizer instead (no weights, nothing fetched; its
sentence punctuation covers Chinese 。！？ as well as English). It tokenises and splits
sentences but tags no parts of speech, so unstructured finds no verbs and calls more
short lines "Title" than it should; parse.py re-checks those heuristic titles.
When the real model is installed, the library default is left alone.
"""

from __future__ import annotations

import functools

import spacy
import spacy.util

_MODEL = "en_core_web_sm"


# Chinese and Japanese write no space after sentence punctuation; without these infixes the
# tokenizer glues "。" to the next sentence and the sentencizer never sees it.
_CJK_PUNCT_INFIX = r"[。！？；…]"


@functools.lru_cache(maxsize=1)
def _blank_pipeline() -> spacy.language.Language:
    nlp = spacy.blank("xx")
    infixes = [*nlp.Defaults.infixes, _CJK_PUNCT_INFIX]
    nlp.tokenizer.infix_finditer = spacy.util.compile_infix_regex(infixes).finditer
    nlp.add_pipe("sentencizer")
    return nlp


@functools.cache
def install() -> bool:
    """Point unstructured at the offline pipeline unless the real model is installed.

    Idempotent (and cheap after the first call). Returns True when the offline pipeline is in use.
    """
    if spacy.util.is_package(_MODEL):
        return False
    from unstructured.nlp import tokenize

    tokenize._get_nlp = _blank_pipeline  # looked up by name in tokenize._run_pipeline
    return True
