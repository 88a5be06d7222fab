"""What a file really is, from its bytes, and whether its zip container is safe to open; and which files
of a folder are no documents at all (hidden and system files), from their names.

Extensions lie (a PDF renamed .docx, a zip renamed .xlsx), and a zip-based document can be
a decompression bomb: both are caught here, before any parser library sees the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

import olefile

from chatchat.errors import FileTooLarge, ParseError, UnsupportedFile

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

# kind: (English, 中文) — a stored ingest error is read in either UI, so messages carry both
_KINDS: dict[str, tuple[str, str]] = {
    "pdf": ("a PDF document", "PDF 文档"),
    "docx": ("a Word document (.docx)", "Word 文档（.docx）"),
    "pptx": ("a PowerPoint presentation (.pptx)", "PowerPoint 演示文稿（.pptx）"),
    "xlsx": ("an Excel workbook (.xlsx)", "Excel 工作簿（.xlsx）"),
    "epub": ("an EPUB e-book", "EPUB 电子书"),
    "odt": ("an OpenDocument text (.odt)", "OpenDocument 文本（.odt）"),
    "zip": ("a zip archive", "zip 压缩包"),
    "doc": ("a Word 97-2003 document (.doc)", "Word 97-2003 文档（.doc）"),
    "ppt": ("a PowerPoint 97-2003 presentation (.ppt)", "PowerPoint 97-2003 演示文稿（.ppt）"),
    "xls": ("an Excel 97-2003 workbook (.xls)", "Excel 97-2003 工作簿（.xls）"),
    "msg": ("an Outlook message (.msg)", "Outlook 邮件（.msg）"),
    "encrypted-office": ("a password-protected Office document", "受密码保护的 Office 文档"),
    "ole": ("an OLE compound file", "OLE 复合文件"),
    "png": ("a PNG image", "PNG 图片"),
    "jpeg": ("a JPEG image", "JPEG 图片"),
    "bmp": ("a BMP image", "BMP 图片"),
    "gif": ("a GIF image", "GIF 图片"),
    "webp": ("a WebP image", "WebP 图片"),
    "tiff": ("a TIFF image", "TIFF 图片"),
    "rtf": ("an RTF document", "RTF 文档"),
    "text": ("text", "文本"),
    "image": ("an image", "图片"),
    "elf": ("an executable program (Linux ELF)", "可执行程序（Linux ELF）"),
    "pe": ("an executable program (Windows .exe/.dll)", "可执行程序（Windows .exe/.dll）"),
    "macho": ("an executable program (macOS Mach-O)", "可执行程序（macOS Mach-O）"),
    "java-class": ("a compiled Java class", "已编译的 Java 类文件"),
    "wasm": ("a WebAssembly program", "WebAssembly 程序"),
    "jar": ("a Java archive (.jar)", "Java 程序包（.jar）"),
    "apk": ("an Android app (.apk)", "Android 应用（.apk）"),
    "gzip": ("a gzip archive", "gzip 压缩包"),
    "bzip2": ("a bzip2 archive", "bzip2 压缩包"),
    "xz": ("an xz archive", "xz 压缩包"),
    "zstd": ("a zstd archive", "zstd 压缩包"),
    "7z": ("a 7-Zip archive", "7-Zip 压缩包"),
    "rar": ("a RAR archive", "RAR 压缩包"),
    "tar": ("a tar archive", "tar 归档"),
    "mp3": ("an MP3 audio file", "MP3 音频"),
    "wav": ("a WAV audio file", "WAV 音频"),
    "flac": ("a FLAC audio file", "FLAC 音频"),
    "ogg": ("an Ogg audio/video file", "Ogg 音视频"),
    "mp4": ("an MP4/MOV video", "MP4/MOV 视频"),
    "mkv": ("a Matroska/WebM video", "Matroska/WebM 视频"),
    "avi": ("an AVI video", "AVI 视频"),
    "sqlite": ("an SQLite database", "SQLite 数据库"),
}
KIND_NAMES = {kind: names[0] for kind, names in _KINDS.items()}

# What to do with a file that is no document at all, by what it is: (English, 中文)
_PROGRAMS = frozenset({"elf", "pe", "macho", "java-class", "wasm", "jar", "apk"})
_ARCHIVES = frozenset({"zip", "gzip", "bzip2", "xz", "zstd", "7z", "rar", "tar"})
_MEDIA = frozenset({"mp3", "wav", "flac", "ogg", "mp4", "mkv", "avi"})
_ADVICE: tuple[tuple[frozenset[str], str, str], ...] = (
    (_PROGRAMS, "Programs cannot be added to a knowledge base: add the document itself.",
     "程序不能加入知识库，请添加文档本身。"),
    (_ARCHIVES, "Unpack it and add the files inside.", "请先解压，再添加其中的文件。"),
    (_MEDIA, "Audio and video cannot be read: add a transcript instead.", "无法读取音视频，请改为添加文字稿。"),
    (frozenset({"sqlite"}), "Export its tables to CSV or Excel and add those.", "请把其中的表导出为 CSV 或 Excel 再添加。"),
)

_MAGIC = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"{\\rtf", "rtf"),
    (b"\x7fELF", "elf"),
    (b"\xfe\xed\xfa\xce", "macho"),
    (b"\xfe\xed\xfa\xcf", "macho"),
    (b"\xce\xfa\xed\xfe", "macho"),
    (b"\xcf\xfa\xed\xfe", "macho"),
    (b"\x00asm", "wasm"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"\x1f\x8b\x08", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"fLaC", "flac"),
    (b"OggS\x00", "ogg"),
    (b"\x1a\x45\xdf\xa3", "mkv"),
    (b"SQLite format 3\x00", "sqlite"),
)
_RIFF_KINDS = {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_ODF_MIMETYPES = {
    b"application/epub+zip": "epub",
    b"application/vnd.oasis.opendocument.text": "odt",
}
_OOXML_PARTS = (("word/document.xml", "docx"), ("ppt/presentation.xml", "pptx"), ("xl/workbook.xml", "xlsx"),
                ("AndroidManifest.xml", "apk"), ("META-INF/MANIFEST.MF", "jar"))


# Folders and files that operating systems, version control and editors leave in a folder
_SYSTEM_NAMES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", "__macosx", "$recycle.bin",
                           "system volume information", "icon\r", "__pycache__"})


def is_hidden_or_system(relative: str) -> bool:
    """Whether a file found in a folder (its path relative to that folder, / or \\ separated) is hidden or a
    system file: any part starting with a dot (.DS_Store, .git/…, ._x), an Office lock file (~$x.docx) or a
    name like Thumbs.db or __MACOSX. Folder adds skip these without counting them as failures."""
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    return any(part.startswith((".", "~$")) or part.lower() in _SYSTEM_NAMES for part in parts if part != "/")


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
    return _binary_kind(head) or "text"


def _binary_kind(head: bytes) -> str | None:
    """Programs, media and archives whose magic alone could begin a text file: each is checked further."""
    if head.startswith(b"MZ") and len(head) >= 64:  # DOS header; a PE's e_lfanew points at "PE\0\0"
        offset = int.from_bytes(head[60:64], "little")
        if head[offset:offset + 4] == b"PE\x00\x00" or b"\x00" in head[:64]:
            return "pe"
    if head.startswith(b"\xca\xfe\xba\xbe") and len(head) >= 8:  # a fat Mach-O counts a few archs; a class its version
        return "macho" if int.from_bytes(head[4:8], "big") < 45 else "java-class"
    if head[:2] == b"\x00\x00" and head[4:8] == b"ftyp":  # an ISO media box of a small size
        return "mp4"
    if head.startswith(b"RIFF"):
        return _RIFF_KINDS.get(head[8:12])
    if head.startswith(b"ID3") and len(head) >= 5 and head[3] in (2, 3, 4) and head[4] == 0:
        return "mp3"
    if head.startswith(b"BZh") and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        return "bzip2"
    if head[257:262] == b"ustar":
        return "tar"
    return None


def mismatch_error(name: str, ext: str, kind: str, wanted: str) -> UnsupportedFile:
    """Why `name` (extension `ext`, which means the kind `wanted`; "image" for any image) is refused when its
    bytes are `kind`: what it really is and what to do. The kinds and the advice go with the key in both
    languages ({"en": …, "zh": …}: the UI's sentence takes its language's words)."""
    (en_kind, zh_kind), (en_wanted, zh_wanted) = _KINDS[kind], _KINDS[wanted]
    words = {"name": name, "ext": ext, "kind": {"en": en_kind, "zh": zh_kind},
             "wanted": {"en": en_wanted, "zh": zh_wanted}}
    advice = next(((en, zh) for kinds, en, zh in _ADVICE if kind in kinds), None)
    if advice:  # no document at all: say what it is
        return UnsupportedFile(f"{name} is {en_kind}, not {en_wanted} (its extension is {ext}). {advice[0]}",
                               key="ingest_not_a_document", advice={"en": advice[0], "zh": advice[1]}, **words)
    return UnsupportedFile(
        f"{name} has the extension {ext}, which means {en_wanted}, but its content is {en_kind}. "
        "Give it the right extension (or export it again) and add it again.", key="ingest_wrong_extension", **words
    )


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
            "Open and re-save it in its application, then add it again.", key="ingest_zip_damaged", name=name, detail=str(exc)
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
        unpacked, packed = f"{total / 2**20:,.0f}", f"{path.stat().st_size / 2**20:,.1f}"
        raise ParseError(
            f"{name} was not opened: it would unpack to {unpacked} MB in {len(infos)} "
            f"parts from {packed} MB on disk, which looks like a zip bomb. "
            "If the document is genuine, save a smaller copy (fewer or compressed images) and add that.",
            key="ingest_zip_bomb", name=name, unpacked=unpacked, parts=len(infos), packed=packed,
        )
    markup = sum(i.file_size for i in infos if i.filename.lower().endswith(_MARKUP_SUFFIXES))
    if markup > MAX_MARKUP_BYTES:
        mb, limit = f"{markup / 2**20:,.0f}", MAX_MARKUP_BYTES // 2**20
        raise FileTooLarge(
            f"{name} holds {mb} MB of document text and markup, over the "
            f"{limit} MB that can be read at once. Split it into smaller files and add those.",
            key="ingest_markup_too_large", name=name, mb=mb, limit=limit,
        )
