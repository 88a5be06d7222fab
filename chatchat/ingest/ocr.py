"""Text out of images with RapidOCR (PP-OCRv4 Chinese + English models shipped inside its wheel).

The engine takes about a second to load and a lot of memory, so it is loaded once per process,
on first use, and calls are serialised (one ONNX session already uses every core).
"""

from __future__ import annotations

import functools
import importlib.util
import io
import threading
from typing import Any

from PIL import Image, ImageOps

from chatchat.errors import ParseError, UnsupportedFile

_lock = threading.Lock()

# RapidOCR scales an image up until its short side is 736 px, so a thin strip (a 3 x 2000 px
# rule line in a .docx) becomes 736 x 490,000 px and exhausts memory. Strips thinner than any
# text are skipped, others padded to at most MAX_ASPECT (then at most 736 x 2944 px, the work
# of an A4 page); the long side is capped where RapidOCR would cap it anyway.
MAX_ASPECT = 4
MAX_SIDE = 2000
MIN_SIDE = 8


class OCRUnavailable(UnsupportedFile):
    """The optional OCR engine is not installed."""


def available() -> bool:
    """Whether the OCR engine is installed (without loading it)."""
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def unavailable(name: str) -> OCRUnavailable:
    return OCRUnavailable(
        f"Reading the text of {name} needs OCR, and the OCR engine is not installed: "
        "run `pip install 'chatchat[ocr]'` (rapidocr-onnxruntime) and add the file again."
    )


@functools.lru_cache(maxsize=1)
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def ocr_image(image: Image.Image | bytes, name: str) -> list[str]:
    """The lines of text in `image`, top to bottom. `name` is used in error messages."""
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
        raise ParseError(f"The image in {name} cannot be read ({exc}); re-save it as PNG or JPEG.") from exc
    image = _bounded(image)
    if image is None:
        return []
    with _lock:  # also keeps two threads from loading two engines
        result, _ = _engine()(image)
    return [text.strip() for _box, text, _score in result or [] if text.strip()]


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
