"""What a file really is, from its bytes, and whether its zip container is safe to open.

Extensions lie (a PDF renamed .docx, a zip renamed .xlsx), and a zip-based document can be
a decompression bomb: both are caught here, before any parser library sees the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import olefile

from chatchat.errors import FileTooLarge, ParseError

# Zip members above this size whose compression ratio is beyond anything real documents
# reach (deflate tops out near 1000:1 on runs of zeros; Office XML is typically 5-20:1).
MAX_ZIP_TOTAL_BYTES = 1 << 30
MAX_ZIP_RATIO = 200
ZIP_RATIO_MIN_BYTES = 20 << 20
MAX_ZIP_MEMBERS = 20_000
# The XML a parser must load whole (pictures and other media are not parsed, only OCR'd one by
# one): openpyxl, python-docx and pandoc need several times its size in memory.
MAX_MARKUP_BYTES = 200 << 20
_MARKUP_SUFFIXES = (".xml", ".rels", ".xhtml", ".html", ".htm", ".opf", ".ncx")

KIND_NAMES = {
    "pdf": "a PDF document",
    "docx": "a Word document (.docx)",
    "pptx": "a PowerPoint presentation (.pptx)",
    "xlsx": "an Excel workbook (.xlsx)",
    "epub": "an EPUB e-book",
    "odt": "an OpenDocument text (.odt)",
    "zip": "a zip archive",
    "doc": "a Word 97-2003 document (.doc)",
    "ppt": "a PowerPoint 97-2003 presentation (.ppt)",
    "xls": "an Excel 97-2003 workbook (.xls)",
    "msg": "an Outlook message (.msg)",
    "encrypted-office": "a password-protected Office document",
    "ole": "an OLE compound file",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "bmp": "a BMP image",
    "gif": "a GIF image",
    "rtf": "an RTF document",
    "text": "text",
}

_MAGIC = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"{\\rtf", "rtf"),
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_ODF_MIMETYPES = {
    b"application/epub+zip": "epub",
    b"application/vnd.oasis.opendocument.text": "odt",
}
_OOXML_PARTS = (("word/document.xml", "docx"), ("ppt/presentation.xml", "pptx"), ("xl/workbook.xml", "xlsx"))


def sniff(path: Path) -> str:
    """The real kind of the file (a key of KIND_NAMES), judged from its content."""
    with path.open("rb") as f:
        head = f.read(1024)
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(path)
    if head.startswith(_OLE_MAGIC):
        return _ole_kind(path)
    # A PDF header may follow a little junk; readers accept it within the first 1 KiB.
    if b"%PDF-" in head:
        return "pdf"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(b"BM") and len(head) >= 14 and int.from_bytes(head[2:6], "little") == path.stat().st_size:
        return "bmp"
    return "text"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "mimetype" in names:
                kind = _ODF_MIMETYPES.get(z.read("mimetype").strip())
                if kind:
                    return kind
    except (zipfile.BadZipFile, OSError, EOFError):
        return "zip"
    return next((kind for part, kind in _OOXML_PARTS if part in names), "zip")


def _ole_kind(path: Path) -> str:
    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(entry) for entry in ole.listdir(streams=True, storages=True)}
    except OSError:
        return "ole"
    if "EncryptedPackage" in streams:
        return "encrypted-office"
    if "WordDocument" in streams:
        return "doc"
    if "PowerPoint Document" in streams:
        return "ppt"
    if "Workbook" in streams or "Book" in streams:
        return "xls"
    if "__properties_version1.0" in streams:
        return "msg"
    return "ole"


def check_zip(path: Path, name: str) -> None:
    """Refuse a zip container that is corrupt or would inflate far beyond its size."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ParseError(
            f"{name} is damaged: its zip container cannot be read ({exc}). "
            "Open and re-save it in its application, then add it again."
        ) from exc
    total = sum(i.file_size for i in infos)
    bomb = (
        len(infos) > MAX_ZIP_MEMBERS
        or total > MAX_ZIP_TOTAL_BYTES
        or any(
            i.file_size > ZIP_RATIO_MIN_BYTES and i.file_size > MAX_ZIP_RATIO * max(i.compress_size, 1)
            for i in infos
        )
    )
    if bomb:
        raise ParseError(
            f"{name} was not opened: it would unpack to {total / 2**20:,.0f} MB in {len(infos)} "
            f"parts from {path.stat().st_size / 2**20:,.1f} MB on disk, which looks like a zip bomb. "
            "If the document is genuine, save a smaller copy (fewer or compressed images) and add that."
        )
    markup = sum(i.file_size for i in infos if i.filename.lower().endswith(_MARKUP_SUFFIXES))
    if markup > MAX_MARKUP_BYTES:
        raise FileTooLarge(
            f"{name} holds {markup / 2**20:,.0f} MB of document text and markup, over the "
            f"{MAX_MARKUP_BYTES // 2**20} MB that can be read at once. Split it into smaller files and add those."
        )
