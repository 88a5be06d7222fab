"""Reading the result pages: concurrently, each within a deadline and a size cap, redirects limited, only
web pages and plain text, decoded by their declared charset (GBK read as its superset GB18030), else by
detection. Each page is a `Page`, or the `PageUnreadable` that says why not."""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from chatchat.errors import ParseError
from chatchat.ingest.encoding import decode_text
from chatchat.web.base import PageUnreadable

if TYPE_CHECKING:
    import httpx

MAX_PAGE_BYTES = 2 * 2**20  # decoded bytes: a compressed page is held to the same cap
MAX_REDIRECTS = 5
MAX_WORKERS = 8
READABLE = {"text/html": "html", "application/xhtml+xml": "html", "text/plain": "text"}
USER_AGENT = "Mozilla/5.0 (compatible; Chatchat; search-engine chat)"
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SUPERSET = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030"}


@dataclass(frozen=True)
class Page:
    url: str  # where it was read, after any redirect
    text: str
    kind: str  # "html" or "text"


class _Private(Exception):
    pass


def fetch_pages(urls: Sequence[str], timeout: float, max_bytes: int = MAX_PAGE_BYTES,
                allow_private: bool = True) -> list[Page | PageUnreadable]:
    """Every url read at once, each in at most `timeout` seconds; results in the order of `urls`.
    `allow_private=False` refuses addresses of this machine and its network (redirects included)."""
    import httpx

    if not urls:
        return []
    hooks = {} if allow_private else {"request": [_refuse_private]}
    client = httpx.Client(follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=httpx.Timeout(timeout),
                          headers={"User-Agent": USER_AGENT, "Accept": "text/html,text/plain;q=0.9,*/*;q=0.1"},
                          event_hooks=hooks)
    with client, ThreadPoolExecutor(min(MAX_WORKERS, len(urls)), thread_name_prefix="web-fetch") as pool:
        return list(pool.map(lambda url: _fetch(client, url, timeout, max_bytes), urls))


def _fetch(client: httpx.Client, url: str, timeout: float, max_bytes: int) -> Page | PageUnreadable:
    import httpx

    deadline = time.monotonic() + timeout
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                return PageUnreadable(f"{url} answered HTTP {response.status_code}.", key="page_http", url=url,
                                      status=response.status_code)
            ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype and ctype not in READABLE:
                return _binary(url, ctype)
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                return _too_large(url, max_bytes)
            body = bytearray()
            for part in response.iter_bytes():
                body += part
                if len(body) > max_bytes:
                    return _too_large(url, max_bytes)
                if time.monotonic() > deadline:
                    return _slow(url, timeout)
            final = str(response.url)
            charset = response.charset_encoding
    except httpx.TooManyRedirects:
        return PageUnreadable(f"{url} redirects in a loop (more than {MAX_REDIRECTS} redirects).",
                              key="page_redirects", url=url, limit=MAX_REDIRECTS)
    except httpx.TimeoutException:
        return _slow(url, timeout)
    except _Private:
        return PageUnreadable(f"{url} is an address of this machine or its network, which search chat does not read.",
                              key="page_private", url=url)
    except httpx.HTTPError as exc:
        detail = str(exc) or type(exc).__name__
        return PageUnreadable(f"Cannot reach {url} ({detail}).", key="page_unreachable", url=url, detail=detail)
    data = bytes(body)
    if b"\x00" in data[:2048] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _binary(url, "binary data")
    try:
        text = decode(data, charset, url)
    except ParseError:
        return PageUnreadable(f"{url} is not text in any encoding Chatchat knows.", key="page_not_text", url=url)
    kind = READABLE.get(ctype) or ("html" if re.search(r"<(html|body|p|div)\b", text[:4096], re.I) else "text")
    return Page(final, text, kind)


def decode(data: bytes, charset: str | None, name: str) -> str:
    """A page's text: by the charset its headers or its <meta> declare, else as decode_text guesses."""
    declared = charset or _meta_charset(data)
    if declared:
        encoding = _SUPERSET.get(declared.lower(), declared)
        try:
            return data.decode(encoding, errors="replace")
        except LookupError:
            pass  # a charset name Python does not know: guess instead
    return decode_text(data, name)


def _meta_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def _refuse_private(request: httpx.Request) -> None:
    host = request.url.host
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return  # the request itself will say that the host is unknown
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified:
            raise _Private(host)


def _binary(url: str, kind: str) -> PageUnreadable:
    return PageUnreadable(f"{url} is not a web page but {kind}.", key="page_binary", url=url, type=kind)


def _too_large(url: str, max_bytes: int) -> PageUnreadable:
    limit = f"{max_bytes / 2**20:g}"
    return PageUnreadable(f"{url} is larger than {limit} MB, more than is read for an answer.",
                          key="page_too_large", url=url, limit=limit)


def _slow(url: str, timeout: float) -> PageUnreadable:
    return PageUnreadable(f"{url} took longer than {timeout:g} s to load.", key="page_timeout", url=url,
                          seconds=f"{timeout:g}")
