"""Scanned PDFs: pages/s and character error rate of our PDF reader (chatchat.ingest.pdf with OCR) against
the seed's RapidOCRPDFLoader rebuilt here, on the same pages, in one run.

The PDF is made here: PAGES A4 pages, each a paragraph of xquad-zh-a and the same paragraph of xquad-en-a
(../shared/eval; parallel translations), drawn with Pillow in Noto Serif CJK SC at SCAN_DPI, blurred and
noised a little like a scan, JPEG-compressed, and wrapped as image-only PDF pages (no text layer).

The seed (Langchain-Chatchat's document_loaders/mypdfloader.py) read each page's text layer, then OCR'd
every image covering at least PDF_OCR_THRESHOLD (60%) of the page's width and height at the image's own
resolution with `RapidOCR()` (rapidocr-onnxruntime, default settings: angle classifier on, the image's long
side capped at 2000 px), building the engine once per file (get_ocr()). It opened PDFs with PyMuPDF; here
pypdfium2 does the same (the embedded image's own pixels, not a rendering).

Character error rate: Levenshtein distance of the text read and the text drawn, both NFKC-normalised with
whitespace removed (line breaks differ), over the drawn text's length; summed over pages.

    nice -n 10 python bench/bench_ocr.py              # about five minutes on 2 cores
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from eval_retrieval import load_set  # noqa: E402

PAGES = 20
SCAN_DPI = 200
FONT = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
FONT_INDEX = 2  # Noto Serif CJK SC
FONT_PT = 11
PDF_OCR_THRESHOLD = (0.6, 0.6)  # the seed's kb_settings.PDF_OCR_THRESHOLD


# --- the scanned PDF --------------------------------------------------------------------------------


def _wrap(draw, text: str, font, width: int) -> list[str]:
    """Lines of `text` no wider than `width` px: words for Latin text, characters for Han."""
    lines: list[str] = []
    line = ""
    tokens = text.split(" ") if text.isascii() else list(text)
    joiner = " " if text.isascii() else ""
    for token in tokens:
        candidate = f"{line}{joiner}{token}" if line else token
        if draw.textlength(candidate, font=font) <= width:
            line = candidate
        else:
            lines.append(line)
            line = token
    if line:
        lines.append(line)
    return lines


def page_texts(count: int) -> list[list[str]]:
    """Each page's paragraphs: a Chinese paragraph and its English translation, cut to fit one page."""
    zh, en = load_set("xquad-zh-a"), load_set("xquad-en-a")
    english = {cid.split(":", 1)[1]: text for cid, text in en.passages.items()}  # the same ids after the set's name
    pairs = [(text, english[cid.split(":", 1)[1]]) for cid, text in zh.passages.items() if cid.split(":", 1)[1] in english]
    return [[chinese[:420], english_text[:900]] for chinese, english_text in pairs[:count]]


def make_scan(path: Path, pages: list[list[str]]) -> list[str]:
    """Write the image-only PDF; returns each page's text as drawn (its lines joined)."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    font = ImageFont.truetype(str(FONT), round(FONT_PT * SCAN_DPI / 72), index=FONT_INDEX)
    width, height = round(8.27 * SCAN_DPI), round(11.69 * SCAN_DPI)
    margin = SCAN_DPI  # one inch
    leading = round(font.size * 1.6)
    rng = np.random.default_rng(19)
    images, drawn = [], []
    for paragraphs in pages:
        image = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(image)
        y, text = margin, []
        for paragraph in paragraphs:
            for line in _wrap(draw, " ".join(paragraph.split()), font, width - 2 * margin):
                if y + leading > height - margin:
                    break
                draw.text((margin, y), line, font=font, fill=25)
                text.append(line)
                y += leading
            y += leading
        image = image.rotate(random.Random(len(images)).uniform(-0.4, 0.4), fillcolor=255, resample=Image.BICUBIC)
        image = image.filter(ImageFilter.GaussianBlur(0.7))
        noisy = np.asarray(image, dtype=np.int16) + rng.normal(0, 9, (height, width)).astype(np.int16)
        images.append(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).convert("RGB"))
        drawn.append("\n".join(text))
    images[0].save(path, "PDF", resolution=SCAN_DPI, save_all=True, append_images=images[1:], quality=80)
    return drawn


# --- the seed's RapidOCRPDFLoader ---------------------------------------------------------------------


def seed_pdf2text(path: Path) -> list[str]:
    """The seed's pdf2text, page by page: the text layer, then each large image OCR'd at its own size."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c
    from rapidocr_onnxruntime import RapidOCR

    ocr = RapidOCR()  # get_ocr(), once per file
    pdf = pdfium.PdfDocument(path)
    pages = []
    try:
        for page in pdf:
            textpage = page.get_textpage()
            resp = textpage.get_text_bounded() + "\n"
            textpage.close()
            width, height = page.get_size()
            for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
                left, bottom, right, top = obj.get_bounds()
                if (right - left) / width < PDF_OCR_THRESHOLD[0] or (top - bottom) / height < PDF_OCR_THRESHOLD[1]:
                    continue
                img_array = obj.get_bitmap(render=False).to_numpy()  # the pixmap's samples, as fitz.Pixmap gave them
                result, _ = ocr(img_array)
                if result:
                    resp += "\n".join(line[1] for line in result)
            pages.append(resp)
            page.close()
    finally:
        pdf.close()
    return pages


# --- ours ----------------------------------------------------------------------------------------------


def our_pages(path: Path, count: int) -> list[str]:
    from chatchat.ingest.pdf import parse_pdf

    pages = [""] * count
    for element in parse_pdf(path, path.name, use_ocr=True):
        pages[element.page - 1] += element.text + "\n"
    return pages


# --- scoring -------------------------------------------------------------------------------------------


def _squeeze(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def cer(read: list[str], drawn: list[str]) -> float:
    from rapidfuzz.distance import Levenshtein

    errors = sum(Levenshtein.distance(_squeeze(r), _squeeze(d)) for r, d in zip(read, drawn))
    return errors / sum(len(_squeeze(d)) for d in drawn)


def timed(label: str, run) -> tuple[float, float, list[str]]:
    """Wall seconds, CPU seconds of this process (every thread) and the pages read."""
    start, cpu = time.perf_counter(), time.process_time()
    pages = run()
    took, used = time.perf_counter() - start, time.process_time() - cpu
    print(f"{label}: {took:.1f} s, {used:.1f} CPU s", flush=True)
    return took, used, pages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=PAGES)
    parser.add_argument("--rounds", type=int, default=2, help="seed and ours alternate this many times")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load_before = common.load()
    scratch = common.scratch_dir("ocr-")
    try:
        pdf = scratch / "scan.pdf"
        drawn = make_scan(pdf, page_texts(args.pages))
        from chatchat.ingest import ocr

        with common.timer() as load:
            ocr.warm_up()
        seed_s, ours_s, seed_cpu, ours_cpu = [], [], [], []
        for _ in range(args.rounds):
            took, used, seed_read = timed("seed", lambda: seed_pdf2text(pdf))
            seed_s.append(took)
            seed_cpu.append(used)
            took, used, ours_read = timed("ours", lambda: our_pages(pdf, args.pages))
            ours_s.append(took)
            ours_cpu.append(used)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seed_rate, ours_rate = args.pages / min(seed_s), args.pages / min(ours_s)
    seed_page_cpu, ours_page_cpu = min(seed_cpu) / args.pages, min(ours_cpu) / args.pages
    seed_cer, ours_cer = cer(seed_read, drawn), cer(ours_read, drawn)
    chars = sum(len(_squeeze(d)) for d in drawn)
    body = common.header(common.command_line(), load_before, common.load(),
                         f"{args.pages} image-only A4 pages at {SCAN_DPI} dpi (JPEG), each a xquad-zh-a paragraph "
                         f"and its xquad-en-a translation, {chars} characters in all; best of {args.rounds} "
                         "alternating rounds; our engine loaded before timing "
                         f"({load['s']:.1f} s, once per process), the seed's inside (once per file, as it did)")
    body += ("\n| reader | pages/s | ratio to the seed | CPU s a page (all threads) | seed's ÷ ours | character error rate |\n"
             "|---|---|---|---|---|---|\n"
             f"| seed RapidOCRPDFLoader (pypdfium2 + `RapidOCR()`) | {seed_rate:.3f} | 1.00 | {seed_page_cpu:.2f} | 1.00 | {seed_cer:.4f} |\n"
             f"| ours (chatchat.ingest.pdf) | {ours_rate:.3f} | {ours_rate / seed_rate:.2f} | {ours_page_cpu:.2f} | "
             f"{seed_page_cpu / ours_page_cpu:.2f} | {ours_cer:.4f} |\n")
    body += f"\nRounds (s): seed {', '.join(f'{s:.1f}' for s in seed_s)}; ours {', '.join(f'{s:.1f}' for s in ours_s)}.\n"
    if not args.no_write:
        common.write_section("Scanned PDFs (bench_ocr.py)", body)
    print(body)


if __name__ == "__main__":
    main()
