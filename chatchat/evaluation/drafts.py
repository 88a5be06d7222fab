"""Draft test questions: the chat model reads sampled chunks and writes a question each chunk answers, in
the chunk's language. The drafts are marked `draft` for the user to keep or drop.

An answer is kept only where it is copied from the chunk (else the draft is judged by its source alone);
a model under WEAK_BELOW_B billion parameters (the demo model) writes weak drafts, and the caller says so.
"""

from __future__ import annotations

import random
import re
import threading
from typing import TYPE_CHECKING

from chatchat.answer.prompts import detect_language
from chatchat.evaluation.judge import normal
from chatchat.evaluation.testset import Item

if TYPE_CHECKING:
    from chatchat.retrieval.chunks import Hit
    from chatchat.service import Services

WEAK_BELOW_B = 1.0
MIN_CHUNK_CHARS = 80
MAX_DRAFTS = 50
PROMPTS = {
    "en": "Read the passage and write one question that it answers, and the answer: a short phrase copied "
          "from the passage. Reply with two lines only:\nQ: <question>\nA: <answer>\n\nPassage:\n{text}",
    "zh": "阅读下面的段落，写出一个能用它回答的问题，以及答案（从段落中原样摘出的短语）。只回复两行：\n"
          "问：<问题>\n答：<答案>\n\n段落：\n{text}",
}
_QUESTION = re.compile(r"^\s*(?:Q|Question|问题?)\s*[:：]\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_ANSWER = re.compile(r"^\s*(?:A|Answer|答案?)\s*[:：]\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def is_weak(services: Services, model: str | None = None) -> bool:
    """The model is too small to write good test questions (the demo model that ships with the app)."""
    entry = services.llms.resolve(model or services.settings.default_llm).entry
    return bool(entry and entry.params_b and entry.params_b < WEAK_BELOW_B)


def sample_chunks(services: Services, kb: str, count: int, seed: int = 0) -> list[Hit]:
    """`count` chunks spread over the documents (one document after another, a random chunk of each)."""
    rng = random.Random(seed)
    pools = []
    for doc in services.documents(kb):
        if doc.status == "ready":
            chunks = [c for c in services.chunks(kb, doc.file) if len(c.text.strip()) >= MIN_CHUNK_CHARS]
            rng.shuffle(chunks)
            if chunks:
                pools.append(chunks)
    rng.shuffle(pools)
    picked: list[Hit] = []
    while len(picked) < count and any(pools):
        for pool in pools:
            if pool and len(picked) < count:
                picked.append(pool.pop())
    return picked


def parse_draft(reply: str, chunk: Hit) -> Item | None:
    question, answer = _QUESTION.search(reply), _ANSWER.search(reply)
    if not question:
        return None
    answer_text = answer.group(1).strip().strip("\"'“”。.") if answer else ""
    copied = bool(answer_text) and normal(answer_text) in normal(chunk.text)
    return Item(question=question.group(1).strip(), answers=[answer_text] if copied else [], source=chunk.file, draft=True)


def draft_questions(services: Services, kb: str, count: int = 5, model: str | None = None, seed: int = 0,
                    cancel: threading.Event | None = None) -> list[Item]:
    """Up to `count` draft items (a chunk whose reply holds no question gives none). Not stored: the caller
    adds the ones the user keeps."""
    count = max(1, min(count, MAX_DRAFTS))
    llm = services.llms.get(model)
    drafts = []
    for chunk in sample_chunks(services, kb, count, seed):
        if cancel is not None and cancel.is_set():
            break
        language = "zh" if detect_language(chunk.text) == "zh" else "en"
        prompt = PROMPTS[language].format(text=chunk.text[:1500])
        reply = "".join(llm.chat([{"role": "user", "content": prompt}], temperature=0.0, max_tokens=160, cancel=cancel))
        item = parse_draft(reply, chunk)
        if item is not None:
            drafts.append(item)
    return drafts
