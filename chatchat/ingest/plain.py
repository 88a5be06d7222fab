"""Small readers for the formats unstructured does not cover.

Each takes decoded text and returns either Elements or markup (HTML, Markdown) that parse.py
hands to unstructured's HTML/Markdown partitioners, so headings are found in one place.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any

from lxml import etree

from chatchat.errors import ParseError
from chatchat.ingest.elements import Element


def json_value(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        detail = f"{getattr(exc, 'msg', 'nested too deeply')}{where}"
        raise ParseError(
            f"{name} is not valid JSON ({detail}); it may be truncated. Fix or re-export it and add it again.",
            key="ingest_json_invalid", name=name, detail=detail,
        ) from exc


def jsonl_values(text: str, name: str) -> list[Any]:
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                values.append(json.loads(line))
            except (json.JSONDecodeError, RecursionError) as exc:
                detail = str(getattr(exc, "msg", exc))
                raise ParseError(
                    f"Line {number} of {name} is not valid JSON ({detail}); "
                    "each line of a JSON Lines file must be one JSON value.",
                    key="ingest_jsonl_line_invalid", name=name, line=number, detail=detail,
                ) from exc
    return values


def toml_value(text: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParseError(f"{name} is not valid TOML ({exc}). Fix it and add it again.", key="ingest_toml_invalid",
                         name=name, detail=str(exc)) from exc


def structured_elements(value: Any) -> list[Element]:
    """JSON/TOML data as readable `path: value` lines: one element per top-level key or item."""
    if isinstance(value, dict):
        return [
            Element(text="\n".join(_leaf_lines(item, str(key))), section=str(key))
            for key, item in value.items()
        ]
    if isinstance(value, list):
        return [Element(text="\n".join(_leaf_lines(item, ""))) for item in value]
    return [Element(text=str(value))]


def _leaf_lines(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_lines(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        for index, item in enumerate(value):
            yield from _leaf_lines(item, f"{path}[{index}]")
    else:
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        yield f"{path}: {shown}" if path else shown


def notebook_markdown(text: str, name: str) -> str:
    """A Jupyter notebook as Markdown: markdown cells as they are, code cells fenced."""
    notebook = json_value(text, name)
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ParseError(f"{name} is JSON but not a Jupyter notebook (it has no list of cells).",
                         key="ingest_notebook_no_cells", name=name)
    parts = []
    for cell in cells:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if not source.strip():
            continue
        if cell.get("cell_type") == "code":
            parts.append(f"```\n{source}\n```")
        else:
            parts.append(source)
    return "\n\n".join(parts)


_SRT_TIMING = re.compile(r"^\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}\s*-->")


def subtitle_elements(text: str) -> list[Element]:
    """SubRip cues without their numbers and timings, one element per cue."""
    elements = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = [ln for ln in block.strip().splitlines() if ln.strip()]
        if lines and lines[0].strip().isdigit():
            lines = lines[1:]
        lines = [ln.strip() for ln in lines if not _SRT_TIMING.match(ln)]
        if lines:
            elements.append(Element(text="\n".join(lines)))
    return elements


def evernote_notes(text: str, name: str) -> list[tuple[str, str]]:
    """(title, ENML body as HTML) for each note of an Evernote export."""
    # No entity expansion, no DTD or network fetch: an export is untrusted input.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{name} is not a valid Evernote export ({exc}).", key="ingest_enex_invalid", name=name,
                         detail=str(exc)) from exc
    notes = []
    for note in root.iter("note"):
        notes.append((note.findtext("title", "").strip(), note.findtext("content", "")))
    if not notes:
        raise ParseError(f"{name} contains no Evernote notes (no <note> elements).", key="ingest_enex_no_notes", name=name)
    return notes


def mhtml_parts(data: bytes, name: str) -> list[tuple[str, str]]:
    """(content type, text) of the HTML parts of a saved web page (MHTML), else its text parts."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    parts = []
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype in ("text/html", "text/plain") and not part.is_multipart():
            try:
                parts.append((ctype, part.get_content()))
            except (LookupError, UnicodeError) as exc:
                raise ParseError(f"A part of {name} has an unreadable text encoding ({exc}).",
                                 key="ingest_mhtml_part_encoding", name=name, detail=str(exc)) from exc
    if not parts:
        raise ParseError(f"{name} holds no HTML or text part; is it really a saved web page (MHTML)?",
                         key="ingest_mhtml_no_text", name=name)
    # A page saved with a plain-text alternative would otherwise be read twice.
    html = [part for part in parts if part[0] == "text/html"]
    return html or parts
