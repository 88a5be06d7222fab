"""The evaluation test bench (issue 15): test sets read from real files, runs against real knowledge bases built
from ../shared/eval and ../shared/docs, their figures checked against a count made here, and the refusals."""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from pathlib import Path

import pytest
from openpyxl import Workbook

from chatchat.cli import main as cli_main
from chatchat.config import load_settings
from chatchat.errors import Cancelled
from chatchat.evaluation import drafts, runs, testset, trials
from chatchat.evaluation.judge import Judge
from chatchat.evaluation.testset import InvalidTestSet, Item, TestSet
from chatchat.resources import shipped
from chatchat.service import Services
from chatchat.ui.i18n import error_text

from conftest import SAMPLES, SHARED

EVAL = SHARED / "eval"
ARTICLES = 4  # of xquad-en-a: the first three are ingested, the fourth is "not in the knowledge base"


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).casefold())


def _xquad() -> tuple[dict[str, list[str]], list[dict]]:
    articles: dict[str, list[str]] = {}
    for line in (EVAL / "xquad-en-a.contexts.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["title"] in articles or len(articles) < ARTICLES:
            articles.setdefault(row["title"], []).append(row["text"])
    titles = list(articles)
    questions = []
    for line in (EVAL / "xquad-en-a.questions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        title = next((t for t in titles if row["context_id"].startswith(f"xquad-en-a:{t}:")), None)
        if title is not None:
            questions.append({**row, "title": title})
    return articles, questions


@pytest.fixture(scope="module")
def xquad(tmp_path_factory) -> tuple[Services, list[Item]]:
    """A knowledge base of three xquad-en-a articles; its questions (every 3rd) and those of the fourth
    article, marked unanswerable."""
    home = tmp_path_factory.mktemp("eval-home")
    services = Services.open(load_settings(home=home))
    articles, questions = _xquad()
    folder = home / "docs"
    folder.mkdir()
    paths = []
    for title, passages in list(articles.items())[: ARTICLES - 1]:
        paths.append(folder / f"{title}.txt")
        paths[-1].write_text("\n\n".join(passages), encoding="utf-8")
    services.create_kb("xquad")
    assert all(r.status == "added" for r in services.add_files("xquad", paths))
    held_out = list(articles)[-1]
    items = [Item(question=q["question"], answers=q["answers"], unanswerable=q["title"] == held_out,
                  source="" if q["title"] == held_out else f"{q['title']}.txt") for q in questions[::3]]
    return services, items


def test_a_runs_figures_match_a_count_made_here(xquad) -> None:
    services, items = xquad
    record = runs.run(services, "xquad", items)
    summary = record.summary
    answerable = [i for i in items if not i.unanswerable]
    unanswerable = [i for i in items if i.unanswerable]
    assert summary["n"] == len(items) and summary["answerable"] == len(answerable) > 20 and len(unanswerable) > 5

    ranks, false_refusals, refusals = [], 0, 0
    for item in items:
        hits = services.search("xquad", item.question, top_k=10)
        chat_hits = services.search("xquad", item.question, top_k=services.settings.top_k)
        refused = not chat_hits or not services.kb_covers(item.question, chat_hits)
        if item.unanswerable:
            refusals += refused
            continue
        false_refusals += refused
        ranks.append(next((rank for rank, hit in enumerate(hits, 1) if hit.file == item.source
                           and any(_norm(a) in _norm(hit.text) for a in item.answers)), None))
    n = len(answerable)
    for k in (1, 3, 5, 10):
        assert summary[f"hit_at_{k}"] == round(sum(1 for r in ranks if r and r <= k) / n, 4), k
    assert summary["mrr"] == round(sum(1 / r for r in ranks if r) / n, 4)
    assert summary["refusal_rate"] == round(refusals / len(unanswerable), 4)
    assert summary["false_refusal_rate"] == round(false_refusals / n, 4)
    assert 0.5 < summary["hit_at_5"] <= 1 and summary["hit_at_1"] <= summary["hit_at_3"] <= summary["hit_at_5"]

    # per question: what was retrieved, ranked, and whether it answered
    first = record.results[0]
    assert len(first["retrieved"]) == 10 and {"file", "score", "hit", "text"} <= set(first["retrieved"][0])
    assert first["rank"] == next((i for i, r in enumerate(first["retrieved"], 1) if r["hit"]), None)
    stored = runs.get_run(services, "xquad", record.id)
    assert stored.summary == summary and stored.settings["embedding"] == services.kb_info("xquad").embedding
    assert {"chunk_size", "chunk_overlap", "mode", "fusion", "reranker", "threshold", "top_k"} <= set(stored.settings)


def test_runs_compare_side_by_side_and_a_trial_leaves_the_knowledge_base_alone(xquad) -> None:
    services, items = xquad
    before = services.kb_info("xquad")
    chunks_before = sum(d.chunks for d in services.documents("xquad"))
    plain = runs.run(services, "xquad", items[:12], runs.RunOptions(top_k=5, mode="fulltext"))
    trial = trials.try_settings(services, "xquad", items[:12], runs.RunOptions(top_k=5),
                                trials.Rebuild(chunk_size=200, chunk_overlap=20))
    assert trial.trial and trial.kb == "xquad" and trial.settings["chunk_size"] == 200
    assert services.kb_info("xquad") == before and sum(d.chunks for d in services.documents("xquad")) == chunks_before
    assert not [info for info in services.store.list() if info.name.startswith("_eval-")]  # the copy is gone
    rows = runs.compare([plain, trial])
    assert rows[0]["mode"] == "fulltext" and rows[1]["mode"] == "hybrid"
    assert set(rows[1]["changed"]) >= {"mode", "chunk_size", "chunk_overlap"} and rows[0]["changed"] == []
    listed = runs.list_runs(services, "xquad")
    assert [r.id for r in listed][-2:] == [plain.id, trial.id] and [r.created for r in listed] == sorted(r.created for r in listed)


def test_a_trial_copy_left_by_a_crash_is_dropped(xquad) -> None:
    services, _ = xquad
    services.create_kb("_eval-left", owner=trials.TRIAL_OWNER + "xquad")
    kb_json = services.settings.kb_dir / "_eval-left" / "kb.json"
    info = json.loads(kb_json.read_text(encoding="utf-8"))
    kb_json.write_text(json.dumps({**info, "created": "2020-01-01T00:00:00+00:00"}), encoding="utf-8")
    services.create_kb("_eval-running", owner=trials.TRIAL_OWNER + "xquad")  # a trial under way: young
    assert trials.drop_leftovers(services) == ["_eval-left"]
    assert services.store.exists("_eval-running") and not services.store.exists("_eval-left")
    services.delete_kb("_eval-running")


def test_cancel_keeps_what_was_measured(xquad) -> None:
    services, items = xquad
    cancel = threading.Event()
    seen = []

    def progress(step: runs.Progress) -> None:
        seen.append(step.done)
        if step.done == 3:
            cancel.set()

    record = runs.run(services, "xquad", items, progress=progress, cancel=cancel)
    assert record.status == "cancelled" and record.summary["n"] == 4 and seen[:4] == [0, 1, 2, 3]
    with pytest.raises(Cancelled):
        stop = threading.Event()
        stop.set()
        trials.try_settings(services, "xquad", items, runs.RunOptions(), trials.Rebuild(chunk_size=300), cancel=stop)
    assert not [info for info in services.store.list() if info.name.startswith("_eval-")]


def test_a_run_while_files_are_ingested_is_refused(services) -> None:
    services.create_kb("growing")
    services.add_files("growing", [SAMPLES / "大模型推理优化策略.md"])
    items = [Item(question="什么是 PagedAttention？", answers=["PagedAttention"])]
    refused: list[Exception] = []

    def during_ingest(step) -> None:  # the ingest job reports from inside its write
        if step.stage in ("embed", "store") and not refused:
            try:
                runs.run(services, "growing", items)
            except runs.KBBusy as exc:
                refused.append(exc)

    results = services.add_files("growing", [SAMPLES / "分布式训练技术原理.md"], progress=during_ingest)
    assert results[0].status == "added"
    assert refused and "being changed" in refused[0].message
    assert "正在更新" in error_text(refused[0], "zh")
    assert runs.run(services, "growing", items).summary["hit_at_1"] == 1.0  # once it is done


def test_a_run_between_two_files_of_a_batch_is_refused(services) -> None:
    """Between the files of a batch (the next one parsed, no document 'ingesting' and no write lock held)
    the knowledge base is still being changed."""
    services.create_kb("batch")
    items = [Item(question="什么是 PagedAttention？", answers=["PagedAttention"])]
    outcomes: list[str] = []

    def between_files(step) -> None:
        if step.file_index == 1 and step.stage == "parse" and not outcomes:
            try:
                runs.run(services, "batch", items)
                outcomes.append("ran")
            except runs.KBBusy:
                outcomes.append("refused")

    results = services.add_files("batch", [SAMPLES / "大模型推理优化策略.md", SAMPLES / "分布式训练技术原理.md"],
                                 progress=between_files)
    assert [r.status for r in results] == ["added", "added"] and outcomes == ["refused"]
    assert runs.run(services, "batch", items, save_as="").summary["n"] == 1  # once the batch is done


def test_source_only_questions_and_a_chinese_xlsx(services, tmp_path: Path) -> None:
    services.create_kb("样例")
    files = ["分布式训练技术原理.md", "大模型推理优化策略.md", "大模型指令对齐训练原理.md"]
    services.add_files("样例", [SAMPLES / f for f in files])
    book = Workbook()
    sheet = book.active
    sheet.append(["问题", "答案", "来源", "无答案"])
    sheet.append(["FSDP 是什么技术驱动的？", "ZeroRedundancyOptimizer", "分布式训练技术原理.md", ""])
    sheet.append(["PagedAttention 解决了什么问题", None, "大模型推理优化策略.md", "否"])
    sheet.append(["明天会下雨吗？", None, None, "是"])
    book.save(tmp_path / "集合.xlsx")
    store = runs.testset_of(services, "样例")
    store.import_file(tmp_path / "集合.xlsx")
    items = store.items()
    assert [i.unanswerable for i in items] == [False, False, True] and items[1].answers == []
    record = runs.run(services, "样例", items, runs.RunOptions(top_k=5))
    first, second, third = record.results
    assert first["retrieved"][first["rank"] - 1]["file"] == "分布式训练技术原理.md"
    assert second["rank"] is not None and second["retrieved"][second["rank"] - 1]["file"] == "大模型推理优化策略.md"
    assert third["rank"] is None and record.summary["answerable"] == 2


def test_the_shipped_demo_set_runs_on_the_demo_knowledge_base(services) -> None:
    from chatchat.policy import DEMO_KB
    from chatchat.space import demo_documents

    services.create_kb(DEMO_KB)
    services.add_files(DEMO_KB, demo_documents())
    items = runs.testset_of(services, DEMO_KB).items()  # nothing saved: the shipped set
    shipped_set = testset.read_file(shipped("assets") / "eval" / "demo.jsonl")
    assert [i.question for i in items] == [i.question for i in shipped_set]
    assert items == runs.testset_of(services, DEMO_KB).items()  # the same ids each time: rows can be edited
    runs.testset_of(services, DEMO_KB).update(items[0].id, answers=["CHATCHAT_HOME"])
    assert runs.testset_of(services, DEMO_KB).items()[1:] == items[1:]
    languages = {"zh" if re.search(r"[\u4e00-\u9fff]", i.question) else "en" for i in items}
    assert languages == {"zh", "en"} and sum(i.unanswerable for i in items) >= 4
    summary = runs.run(services, DEMO_KB, items).summary
    assert summary["hit_at_5"] >= 0.9 and summary["refusal_rate"] >= 0.5 and summary["false_refusal_rate"] <= 0.2


def test_end_to_end_answers_with_the_demo_model(services) -> None:
    services.create_kb("guide")
    services.add_files("guide", [Path(shipped("assets")) / "demo" / "Getting started with Chatchat.md"])
    items = [Item(question="Which environment variable moves the data folder?", answers=["CHATCHAT_HOME"],
                  source="Getting started with Chatchat.md"),
             Item(question="How many moons does Jupiter have?", unanswerable=True)]
    record = runs.run(services, "guide", items, runs.RunOptions(top_k=5, answers=True, max_tokens=48))
    answered, refused = record.results
    assert answered["answer"] and answered["seconds"] > 0 and isinstance(answered["answer_ok"], bool)
    assert answered["cited"] == ["Getting started with Chatchat.md"] and answered["cited_ok"] is True
    assert refused["answer_ok"] is None and refused["refused"]
    assert record.summary["latency_p50_s"] > 0 and record.summary["answer_errors"] == 0
    assert record.summary["cited_rate"] == 1.0


def test_drafts_come_from_sampled_chunks_marked_as_drafts(services) -> None:
    services.create_kb("drafts")
    services.add_files("drafts", [Path(shipped("assets")) / "demo" / "FAQ 常见问题.md"])
    assert drafts.is_weak(services)  # the demo model: the UI says its drafts will be weak
    made = drafts.draft_questions(services, "drafts", count=3)  # greedy decoding: the same drafts each time
    assert made and all(item.draft and item.question and item.source == "FAQ 常见问题.md" for item in made)
    chunk = next(c for c in services.chunks("drafts", "FAQ 常见问题.md") if "first installation" in c.text)
    english = drafts.parse_draft("Q: Does Chatchat need the internet?\nA: Only for the first installation.", chunk)
    assert english.question == "Does Chatchat need the internet?" and english.answers == ["Only for the first installation"]
    chinese = drafts.parse_draft("问题：Chatchat 需要联网吗？\n答案：月球上的城市", chunk)  # not copied from the chunk
    assert chinese.question == "Chatchat 需要联网吗？" and chinese.answers == [] and chinese.draft
    assert drafts.parse_draft("I cannot help with that.", chunk) is None


def test_the_cli_prints_the_summary(services, capsys) -> None:
    services.create_kb("cli")
    services.add_files("cli", [Path(shipped("assets")) / "demo" / "Getting started with Chatchat.md"])
    demo = shipped("assets") / "eval" / "demo.jsonl"
    code = cli_main(["--home", str(services.settings.home), "kb", "eval", "cli", str(demo), "--top-k", "5", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"hit_at_1", "hit_at_5", "mrr", "refusal_rate", "false_refusal_rate", "n"} <= set(summary)
    assert summary["n"] == len(testset.read_file(demo)) and summary["settings"]["top_k"] == 5


# --- test sets ------------------------------------------------------------------------------


def _raises(path: Path, key: str, *words: str) -> InvalidTestSet:
    with pytest.raises(InvalidTestSet) as caught:
        testset.read_file(path)
    assert caught.value.key == key
    for word in words:
        assert word in caught.value.message
    assert re.search(r"[\u4e00-\u9fff]", error_text(caught.value, "zh"))
    return caught.value


def test_malformed_files_give_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "cols.csv").write_text("query,answer\nwhat?,x\n", encoding="utf-8")
    _raises(tmp_path / "cols.csv", "eval_columns", "'question'", "query, answer")
    (tmp_path / "empty_q.csv").write_text("question,answers\nfine?,a\n  ,b\n", encoding="utf-8")
    assert _raises(tmp_path / "empty_q.csv", "eval_empty_question", "Row 3").params == {"row": 3}
    (tmp_path / "gbk.csv").write_bytes("question,answers\n年假有几天？,五天\n".encode("gbk"))
    _raises(tmp_path / "gbk.csv", "eval_encoding", "UTF-8")
    rows = "".join(f"question {i}?,answer {i}\n" for i in range(testset.MAX_ITEMS + 1))
    (tmp_path / "big.csv").write_text("question,answers\n" + rows, encoding="utf-8")
    _raises(tmp_path / "big.csv", "eval_too_many", "10,000")
    (tmp_path / "bad.jsonl").write_text('{"question": "ok?", "answers": ["a"]}\n{"question": \n', encoding="utf-8")
    _raises(tmp_path / "bad.jsonl", "eval_bad_json", "Line 2")
    (tmp_path / "nothing.jsonl").write_text('{"question": "what is expected?"}\n', encoding="utf-8")
    _raises(tmp_path / "nothing.jsonl", "eval_nothing_expected", "Row 1")
    (tmp_path / "flag.csv").write_text("question,answers,unanswerable\nq?,a,maybe\n", encoding="utf-8")
    _raises(tmp_path / "flag.csv", "eval_bad_flag", "maybe")
    (tmp_path / "fake.xlsx").write_text("not a workbook", encoding="utf-8")
    _raises(tmp_path / "fake.xlsx", "eval_bad_xlsx")
    (tmp_path / "set.txt").write_text("question\n", encoding="utf-8")
    _raises(tmp_path / "set.txt", "eval_format", ".txt")
    (tmp_path / "blank.csv").write_text("\n\n", encoding="utf-8")
    _raises(tmp_path / "blank.csv", "eval_empty")
    exactly = "".join(f"question {i}?,answer {i}\n" for i in range(testset.MAX_ITEMS))
    (tmp_path / "limit.csv").write_text("question,answers\n" + exactly, encoding="utf-8")
    assert len(testset.read_file(tmp_path / "limit.csv")) == testset.MAX_ITEMS


def test_the_shared_eval_sets_read_as_they_are() -> None:
    lines = (EVAL / "xquad-zh-a.questions.jsonl").read_text(encoding="utf-8").splitlines()
    read = testset.read_file(EVAL / "xquad-zh-a.questions.jsonl")
    assert len(read) == len(lines) == 632 and read[0].question == json.loads(lines[0])["question"] and read[0].answers
    # cmrc2018-trial holds two empty questions: the first is named by its line
    empty = next(n for n, line in enumerate((EVAL / "cmrc2018-trial.questions.jsonl").read_text(encoding="utf-8")
                                            .splitlines(), 1) if not json.loads(line)["question"].strip())
    assert _raises(EVAL / "cmrc2018-trial.questions.jsonl", "eval_empty_question").params == {"row": empty}


def test_edit_export_and_import_round_trip(tmp_path: Path) -> None:
    store = TestSet(tmp_path / "evaluation")
    store.add([Item(question="年假有几天？", answers=["五天", "5 天"], source="员工手册.docx"),
               Item(question="What is the moon made of?", unanswerable=True)])
    first, second = store.items()
    store.update(first.id, answers=["五个工作日"])
    assert store.items()[0].answers == ["五个工作日"] and store.items()[0].question == "年假有几天？"
    with pytest.raises(InvalidTestSet):
        store.update(first.id, question="  ")
    (tmp_path / "out.csv").write_text(testset.to_csv(store.items()), encoding="utf-8")
    again = testset.read_file(tmp_path / "out.csv")
    assert [(i.question, i.answers, i.source, i.unanswerable) for i in again] == \
        [(i.question, i.answers, i.source, i.unanswerable) for i in store.items()]
    (tmp_path / "out.jsonl").write_text(testset.to_jsonl(store.items()), encoding="utf-8")
    assert testset.read_file(tmp_path / "out.jsonl") == store.items()
    assert store.delete([second.id]) == 1 and len(store.items()) == 1
    csv_answers = tmp_path / "pipes.csv"
    csv_answers.write_text("question,answers\n多少钱？,100 元|一百元\n", encoding="utf-8-sig")
    assert testset.read_file(csv_answers)[0].answers == ["100 元", "一百元"]


def test_judge_counts_an_answer_from_its_passage_only() -> None:
    passage = "Josh Norman intercepted four balls that season."
    item = Item(question="How many balls did Josh Norman intercept?", answers=["four"], context=passage)
    judge = Judge(item)
    assert judge.chunk("Josh Norman intercepted FOUR balls that season, more than ever.", "a.txt")
    assert not judge.chunk("The team had four Pro Bowl selections.", "a.txt")  # "four", from another passage
    assert Judge(Item(question="年份？", answers=["2015"])).chunk("那是２０１５年。", "b.txt")  # full-width digits
    assert not Judge(Item(question="q", answers=["x"], source="docs/a.md")).chunk("x", "b.md")
    assert Judge(Item(question="q", answers=["x"], source="a.md")).chunk("x", "docs/a.md")
