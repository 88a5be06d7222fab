"""Is a PDF page's text layer real text, or the mojibake of a font without a Unicode map?

A PDF font that has no ToUnicode table gives its glyph codes back as text: a subset font numbers
its glyphs from 1, so a Chinese page reads `! !"#$ %、&、'、(` or `ABCDEFG…`, and a font with a
legacy encoding reads as Latin-1 (`ÖªÊ¶¿â`). Indexed, that is garbage that matches nothing; such
a page must be read with OCR instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from chatchat import cjk

# Measured on the shared PDFs: 0.02-0.08 for real pages; source code ~0.2; mojibake 0.44-1.0.
MAX_ODD_SHARE = 0.35
MIN_CHARS = 10  # fewer visible characters than this are too few to judge
# Chinese runs no spaces between words: a "word" this long on average is a line of CJK glyphs
# that came out as Latin letters.
MIN_MEAN_WORD = 12

_REPEATS = re.compile(r"(\S)\1+")  # dot leaders in a table of contents, rules of dashes
# Base names of CJK fonts (after a subset tag such as "ABCDEF+"), and CMap-style names.
_CJK_FONT = re.compile(
    r"Sim(Sun|Hei|Kai|Fang|Li|You)|Song|Hei(ti)?|Kai(ti)?|FangSong|Ming(Li)?U|YaHei|DengXian|"
    r"Mincho|MS-?Gothic|Batang|Gulim|Dotum|Malgun|CJK|SourceHan|Uni(GB|CNS|JIS|KS)|GBK|GB2312|Big5|[^\x00-\x7f]"
)


def _odd(ch: str) -> bool:
    """Private-use, control, unassigned, replacement, Latin-1 supplement, or ASCII punctuation/symbol."""
    code = ord(ch)
    category = unicodedata.category(ch)
    return (
        category in ("Co", "Cc", "Cn", "Cs")
        or ch == "\ufffd"
        or 0xA0 <= code <= 0x17F
        or (code < 0x80 and category[0] in "PS")
    )


def odd_share(text: str) -> float:
    """Share of the visible characters that real text rarely has (repeated runs count once)."""
    chars = [ch for ch in _REPEATS.sub(r"\1", text) if not ch.isspace()]
    return sum(map(_odd, chars)) / len(chars) if chars else 0.0


def is_cjk_font(base_name: str) -> bool:
    return bool(_CJK_FONT.search(base_name.split("+", 1)[-1]))


def looks_garbled(text: str, cjk_fonts: Callable[[], bool]) -> bool:
    """Whether a page's text layer is mojibake. `cjk_fonts()`: the page's text is set in CJK fonts."""
    visible = "".join(text.split())
    if len(visible) < MIN_CHARS:
        return False
    if odd_share(text) > MAX_ODD_SHARE:
        return True
    words = text.split()
    return not cjk.LETTER.search(text) and len(visible) / len(words) >= MIN_MEAN_WORD and cjk_fonts()
