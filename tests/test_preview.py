"""The source viewer's content on real documents: a PDF page rendered with the cited passage highlighted
from the text layer's character boxes, or on a scanned page (or a picture on a page) from the boxes of the
lines OCR read there, kept at ingest; other formats as the passage in its neighbouring chunks, escaped.
Real LanceDB, the packaged MiniLM, RapidOCR."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from chatchat.answer.preview import HTML, PNG, passage_html, preview, source_chunk
from chatchat.answer.preview_pdf import locate, render_page
from chatchat.errors import NotFound
from chatchat.ingest import ocr, ocr_boxes
from chatchat.retrieval.context import merge_texts
from chatchat.service import Services
from conftest import SAMPLES, UNSTRUCTURED_DOCS

EMBEDDING = "minilm-l6-v2-int8"
PDF = SAMPLES / "langchain.pdf"


@pytest.fixture(scope="module")
def kb(tmp_path_factory) -> Services:
    from chatchat.config import load_settings

    services = Services.open(load_settings(home=tmp_path_factory.mktemp("preview") / "home"))
    # 100/20 tokens: the 400/80 characters of English the chunk numbers below were written against
    services.create_kb("docs", embedding=EMBEDDING, chunk_size=100, chunk_overlap=20)
    files = [PDF, SAMPLES / "ocr_test.pdf", SAMPLES / "大模型推理优化策略.md", UNSTRUCTURED_DOCS / "fake.docx"]
    assert [r.status for r in services.add_files("docs", files)] == ["added"] * len(files)
    return services


def yellow(image: Image.Image, box: tuple[int, int, int, int]) -> bool:
    """The middle of `box` is tinted yellow (red and green well above blue) where the page was white."""
    left, top, right, bottom = box
    ys = range(top + 1, bottom - 1)
    pixels = [image.getpixel((x, y)) for x in range(left + 3, right - 3, 5) for y in ys]
    white_ish = [p for p in pixels if p[0] > 200]
    return bool(white_ish) and all(r > 200 and g > 180 and b < 190 for r, g, b in white_ish)


def test_a_pdf_passage_is_highlighted_on_its_page(kb):
    chunk = kb.chunks("docs", PDF.name)[40]
    shown = render_page(kb.original("docs", PDF.name), chunk.page, chunk.text)
    assert shown.note == "found" and shown.page == 5 and len(shown.boxes) >= 5
    image = Image.open(io.BytesIO(shown.png)).convert("RGB")
    assert image.size == (1191, 1684) or image.size == (1191, 1685)  # A4 at 144 dpi
    lines = [box for box in shown.boxes if box[2] - box[0] > 10 and box[3] - box[1] > 6]  # not a lone comma's
    assert len(lines) >= 5 and all(yellow(image, box) for box in lines)
    # the boxes sit where the text is: the passage starts in the left column's lower half
    first = lines[0]
    assert first[0] < image.width / 2 and first[1] > image.height / 3
    plain = Image.open(io.BytesIO(render_page(kb.original("docs", PDF.name), 5, "").png)).convert("RGB")
    assert not yellow(plain, first)  # the same place without a passage: no highlight


def test_preview_picks_the_page_image_for_pdfs_and_html_for_other_formats(kb):
    pdf = preview(kb, "docs", PDF.name, 40)
    assert (pdf.media_type, pdf.page, pdf.note) == (PNG, 5, "found") and pdf.content[:8] == b"\x89PNG\r\n\x1a\n"
    as_text = preview(kb, "docs", PDF.name, 40, view="passage")
    assert as_text.media_type == HTML and "Once LLMs can be utilized" in as_text.content.decode()
    docx = preview(kb, "docs", "fake.docx", 0, view="page")  # no page to show: the passage page
    assert docx.media_type == HTML and "Lorem ipsum dolor sit amet." in docx.content.decode()


def yellow_share(png: bytes, region: tuple[float, float, float, float]) -> float:
    """The share of the pixels in `region` (fractions of the page: left, top, right, bottom) in the highlight's
    yellow."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = image.size
    part = image.crop((round(region[0] * w), round(region[1] * h), round(region[2] * w), round(region[3] * h)))
    pixels = list(part.get_flattened_data())
    return sum(1 for r, g, b in pixels if r > 235 and 220 < g < 250 and b < 200) / max(1, len(pixels))


def test_text_ocr_read_in_a_picture_is_highlighted_from_its_boxes(kb):
    # ocr_test.pdf: one line in the text layer (我是文字), the rest a picture (x 90-269, y 559-685 pt of an
    # A4 page) that the ingest OCR'd and kept the boxes of
    [chunk] = kb.chunks("docs", "ocr_test.pdf")
    assert "我是文字" in chunk.text and "横向文本框" in chunk.text
    without = render_page(kb.original("docs", "ocr_test.pdf"), 1, chunk.text)
    assert without.note == "partial" and len(without.boxes) == 1  # the text layer alone holds one line
    shown = preview(kb, "docs", "ocr_test.pdf", chunk.chunk_index)
    assert (shown.media_type, shown.note) == (PNG, "found")
    width, height = 595.32, 841.92
    picture = (90 / width, (height - 685) / height, 269 / width, (height - 559) / height)
    assert yellow_share(shown.content, picture) > 0.05  # the lines read in the picture are marked
    record = kb.store.get("docs").document("ocr_test.pdf")
    boxes = ocr_boxes.load(kb.store.get("docs").blobs, "ocr_test.pdf", record.sha256, 1)
    drawn = render_page(kb.original("docs", "ocr_test.pdf"), 1, chunk.text, boxes)
    w, h = Image.open(io.BytesIO(drawn.png)).size
    inside = [b for b in drawn.boxes if picture[0] * w - 3 <= b[0] and b[2] <= picture[2] * w + 3
              and picture[1] * h - 3 <= b[1] and b[3] <= picture[3] * h + 3]
    assert len(inside) >= 2 and len(drawn.boxes) == len(inside) + 1  # the picture's lines, and the text layer's
    above = (picture[0], 0.02, picture[2], picture[1] - 0.03)
    below = (picture[0], picture[3] + 0.01, picture[2], 0.98)
    assert yellow_share(shown.content, above) < 0.05 and yellow_share(shown.content, below) == 0.0


@pytest.mark.skipif(not ocr.available(), reason="the OCR engine (rapidocr-onnxruntime) is not installed")
def test_a_passage_on_a_scanned_page_is_highlighted_where_it_stands(kb, tmp_path):
    """A scan of fake-memo.pdf's page (a picture, no text layer): the passage is marked from the OCR boxes,
    inside the region the original's text layer gives the same passage."""
    scan = tmp_path / "scan.pdf"
    _image_only_pdf(UNSTRUCTURED_DOCS / "fake-memo.pdf", scan)
    assert [r.status for r in kb.add_files("docs", [scan])] == ["added"]
    chunk = kb.chunks("docs", "scan.pdf")[0]
    assert "bottles" in chunk.text  # read by OCR
    assert render_page(scan, 1, chunk.text).note == "scanned"  # no text layer, and no boxes given
    shown = preview(kb, "docs", "scan.pdf", chunk.chunk_index)
    assert (shown.media_type, shown.note) == (PNG, "found")
    truth = render_page(UNSTRUCTURED_DOCS / "fake-memo.pdf", 1, chunk.text)  # the same passage in the original
    assert truth.note in ("found", "partial") and truth.boxes
    w, h = Image.open(io.BytesIO(shown.content)).size
    region = (min(b[0] for b in truth.boxes) / w, min(b[1] for b in truth.boxes) / h,
              max(b[2] for b in truth.boxes) / w, max(b[3] for b in truth.boxes) / h)
    assert yellow_share(shown.content, region) > 0.2
    outside = (0.0, region[3] + 0.03, 1.0, 1.0)
    assert yellow_share(shown.content, outside) < 0.01


@pytest.mark.skipif(not ocr.available(), reason="the OCR engine (rapidocr-onnxruntime) is not installed")
def test_ocr_boxes_of_a_scan_are_kept_with_the_document_and_go_with_it(kb, tmp_path):
    scan = UNSTRUCTURED_DOCS / "pdf-with-ocr-text.pdf"  # a scan that carries its own (poor) OCR layer
    assert [r.status for r in kb.add_files("docs", [scan])] == ["added"]
    record = kb.store.get("docs").document(scan.name)
    blobs = kb.store.get("docs").blobs
    kept = ocr_boxes.load(blobs, scan.name, record.sha256, 1)
    assert kept and all(0 <= b.left < b.right <= 1 and 0 <= b.top < b.bottom <= 1 for b in kept)
    assert ocr_boxes.load(blobs, scan.name, "another version", 1) == []
    chunk = next(c for c in kb.chunks("docs", scan.name) if any(b.text[:8] in c.text for b in kept))
    shown = preview(kb, "docs", scan.name, chunk.chunk_index)
    assert shown.note in ("found", "start") and yellow_share(shown.content, (0, 0, 1, 1)) > 0.002
    kb.remove_document("docs", scan.name)
    assert not blobs.exists(f"ocr/{scan.name}.json")


def _image_only_pdf(source: Path, target: Path) -> None:
    """`source`'s first page as a picture in a new PDF without a text layer: a scan of it."""
    original = pdfium.PdfDocument(source)
    picture = original[0].render(scale=2).to_pil()
    width, height = original[0].get_size()
    original.close()
    scan = pdfium.PdfDocument.new()
    page = scan.new_page(width, height)
    image = pdfium.PdfImage.new(scan)
    image.set_bitmap(pdfium.PdfBitmap.from_pil(picture))
    image.set_matrix(pdfium.PdfMatrix().scale(width, height))
    page.insert_obj(image)
    page.gen_content()
    scan.save(target)
    scan.close()


def test_locate_finds_the_whole_passage_its_start_or_its_lines():
    page = "thequickbrownfoxjumpsoverthelazydog" "packmyboxwithfivedozenliquorjugs" "sphinxofblackquartzjudgemyvow"
    assert locate(page, "quick brown\nfox") == ([(3, 15)], "found")  # whitespace does not count
    assert locate(page, "The QUICK brown") == ([(0, 12)], "found")  # nor case
    running_on = page[30:] + " and then the next page begins here"
    assert locate(page, running_on) == ([(30, len(page) - 1)], "start")
    assert locate(page, "nothing like it\nfive dozen\nzzzz") == ([(48, 56)], "partial")
    assert locate(page, "xyz") == ([], "not_found")


def test_the_passage_page_shows_the_neighbours_once_and_the_section(kb):
    chunks = kb.chunks("docs", "大模型推理优化策略.md")
    shown = source_chunk(kb, "docs", "大模型推理优化策略.md", 1)
    assert shown.before + shown.hit.text + shown.after == merge_texts([c.text for c in chunks[:3]])
    page = passage_html(shown, "/original?a=1&b=2")
    assert "<h1>大模型推理优化策略</h1>" in page and '<a href="/original?a=1&amp;b=2">' in page
    first = source_chunk(kb, "docs", "大模型推理优化策略.md", 0)
    assert first.before == "" and first.after


def test_document_text_is_escaped_in_the_passage_page(kb, tmp_path):
    hostile = tmp_path / "hostile.txt"  # plain text keeps the tags as text
    hostile.write_text('Notes <img src=x onerror="alert(1)">\n\nLorem ipsum. <script>alert("x")</script> & more.\n',
                       encoding="utf-8")
    kb.add_files("docs", [hostile])
    page = preview(kb, "docs", "hostile.txt", 0).content.decode()
    assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page


def test_a_deleted_or_replaced_document_shows_nothing(kb, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# 笔记\n\n第一版的内容，讲的是显存优化。", encoding="utf-8")
    kb.add_files("docs", [notes])
    cited = kb.chunks("docs", "notes.md")[0]
    assert preview(kb, "docs", "notes.md", 0, doc_id=cited.doc_id).media_type == HTML
    notes.write_text("# 笔记\n\n第二版完全不同。", encoding="utf-8")
    kb.add_files("docs", [notes])
    with pytest.raises(NotFound):
        preview(kb, "docs", "notes.md", 0, doc_id=cited.doc_id)
    kb.remove_document("docs", "notes.md")
    with pytest.raises(NotFound):
        preview(kb, "docs", "notes.md", 0)
    with pytest.raises(NotFound):
        render_page(kb.original("docs", PDF.name), 99, "")
