"""Text out of images with RapidOCR (PP-OCRv4 Chinese + English models shipped inside its wheel).

The engine takes about a second to load and a lot of memory, so it is loaded once per process, on first
use. An image is not read quite the way `RapidOCR()(image)` reads it: the detector sees a large one (a
scanned page) with its short side at DET_SIDE (it finds lines of body text as well there, for a fraction of
the work at a scan's resolution) and the recogniser reads each line cut from the full image; the angle classifier
looks at a sample of the lines first and turns lines only where most of that sample is upside down (and
at every vertical line).
"""

from __future__ import annotations

import functools
import importlib.util
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from chatchat.errors import ParseError, UnsupportedFile

_lock = threading.Lock()  # keeps two threads from loading two engines
_detect_lock = threading.Lock()  # RapidOCR's detector keeps each image's preprocessing on itself: one at a time

# RapidOCR scales an image up until its short side is 736 px, so a thin strip (a 3 x 2000 px
# rule line in a .docx) becomes 736 x 490,000 px and exhausts memory. Strips thinner than any
# text are skipped, others padded to at most MAX_ASPECT (then at most 736 x 2944 px, the work
# of an A4 page); the long side is capped where RapidOCR would cap it anyway.
MAX_ASPECT = 4
MAX_SIDE = 2000
MIN_SIDE = 8
DET_SIDE = 960  # the detector's short side for a larger image (RapidOCR scales a smaller one up to 736)
CLS_SAMPLE = 8  # lines the angle classifier looks at before it is run on every line
# Each ONNX session runs on one thread, and an image's lines are recognised in this many threads at once
# (the recogniser is ~90% of the work): no thread spins waiting for another, which on a busy machine cost
# a third of RapidOCR's CPU time, and the cores stay busy between the model's operators.
WORKERS = max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


@dataclass(frozen=True)
class Line:
    """A line of text read, and its box: left, top, right, bottom as fractions of the image read."""

    text: str
    box: tuple[float, float, float, float]


class OCRUnavailable(UnsupportedFile):
    """The optional OCR engine is not installed."""


def available() -> bool:
    """Whether the OCR engine is installed (without loading it)."""
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def unavailable(name: str) -> OCRUnavailable:
    return OCRUnavailable(
        f"Reading the text of {name} needs OCR, and the OCR engine is not installed: "
        "run `pip install 'chatchat[ocr]'` (rapidocr-onnxruntime) and add the file again.", key="ingest_ocr_missing", name=name
    )


@functools.lru_cache(maxsize=1)
def _loaded() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(intra_op_num_threads=1)


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(WORKERS, thread_name_prefix="ocr")


def _engine() -> Any:
    with _lock:
        return _loaded()


def warm_up() -> None:
    """Load the engine now (a bench times reading, not loading)."""
    _engine()


def ocr_image(image: Image.Image | bytes, name: str) -> list[str]:
    """The lines of text in `image`, top to bottom. `name` is used in error messages."""
    return [line.text for line in read_lines(image, name)]


def read_lines(image: Image.Image | bytes, name: str) -> list[Line]:
    """The lines of text in `image` with their boxes, top to bottom. `name` is used in error messages."""
    if not available():
        raise unavailable(name)
    try:
        if isinstance(image, bytes):
            image = Image.open(io.BytesIO(image))
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEGs decode straight at a reduced size
        # Palette, CMYK and 16-bit images would reach the model as nonsense channels; phone
        # photos store their rotation in EXIF.
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            # Dark text on a transparent background would turn black on black.
            image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
        image = image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ParseError(f"The image in {name} cannot be read ({exc}); re-save it as PNG or JPEG.",
                         key="ingest_image_unreadable", name=name, detail=str(exc)) from exc
    canvas = _bounded(image)  # shrinks `image` itself to MAX_SIDE
    if canvas is None:
        return []
    width, height = image.size
    bgr = np.ascontiguousarray(np.asarray(canvas)[:, :, ::-1])
    found = _read(_engine(), bgr)
    lines = []
    for points, text, _score in found:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        box = (min(xs) / width, min(ys) / height, min(1.0, max(xs) / width), min(1.0, max(ys) / height))
        if text.strip() and box[0] < 1 and box[1] < 1:  # a line in the padding is none of the image's
            lines.append(Line(text.strip(), box))
    return lines


def _read(engine: Any, bgr: np.ndarray) -> list[tuple[Any, str, float]]:
    """(box corners in pixels, text, score) of each line in a BGR image, top to bottom."""
    import cv2

    height, width = bgr.shape[:2]
    padded, record = engine.maybe_add_letterbox(bgr, {})  # RapidOCR pads a thin strip above and below
    top = record["padding_1"]["top"]
    full_h, full_w = padded.shape[:2]
    scale = DET_SIDE / min(full_h, full_w)
    small = padded if scale >= 1 else cv2.resize(padded, (round(full_w * scale), round(full_h * scale)),
                                                 interpolation=cv2.INTER_AREA)
    with _detect_lock:
        boxes, _ = engine.auto_text_det(small)  # the detector scales a smaller image up itself
    if boxes is None:
        return []
    ratio = np.array([full_w / small.shape[1], full_h / small.shape[0]], dtype=np.float32)
    boxes = [np.minimum(box * ratio, [full_w - 1, full_h - 1]).astype(np.float32) for box in boxes]
    texts = _recognise(engine, _upright(engine, engine.get_crop_img_list(padded, boxes), boxes))
    return [(np.clip(box - [0, top], 0, [width, height]), text, score) for box, (text, score) in zip(boxes, texts)
            if float(score) >= engine.text_score]


def _recognise(engine: Any, crops: list[np.ndarray]) -> list[tuple[str, float]]:
    """(text, score) of each line image, the lines shared out over WORKERS threads (by width, so that each
    gets a like share of the work and its batches pad little)."""
    order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / max(1, crops[i].shape[0]))
    shares = [order[k::WORKERS] for k in range(WORKERS) if order[k::WORKERS]]
    found: list[tuple[str, float]] = [("", 0.0)] * len(crops)
    for share, (texts, _) in zip(shares, _pool().map(lambda s: engine.text_rec([crops[i] for i in s]), shares)):
        for i, text in zip(share, texts):
            found[i] = (text[0], text[1])
    return found


def _upright(engine: Any, crops: list[np.ndarray], boxes: list[np.ndarray]) -> list[np.ndarray]:
    """The line images, turned upright where the angle classifier finds them upside down. It sees every
    vertical line (its crop was turned a quarter, RapidOCR's way, and may now be upside down), and the other
    lines only when most of a sample of them are upside down (a scan fed in the wrong way): on an upright
    page a line it misjudged would be turned and lost."""
    vertical = [i for i, box in enumerate(boxes)
                if max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2]))
                >= 1.5 * max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3]), 1.0)]
    lines = [i for i in range(len(crops)) if i not in set(vertical)]
    step = max(1, len(lines) // CLS_SAMPLE)
    sample = lines[::step][:CLS_SAMPLE]
    _, judged, _ = engine.text_cls([crops[i] for i in sample]) if sample else ([], [], 0)
    flipped = sum(1 for label, score in judged if "180" in label and score > engine.text_cls.cls_thresh)
    check = vertical + (lines if 2 * flipped > len(sample) else [])
    crops = list(crops)
    if check:
        turned, _, _ = engine.text_cls([crops[i] for i in check])
        for i, crop in zip(check, turned):
            crops[i] = crop
    return crops


def _bounded(image: Image.Image) -> Image.Image | None:
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        return None
    short = -(-max(width, height) // MAX_ASPECT)
    if min(width, height) >= short:
        return image
    canvas = Image.new("RGB", (max(width, short), max(height, short)), "white")
    canvas.paste(image, (0, 0))
    return canvas
