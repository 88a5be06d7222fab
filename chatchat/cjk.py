"""Which characters are Chinese, Japanese or Korean: one definition for splitting, search and the checks."""

from __future__ import annotations

import re

# the letters of the CJK scripts: kana, Han (extension A and the unified block), Hangul syllables, compatibility ideographs
LETTERS = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff"
LETTER = re.compile(f"[{LETTERS}]")
# what a tokenizer counts as about one token a character (token estimates): the letters, CJK punctuation and
# radicals, and full-width forms
WIDE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
