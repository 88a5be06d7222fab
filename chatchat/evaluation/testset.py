"""A knowledge base's test set: questions with the answers a good retrieval finds, read from JSONL, CSV or XLSX
and kept in the knowledge base's folder (`<data>/knowledge_bases/<name>/evaluation/testset.json`, so it goes
when the knowledge base does).

A row has a `question`; `answers` (strings an answering chunk contains; in CSV/XLSX several separated by `|`);
optionally the expected `source` (a document name) and `unanswerable` (the answer is not in the knowledge
base: a good run refuses it). JSONL rows may also carry `context`, the passage the answer must come from
(an answer found elsewhere does not count), and `draft` (written by the chat model, not yet kept).
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import uuid
from dataclasses import asdict, dataclass, field, fields, replace as copy_with
from pathlib import Path

from chatchat.errors import ChatchatError, NotFound
from chatchat.fs import atomic_write

MAX_ITEMS = 10_000  # rows of one test set: a run asks each one, 10k is hours on a laptop already
MAX_FILE_MB = 20
MAX_QUESTION_CHARS = 2000
ANSWER_SEPARATOR = "|"
COLUMNS = ("question", "answers", "source", "unanswerable")
# header names a Chinese spreadsheet may use for the same columns
_ALIASES = {"问题": "question", "答案": "answers", "来源": "source", "出处": "source", "无答案": "unanswerable",
            "不在知识库中": "unanswerable"}
_TRUE = {"1", "true", "yes", "y", "x", "是", "对", "✓"}
_FALSE = {"", "0", "false", "no", "n", "否"}
FORMATS = (".jsonl", ".csv", ".xlsx")


class InvalidTestSet(ChatchatError):
    code = "invalid_test_set"
    status = 422


@dataclass
class Item:
    question: str
    answers: list[str] = field(default_factory=list)
    source: str = ""
    unanswerable: bool = False
    context: str = ""
    draft: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @classmethod
    def checked(cls, row: int, **values: object) -> "Item":
        """An item from one row's values, or InvalidTestSet naming the row (1-based, as a spreadsheet counts)."""
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise InvalidTestSet(f"Row {row}: unknown field(s) {', '.join(sorted(unknown))}; use {', '.join(COLUMNS)}.",
                                 key="eval_unknown_field", row=row, names=", ".join(sorted(unknown)))
        question = _text(values.get("question"))
        if not question:
            raise InvalidTestSet(f"Row {row}: the question is empty.", key="eval_empty_question", row=row)
        if len(question) > MAX_QUESTION_CHARS:
            raise InvalidTestSet(f"Row {row}: the question is longer than {MAX_QUESTION_CHARS} characters.",
                                 key="eval_long_question", row=row, limit=MAX_QUESTION_CHARS)
        answers = values.get("answers") or []
        if isinstance(answers, str):
            answers = answers.split(ANSWER_SEPARATOR)
        if not isinstance(answers, list):
            raise InvalidTestSet(f"Row {row}: 'answers' must be a list of strings or text separated by '|'.",
                                 key="eval_bad_answers", row=row)
        answers = [a for a in (_text(a) for a in answers) if a]
        item = cls(question=question, answers=answers, source=_text(values.get("source")),
                   unanswerable=_flag(values.get("unanswerable"), row), context=_text(values.get("context")),
                   draft=_flag(values.get("draft"), row), **({"id": str(values["id"])} if values.get("id") else {}))
        if not item.unanswerable and not item.answers and not item.source:
            raise InvalidTestSet(f"Row {row}: give the expected answers or source, or mark the question unanswerable.",
                                 key="eval_nothing_expected", row=row)
        return item


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # a spreadsheet's 2015 arrives as 2015.0
        value = int(value)
    return unicodedata.normalize("NFC", str(value)).strip()


def _flag(value: object, row: int) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidTestSet(f"Row {row}: 'unanswerable' must be yes/no, true/false or 1/0 (got {text!r}).",
                         key="eval_bad_flag", row=row, value=text)


# --- reading files ------------------------------------------------------------------------


def read_file(path: Path, name: str | None = None) -> list[Item]:
    """The items of a JSONL, CSV or XLSX file (`name`: the file's name as the user gave it, for its extension)."""
    suffix = Path(name or path.name).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidTestSet(f"Test sets are read from {', '.join(FORMATS)} files, not '{suffix or name}'.",
                             key="eval_format", suffix=suffix or str(name))
    if path.stat().st_size > MAX_FILE_MB * 2**20:
        raise InvalidTestSet(f"The test set file is larger than {MAX_FILE_MB} MB.", key="eval_file_size", limit=MAX_FILE_MB)
    if suffix == ".xlsx":
        return _checked_rows(_xlsx_rows(path))
    text = _decoded(path.read_bytes())
    if suffix == ".jsonl":
        return _jsonl(text)
    return _checked_rows(list(csv.reader(io.StringIO(text, newline=""))))


def _decoded(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidTestSet(
            f"The file is not UTF-8 text (byte {exc.start} cannot be read): save it as 'CSV UTF-8' or UTF-8 JSONL.",
            key="eval_encoding", offset=exc.start) from None


def _jsonl(text: str) -> list[Item]:
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InvalidTestSet(f"Line {number} is not JSON: {exc}.", key="eval_bad_json", row=number) from None
        if not isinstance(row, dict):
            raise InvalidTestSet(f"Line {number} is not a JSON object.", key="eval_bad_json", row=number)
        if not isinstance(row.get("id"), str):
            row.pop("id", None)
        row.pop("lang", None)  # the shared eval sets carry it; the run finds the language itself
        row.pop("context_id", None)
        items.append(Item.checked(number, **row))
        _check_count(len(items))
    return _none_empty(items)


def _xlsx_rows(path: Path) -> list[list[object]]:
    from openpyxl import load_workbook

    with open(path, "rb") as handle:  # a file object: openpyxl refuses a path without .xlsx (an upload's)
        try:
            book = load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # a renamed or broken file: openpyxl raises zipfile and XML errors alike
            raise InvalidTestSet(f"The file cannot be read as an Excel workbook ({type(exc).__name__}).",
                                 key="eval_bad_xlsx") from None
        try:
            rows = []
            for row in book.worksheets[0].iter_rows(values_only=True):
                rows.append(list(row))
                _check_count(len(rows) - 1)
            return rows
        finally:
            book.close()


def _checked_rows(rows: list[list[object]]) -> list[Item]:
    """Items from a table whose first row names the columns."""
    rows = [row for row in rows if any(_text(cell) for cell in row)]
    if not rows:
        raise InvalidTestSet("The file is empty.", key="eval_empty")
    header = [_ALIASES.get(_text(h), _text(h).lower()) for h in rows[0]]
    missing = [c for c in ("question",) if c not in header]
    if missing or not {"answers", "source"} & set(header):
        raise InvalidTestSet(
            f"The first row must name the columns: 'question' and 'answers' (or 'source'); found {', '.join(map(str, rows[0]))}.",
            key="eval_columns", found=", ".join(_text(h) for h in rows[0]))
    _check_count(len(rows) - 1)
    wanted = {name: header.index(name) for name in COLUMNS if name in header}
    items = []
    for number, row in enumerate(rows[1:], 2):
        values = {name: row[i] if i < len(row) else None for name, i in wanted.items()}
        items.append(Item.checked(number, **values))
    return _none_empty(items)


def _check_count(count: int) -> None:
    if count > MAX_ITEMS:
        raise InvalidTestSet(f"A test set holds at most {MAX_ITEMS:,} questions; split the file.",
                             key="eval_too_many", limit=MAX_ITEMS)


def _none_empty(items: list[Item]) -> list[Item]:
    if not items:
        raise InvalidTestSet("The file holds no questions.", key="eval_empty")
    return items


# --- writing files ------------------------------------------------------------------------


def to_jsonl(items: list[Item]) -> str:
    return "".join(json.dumps(asdict(item), ensure_ascii=False) + "\n" for item in items)


def to_csv(items: list[Item]) -> str:
    """With a byte-order mark, so that Excel opens it as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for item in items:
        writer.writerow([item.question, ANSWER_SEPARATOR.join(item.answers), item.source, "yes" if item.unanswerable else ""])
    return "\ufeff" + out.getvalue()


# --- the stored test set ------------------------------------------------------------------


class TestSet:
    """The test set of one knowledge base, in `folder` (its evaluation folder). Every change is written whole."""

    __test__ = False  # not a pytest class

    def __init__(self, folder: Path, seed: Path | None = None):
        """seed: a JSONL file whose questions are the test set until one is saved (the demo's shipped set)."""
        self.path = folder / "testset.json"
        self.seed = seed

    def items(self) -> list[Item]:
        if not self.path.is_file():
            if not (self.seed and self.seed.is_file()):
                return []
            # ids that stay the same from one read to the next, until the set is saved with them
            return [copy_with(item, id=f"shipped-{n}") for n, item in enumerate(read_file(self.seed), 1)]
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return [Item(**row) for row in data["items"]]

    def replace(self, items: list[Item]) -> list[Item]:
        _check_count(len(items))
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise InvalidTestSet("Two questions of the test set have the same id.", key="eval_duplicate_id")
        atomic_write(self.path, json.dumps({"items": [asdict(i) for i in items]}, ensure_ascii=False, indent=1))
        return items

    def add(self, items: list[Item]) -> list[Item]:
        return self.replace(self.items() + items)

    def update(self, item_id: str, **values: object) -> Item:
        items = self.items()
        index = self._index(items, item_id)
        merged = {**asdict(items[index]), **values, "id": item_id}
        items[index] = Item.checked(index + 1, **merged)
        self.replace(items)
        return items[index]

    def delete(self, item_ids: list[str]) -> int:
        items = self.items()
        for item_id in item_ids:
            self._index(items, item_id)
        kept = [item for item in items if item.id not in set(item_ids)]
        self.replace(kept)
        return len(items) - len(kept)

    def import_file(self, path: Path, name: str | None = None, replace: bool = False) -> list[Item]:
        """Read a file and add its questions (or, with `replace`, make them the test set)."""
        read = read_file(path, name)
        return self.replace(read) if replace else self.add(read)

    @staticmethod
    def _index(items: list[Item], item_id: str) -> int:
        for index, item in enumerate(items):
            if item.id == item_id:
                return index
        raise NotFound(f"No question with id '{item_id}' in the test set.", key="eval_no_item", id=item_id)
