"""Build bench/followup_pairs.jsonl, a small follow-up dev set derived from ../shared/eval: two questions of
one article that both name the article's subject; the conversation is the first question and its gold
answer, and the follow-up is the second question with the subject replaced by a pronoun ("it", "它").
The second question as written is the reference rewrite.

    python bench/make_followups.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

SHARED_EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
OUT = Path(__file__).resolve().parent / "followup_pairs.jsonl"
PER_SET = {"xquad-en-a": 20, "cmrc2018-trial": 20}
PER_ARTICLE = 2


def pronoun(question: str, subject: str, lang: str) -> str | None:
    if lang == "zh":
        return question.replace(subject, "它", 1) if subject in question else None
    pattern = re.compile(rf"(?i)\b(the |an |a )?{re.escape(subject)}('s|’s)?\b")
    match = pattern.search(question)
    if not match or re.search(r"[A-Z]\w* $", question[: match.start()]) or re.match(r" [A-Z]", question[match.end():]):
        return None  # part of a longer name ("Polonia Warsaw", "Super Bowl 50 National Anthem")
    plural = subject.endswith("s") and not subject.endswith("ss")
    word = ("their" if plural else "its") if match.group(2) else ("them" if plural else "it")
    if match.start() == 0:
        word = word.capitalize()
    return question[: match.start()] + word + question[match.end():]


def pairs_of(name: str, limit: int) -> list[dict]:
    titles = {}
    for line in (SHARED_EVAL / f"{name}.contexts.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        titles[row["context_id"]] = row["title"]
    by_title: dict[str, list[dict]] = {}
    for line in (SHARED_EVAL / f"{name}.questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        subject = titles[q["context_id"]].replace("_", " ")
        if q["question"].strip() and subject.lower() in q["question"].lower():
            by_title.setdefault(subject, []).append(q)
    out: list[dict] = []
    for subject, questions in by_title.items():
        first = questions[0]
        for second in questions[1 : 1 + PER_ARTICLE]:
            followup = pronoun(second["question"], subject, second["lang"])
            if followup and followup != second["question"] and len(out) < limit:
                out.append({"set": name, "article": subject, "context_id": second["context_id"], "id": second["id"],
                            "lang": second["lang"], "question": first["question"], "answer": first["answers"][0],
                            "followup": followup, "reference": second["question"], "answers": second["answers"]})
    return out


def main() -> None:
    rows = [row for name, limit in PER_SET.items() for row in pairs_of(name, limit)]
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} pairs -> {OUT}")


if __name__ == "__main__":
    main()
