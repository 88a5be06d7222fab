"""A minimal writer of Compound File Binary (OLE2) files, the container of Outlook .msg files.

No Python package on the mirror writes new .msg files, and olefile only rewrites streams in
place at their old size; the tests need messages with chosen property streams (8-bit strings
in GBK or Big5, with and without a declared code page). This writes version 3 files (512-byte
sectors) per [MS-CFB]: streams under 4096 bytes in the mini stream, the rest in regular
sectors, one level of storages below the root. olefile, which Outlook readers use, reads them.
"""

from __future__ import annotations

import struct
from pathlib import Path

SECTOR, MINI = 512, 64
CUTOFF = 4096
FREE, END, FAT_SECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _sectors(size: int, unit: int) -> int:
    return -(-size // unit)


def _chain(first: int, count: int) -> list[int]:
    return [first + i + 1 for i in range(count - 1)] + [END] if count else []


def write_cfb(path: Path, streams: dict[str, bytes]) -> Path:
    """Write `streams` ({"name": data} or {"storage/name": data}) as a compound file."""
    storages = sorted({name.split("/")[0] for name in streams if "/" in name})
    # Directory entries: root, storages, streams; each with (name, type, parent index, data).
    entries: list[tuple[str, int, int, bytes]] = [("Root Entry", 5, -1, b"")]
    index = {"": 0}
    for storage in storages:
        index[storage] = len(entries)
        entries.append((storage, 1, 0, b""))
    for name, data in streams.items():
        parent, _, leaf = name.rpartition("/")
        entries.append((leaf, 2, index[parent], data))

    mini_stream, minifat, big, starts = b"", [], [], {}
    for number, (_, kind, _, data) in enumerate(entries):
        if kind != 2 or not data:
            continue
        if len(data) < CUTOFF:
            first = len(minifat)
            count = _sectors(len(data), MINI)
            minifat += _chain(first, count)
            starts[number] = first
            mini_stream += data.ljust(count * MINI, b"\0")
        else:
            big.append((number, data))

    dir_sectors = _sectors(len(entries) * 128, SECTOR)
    minifat_sectors = _sectors(len(minifat) * 4, SECTOR)
    ministream_sectors = _sectors(len(mini_stream), SECTOR)
    layout = dir_sectors + minifat_sectors + ministream_sectors
    big_sectors = []
    for number, data in big:
        starts[number] = layout + sum(big_sectors)
        big_sectors.append(_sectors(len(data), SECTOR))
    data_sectors = layout + sum(big_sectors)
    fat_sectors = 1
    while (data_sectors + fat_sectors) > fat_sectors * (SECTOR // 4):
        fat_sectors += 1
    assert fat_sectors <= 109, "file too large for a header-only DIFAT"

    fat: list[int] = []
    fat += _chain(0, dir_sectors)
    fat += _chain(dir_sectors, minifat_sectors)
    fat += _chain(dir_sectors + minifat_sectors, ministream_sectors)
    for (number, _), count in zip(big, big_sectors):
        fat += _chain(starts[number], count)
    fat += [FAT_SECT] * fat_sectors
    fat += [FREE] * (fat_sectors * (SECTOR // 4) - len(fat))

    starts[0] = dir_sectors + minifat_sectors if mini_stream else END  # the root holds the mini stream
    sizes = [len(mini_stream)] + [len(data) for _, _, _, data in entries[1:]]
    directory = b"".join(
        _entry(entries, number, starts.get(number, END), sizes[number]) for number in range(len(entries))
    )
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("D0CF11E0A1B11AE1"), b"\0" * 16, 0x3E, 3, 0xFFFE, 9, 6, b"\0" * 6,
        0, fat_sectors, 0, 0, CUTOFF,
        dir_sectors if minifat else END, minifat_sectors, END, 0,
    )
    header += struct.pack("<109I", *([data_sectors + i for i in range(fat_sectors)] + [FREE] * (109 - fat_sectors)))
    body = directory.ljust(dir_sectors * SECTOR, b"\0")
    body += struct.pack(f"<{len(minifat)}I", *minifat).ljust(minifat_sectors * SECTOR, b"\xff")
    body += mini_stream.ljust(ministream_sectors * SECTOR, b"\0")
    for (_, data), count in zip(big, big_sectors):
        body += data.ljust(count * SECTOR, b"\0")
    body += struct.pack(f"<{len(fat)}I", *fat)
    path.write_bytes(header + body)
    return path


def _entry(entries: list[tuple[str, int, int, bytes]], number: int, start: int, size: int) -> bytes:
    """One 128-byte directory entry. Siblings are chained through their right links in CFB name
    order (shorter names first, then by upper case), a valid if unbalanced tree."""
    name, kind, parent, _ = entries[number]
    key = lambda n: (len(entries[n][0]), entries[n][0].upper())  # noqa: E731
    siblings = sorted((n for n in range(1, len(entries)) if entries[n][2] == parent), key=key)
    children = sorted((n for n in range(1, len(entries)) if entries[n][2] == number), key=key)
    right = siblings[siblings.index(number) + 1] if number and siblings.index(number) + 1 < len(siblings) else NOSTREAM
    encoded = (name + "\0").encode("utf-16-le")
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        encoded, len(encoded), kind, 1, NOSTREAM, right, children[0] if children else NOSTREAM,
        b"\0" * 16, 0, 0, 0, start if kind != 1 else 0, size if kind != 1 else 0,
    )
