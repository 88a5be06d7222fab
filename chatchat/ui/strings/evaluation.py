"""UI strings of the knowledge-base evaluation panel: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
    "eval.tab": ("Evaluate", "评测"),
    "eval.kb": ("Knowledge base", "知识库"),
    "eval.intro": (
        "Measure how well this knowledge base finds the answers: a **test set** of questions with the answers "
        "they expect, a **run** that searches each one as the chat does, and **runs side by side** to compare "
        "settings. Mark questions whose answer is not in the knowledge base: a good run refuses them.",
        "衡量这个知识库能否找到答案：**测试集**列出问题及期望的答案，**评测**像对话一样逐个检索，"
        "**并排比较**不同设置下的结果。答案不在知识库中的问题请勾选“不在知识库中”：好的检索应当拒答。",
    ),
    "eval.testset": ("Test set", "测试集"),
    "eval.testset_count": ("{n} questions ({drafts} drafts: left out of runs until kept)",
                           "共 {n} 个问题（其中草稿 {drafts} 个：保留后才参与评测）"),
    "eval.col_question": ("Question", "问题"),
    "eval.col_answers": ("Expected answers", "期望答案"),
    "eval.col_source": ("Source", "来源"),
    "eval.col_unanswerable": ("Not in KB", "不在知识库中"),
    "eval.col_draft": ("Draft", "草稿"),
    "eval.col_rank": ("Rank", "排名"),
    "eval.col_refused": ("Refused", "拒答"),
    "eval.col_top": ("Top hit", "首个结果"),
    "eval.col_answer": ("Answer", "回答"),
    "eval.col_run": ("Run", "评测"),
    "eval.col_metric": ("Figure", "指标"),
    "eval.col_value": ("Value", "数值"),
    "eval.question": ("Question", "问题"),
    "eval.answers": ("Expected answers (several: separate with |)", "期望答案（多个用 | 分隔）"),
    "eval.source": ("Expected source document (optional)", "期望来源文档（可选）"),
    "eval.unanswerable": ("Not in the knowledge base", "不在知识库中"),
    "eval.pick_row": ("Click a row to edit or delete it.", "点击一行即可编辑或删除。"),
    "eval.row_selected": ("Editing: {question}", "正在编辑：{question}"),
    "eval.add": ("Add question", "添加问题"),
    "eval.save": ("Save changes", "保存修改"),
    "eval.delete": ("Delete question", "删除问题"),
    "eval.keep_drafts": ("Keep drafts", "保留草稿"),
    "eval.drop_drafts": ("Drop drafts", "删除草稿"),
    "eval.import_file": ("Import test set (.jsonl, .csv, .xlsx)", "导入测试集（.jsonl、.csv、.xlsx）"),
    "eval.import_help": (
        "Columns: `question`, `answers` (several separated by `|`), `source`, `unanswerable` (yes/no). "
        "UTF-8, at most 10,000 questions.",
        "列：`question`（问题）、`answers`（答案，多个用 `|` 分隔）、`source`（来源）、`unanswerable`（是/否）。"
        "UTF-8 编码，最多 10,000 个问题。",
    ),
    "eval.replace": ("Replace the test set (else add to it)", "替换现有测试集（否则追加）"),
    "eval.import": ("Import", "导入"),
    "eval.export": ("Export", "导出"),
    "eval.export_format": ("Format", "格式"),
    "eval.imported_msg": ("{n} questions imported.", "已导入 {n} 个问题。"),
    "eval.import_nothing": ("Choose a test set file first.", "请先选择测试集文件。"),
    "eval.draft": ("Draft questions from the documents", "根据文档起草问题"),
    "eval.draft_count": ("How many", "数量"),
    "eval.draft_weak": (
        "The chat model is the small demo model: its drafts will be weak. Download a larger model in the Models "
        "tab for better ones, and check each draft before keeping it.",
        "当前对话模型是随附的小型演示模型，起草的问题质量会较差。可在“模型”页下载更大的模型；保留前请逐条检查。",
    ),
    "eval.drafted_msg": ("{n} draft questions added: keep or drop them.", "已添加 {n} 个草稿问题：请决定保留或删除。"),
    "eval.drafts_kept": ("{n} drafts kept.", "已保留 {n} 个草稿。"),
    "eval.drafts_dropped": ("{n} drafts dropped.", "已删除 {n} 个草稿。"),
    "eval.saved_msg": ("Saved.", "已保存。"),
    "eval.deleted_msg": ("Question deleted.", "已删除该问题。"),
    "eval.pick_first": ("Click a question in the table first.", "请先在表格中点击一个问题。"),
    "eval.no_kb": ("Pick a knowledge base first.", "请先选择一个知识库。"),
    "eval.run_title": ("Run", "评测"),
    "eval.top_k": ("Chunks ranked per question", "每个问题排序的片段数"),
    "eval.with_answers": ("Also ask the chat model (slower)", "同时让对话模型回答（较慢）"),
    "eval.run": ("Run evaluation", "开始评测"),
    "eval.cancel": ("Cancel", "取消"),
    "eval.progress": ("{done}/{total} questions", "{done}/{total} 个问题"),
    "eval.building": ("Building the temporary copy: {done}/{total} files", "正在构建临时副本：{done}/{total} 个文件"),
    "eval.cancelled_msg": ("Cancelled: the figures cover the questions asked so far.", "已取消：结果只包含已评测的问题。"),
    "eval.summary": (
        "**{n} questions** ({answerable} answerable, {unanswerable} not in the knowledge base) · "
        "hit@1 **{hit_at_1}** · hit@3 **{hit_at_3}** · hit@5 **{hit_at_5}** · MRR **{mrr}** · "
        "refused when not in KB **{refusal_rate}** · refused wrongly **{false_refusal_rate}**",
        "**{n} 个问题**（可回答 {answerable} 个，不在知识库中 {unanswerable} 个）· "
        "hit@1 **{hit_at_1}** · hit@3 **{hit_at_3}** · hit@5 **{hit_at_5}** · MRR **{mrr}** · "
        "不在知识库时拒答 **{refusal_rate}** · 误拒 **{false_refusal_rate}**",
    ),
    "eval.summary_answers": (
        " · answers containing an expected answer **{answer_rate}** · citing the expected source **{cited_rate}** · "
        "median latency **{latency_p50_s} s**",
        " · 回答包含期望答案 **{answer_rate}** · 引用了期望来源 **{cited_rate}** · 延迟中位数 **{latency_p50_s} 秒**",
    ),
    "eval.results": ("Results per question", "逐题结果"),
    "eval.runs": ("Runs side by side", "评测并排比较"),
    "eval.chart": ("hit@k of each run", "各次评测的 hit@k"),
    "eval.no_runs": ("No runs yet: run the evaluation above.", "还没有评测：请先运行上面的评测。"),
    "eval.trial_label": ("trial", "试用设置"),
    "eval.try": ("Try these settings", "试用这些设置"),
    "eval.try_note": (
        "Runs the test set with these settings **without touching the knowledge base**. Search settings apply "
        "directly; another chunk size, overlap or embedding model is built into a temporary copy, which is "
        "deleted after the run. The knowledge base changes only when you apply the settings (Rebuild, or "
        "Settings for the search ones).",
        "用这些设置运行测试集，**不会改动知识库**。检索设置直接生效；更换分块大小、重叠或嵌入模型时，"
        "会用新设置构建一个临时副本，评测结束后即删除。只有在你应用这些设置后（重建知识库，或在“设置”页修改检索设置），"
        "知识库才会改变。",
    ),
    "eval.mode": ("Search mode", "检索方式"),
    "eval.threshold": ("Minimum similarity", "最低相似度"),
    "eval.gate": ("Relevance gate", "相关性门槛"),
    "eval.rerank": ("Use the reranker (when installed)", "使用重排序模型（如已安装）"),
    "eval.chunk_size": ("Chunk size", "分块大小"),
    "eval.chunk_overlap": ("Chunk overlap", "分块重叠"),
    "eval.embedding": ("Embedding model", "嵌入模型"),
    "eval.try_btn": ("Run with these settings", "用这些设置评测"),
    # errors raised by chatchat.evaluation (error.<key>)
    "error.eval_unknown_field": ("Row {row}: unknown field(s) {names}; use question, answers, source, unanswerable.",
                                 "第 {row} 行：未知字段 {names}；请使用 question、answers、source、unanswerable。"),
    "error.eval_empty_question": ("Row {row}: the question is empty.", "第 {row} 行：问题为空。"),
    "error.eval_long_question": ("Row {row}: the question is longer than {limit} characters.",
                                 "第 {row} 行：问题超过 {limit} 个字符。"),
    "error.eval_bad_answers": ("Row {row}: 'answers' must be a list of strings or text separated by '|'.",
                               "第 {row} 行：answers 应为字符串列表，或用 | 分隔的文本。"),
    "error.eval_nothing_expected": ("Row {row}: give the expected answers or source, or mark the question unanswerable.",
                                    "第 {row} 行：请填写期望答案或来源，或将问题标记为“不在知识库中”。"),
    "error.eval_bad_flag": ("Row {row}: 'unanswerable' must be yes/no, true/false or 1/0 (got '{value}').",
                            "第 {row} 行：unanswerable 应为 是/否、true/false 或 1/0（实际为“{value}”）。"),
    "error.eval_format": ("Test sets are read from .jsonl, .csv and .xlsx files, not '{suffix}'.",
                          "测试集只能从 .jsonl、.csv、.xlsx 文件导入，不支持“{suffix}”。"),
    "error.eval_file_size": ("The test set file is larger than {limit} MB.", "测试集文件超过 {limit} MB。"),
    "error.eval_encoding": (
        "The file is not UTF-8 text (byte {offset} cannot be read): save it as 'CSV UTF-8' or UTF-8 JSONL.",
        "文件不是 UTF-8 编码（第 {offset} 个字节无法读取）：请另存为“CSV UTF-8”或 UTF-8 编码的 JSONL。",
    ),
    "error.eval_bad_json": ("Line {row} is not a valid JSON object.", "第 {row} 行不是有效的 JSON 对象。"),
    "error.eval_bad_xlsx": ("The file cannot be read as an Excel workbook.", "无法按 Excel 工作簿读取该文件。"),
    "error.eval_empty": ("The file holds no questions.", "文件中没有问题。"),
    "error.eval_columns": (
        "The first row must name the columns: 'question' and 'answers' (or 'source'); found {found}.",
        "第一行必须是列名：question 和 answers（或 source）；实际为 {found}。",
    ),
    "error.eval_too_many": ("A test set holds at most {limit} questions; split the file.",
                            "一个测试集最多 {limit} 个问题；请拆分文件。"),
    "error.eval_duplicate_id": ("Two questions of the test set have the same id.", "测试集中有两个问题的 id 相同。"),
    "error.eval_no_item": ("No question with id '{id}' in the test set.", "测试集中没有 id 为“{id}”的问题。"),
    "error.eval_kb_busy": (
        "Knowledge base '{kb}' is being changed (files are being added or removed); run the evaluation when that is done.",
        "知识库“{kb}”正在更新（正在添加或删除文件）；请等更新完成后再评测。",
    ),
    "error.eval_top_k": ("A run ranks 5–100 chunks per question.", "每个问题排序的片段数应为 5–100。"),
    "error.eval_no_questions": ("The test set is empty: import or add questions first.", "测试集为空：请先导入或添加问题。"),
    "error.eval_no_documents": ("Knowledge base '{kb}' has no documents to search yet.", "知识库“{kb}”还没有可检索的文档。"),
    "error.eval_no_run": ("No evaluation run '{run}'.", "没有编号为“{run}”的评测。"),
    "error.eval_cancelled": ("The trial was cancelled while its copy was being built.", "构建临时副本时已取消试用。"),
}
