"""Outlook .msg → subject and body, decoded by the message's own code page.

unstructured reads .msg through python-oxmsg, which decodes 8-bit ("ANSI") string properties as
Latin-9 unless the message names its code page in PR_MESSAGE_CODEPAGE, which Outlook often leaves
out: a Chinese subject came out as "MSG ®æŠ¡ŽúžÕ" (Big5 read as Latin-9). Here the Unicode variant
of a property wins where the message has one; 8-bit strings are decoded by the code page the
message declares (PR_MESSAGE_CODEPAGE, PR_INTERNET_CPID), else the charset its transport headers
or HTML name, else by detection.
"""

from __future__ import annotations

import codecs
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import olefile

from chatchat.errors import ParseError
from chatchat.ingest.encoding import detect_encoding

PT_LONG, PT_STRING8, PT_UNICODE, PT_BINARY = 0x0003, 0x001E, 0x001F, 0x0102
SUBJECT, BODY, HTML, HEADERS = 0x0037, 0x1000, 0x1013, 0x007D
MESSAGE_CODEPAGE, INTERNET_CPID = 0x3FFD, 0x3FDE
_HEADER_BYTES = 32  # the top-level message's property stream starts with a 32-byte header
# Windows code pages whose Python codec is not simply "cp<N>"; GB2312/GBK read as their superset.
_CODEPAGES = {
    936: "gb18030", 20936: "gb18030", 54936: "gb18030", 52936: "hz", 1200: "utf-16-le", 1201: "utf-16-be",
    20127: "ascii", 50220: "iso2022_jp", 50221: "iso2022_jp", 50222: "iso2022_jp", 51932: "euc_jp",
    51949: "euc_kr", 65000: "utf-7", 65001: "utf-8",
    **{28590 + n: f"iso8859_{n}" for n in range(1, 16)},
}
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class MsgContent:
    subject: str
    body: str
    html: bool  # body is HTML (else plain text)


def read_msg(path: Path, name: str) -> MsgContent:
    """The subject and body (HTML where the message has it) of an Outlook message."""
    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {entry[0]: ole.openstream(entry).read() for entry in ole.listdir() if len(entry) == 1}
    except OSError as exc:
        raise ParseError(f"{name} is not a readable Outlook message ({exc}).", key="ingest_msg_unreadable", name=name,
                         detail=str(exc)) from exc
    numbers = _long_properties(streams.get("__properties_version1.0", b"")[_HEADER_BYTES:])

    def prop(pid: int, ptyp: int) -> bytes | None:
        return streams.get(f"__substg1.0_{pid:04X}{ptyp:04X}")

    declared = [numbers.get(MESSAGE_CODEPAGE), numbers.get(INTERNET_CPID)]
    headers = prop(HEADERS, PT_STRING8) or _utf16(prop(HEADERS, PT_UNICODE)).encode("utf-8")
    eight_bit = b"\n".join(filter(None, (prop(SUBJECT, PT_STRING8), prop(BODY, PT_STRING8)))).replace(b"\0", b"")

    def text(pid: int) -> str | None:
        if (unicode := prop(pid, PT_UNICODE)) is not None:
            return _utf16(unicode)
        if (raw := prop(pid, PT_STRING8)) is not None:
            return _decode(raw.rstrip(b"\0"), declared, headers, eight_bit)
        return None

    subject = (text(SUBJECT) or "").strip()
    html = prop(HTML, PT_BINARY)
    if html is not None:
        return MsgContent(subject, _decode(html.rstrip(b"\0"), declared[::-1], html, html), html=True)
    html_text = text(HTML)
    if html_text is not None:
        return MsgContent(subject, html_text, html=True)
    return MsgContent(subject, text(BODY) or "", html=False)


def _long_properties(data: bytes) -> dict[int, int]:
    """The 32-bit integer properties of a property stream (16-byte entries: tag, flags, value)."""
    values = {}
    for offset in range(0, len(data) - 15, 16):
        ptyp, pid, _flags, value = struct.unpack_from("<HHIi4x", data, offset)
        if ptyp == PT_LONG:
            values[pid] = value
    return values


def _utf16(data: bytes | None) -> str:
    return data.decode("utf-16-le", errors="replace").rstrip("\0") if data else ""


def _decode(data: bytes, codepages: list[int | None], labelled: bytes, sample: bytes) -> str:
    """8-bit text by the first usable of: declared code pages, a charset named in `labelled`, detection."""
    candidates = [_codec(cp) for cp in codepages if cp]
    candidates += [_lookup(m.group(1).decode("ascii")) for m in _CHARSET.finditer(labelled)]
    encoding = next((c for c in candidates if c), None) or (detect_encoding(sample) if sample.strip() else None)
    return data.decode(encoding or "cp1252", errors="replace")


def _codec(codepage: int) -> str | None:
    return _lookup(_CODEPAGES.get(codepage, f"cp{codepage}"))


def _lookup(encoding: str) -> str | None:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return None
    return "gb18030" if name in ("gbk", "gb2312") else name
