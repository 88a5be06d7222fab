"""Bytes of a text file → str, whatever encoding a Windows or Chinese editor saved it in."""

from __future__ import annotations

import codecs

import charset_normalizer

from chatchat.errors import ParseError

# UTF-32 first: its little-endian BOM starts with the UTF-16 one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# charset-normalizer often scores several legacy codecs equally on short texts (GBK bytes read
# as Korean cp949 or Big5, cp1252 as cp1250). Among equally good guesses, prefer the encodings
# our users actually save files in.
_PREFERRED = ("gb18030", "big5", "cp1252", "utf_16_le", "utf_16_be", "shift_jis", "euc_kr")
# GB2312 and GBK are subsets of GB18030: decode with the superset so no character is lost.
_SUPERSET = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030"}


def decode_text(data: bytes, name: str) -> str:
    """Decode a text file's bytes: BOM, then strict UTF-8, then detection.

    Raises ParseError naming `name` when the bytes are not text in any known encoding.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                code = encoding.upper()
                raise ParseError(
                    f"{name} starts with a {code} byte-order mark but is not valid "
                    f"{code} ({exc.reason} at byte {exc.start}); re-save it as UTF-8.",
                    key="ingest_bad_bom", name=name, encoding=code, reason=exc.reason, byte=exc.start,
                ) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    encoding = detect_encoding(data)
    if encoding is None:
        raise ParseError(
            f"{name} does not look like a text file: its encoding could not be recognised. "
            "If it is text, re-save it as UTF-8; otherwise check that the extension is right.",
            key="ingest_unknown_encoding", name=name,
        )
    return data.decode(encoding, errors="replace")


def detect_encoding(data: bytes) -> str | None:
    """The most plausible legacy encoding of `data`, or None when it is not text."""
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    tied = {m.encoding for m in matches if m.chaos <= best.chaos + 0.01}
    encoding = next((e for e in _PREFERRED if e in tied), best.encoding)
    return _SUPERSET.get(encoding, encoding)
