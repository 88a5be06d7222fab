"""UI strings of citations, the source viewer and answer feedback: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
    "cite.by_app": (
        "Matched by the app: the model did not cite this itself; the app found this sentence in the passage.",
        "由应用匹配：模型本身没有标注出处，是应用在该段落中找到了这句话。",
    ),
    "source.open": ("Open this source", "查看此出处"),
    "viewer.original": ("⤓ Download original", "⤓ 下载原文件"),
    "viewer.close": ("✕ Close", "✕ 关闭"),
    "viewer.open": ("Open the original", "打开原文件"),
    "viewer.open_page": ("Open the original at page {page}", "在第 {page} 页打开原文件"),
    "viewer.page_alt": ("Page {page} of {file}, the cited passage highlighted", "{file} 第 {page} 页，引用的段落已高亮"),
    "viewer.passage_title": ("The cited passage of {file} in its context", "{file} 中被引用的段落及其上下文"),
    "viewer.note.start": (
        "The passage goes on on the next page: highlighted from its start to the end of this page.",
        "该段落延续到下一页：已高亮从开头到本页末尾的部分。",
    ),
    "viewer.note.partial": (
        "Only part of the passage is highlighted: the rest was read from a picture (OCR), whose position is not kept.",
        "只高亮了段落的一部分：其余内容来自图片文字识别（OCR），没有保存位置。",
    ),
    "viewer.note.scanned": (
        "This page is a scan: its text was read by OCR, so the passage cannot be highlighted.",
        "这一页是扫描件：文字由 OCR 识别，无法高亮段落。",
    ),
    "viewer.note.not_found": (
        "The passage was not found in this page's text layer: it is shown without a highlight.",
        "在本页的文字层中没有找到该段落：页面未高亮显示。",
    ),
    "feedback.ask": ("Was this answer helpful? Rate it with 👍 or 👎 under the answer.", "这个回答有帮助吗？请点击回答下方的 👍 或 👎。"),
    "feedback.saved_up": ("👍 Saved. Tell us why (optional):", "👍 已保存。可以说说原因（可选）："),
    "feedback.saved_down": ("👎 Saved. What was wrong? (optional)", "👎 已保存。哪里不对？（可选）"),
    "feedback.reason": ("Reason", "原因"),
    "feedback.reason_hint": ("e.g. the source does not say this; the answer is incomplete", "例如：出处里没有这个说法；回答不完整"),
    "feedback.save": ("Save reason", "保存原因"),
    "feedback.close": ("Close", "关闭"),
    "feedback.thanks": ("Thank you: the reason is saved with the answer.", "谢谢：原因已与回答一起保存。"),
    "feedback.thumb_first": ("Rate the answer with 👍 or 👎 first.", "请先用 👍 或 👎 评价这个回答。"),
    "feedback.not_an_answer": ("That is a question, not an answer: only answers are rated.", "这是提问而不是回答：只能评价回答。"),
    "testset.expected": ("Expected answer", "期望的答案"),
    "testset.expected_info": (
        "Text a right answer contains (edit it down to the key fact); the question and its source join the "
        "knowledge base's test set.",
        "正确答案应包含的文字（可删减为关键事实）；问题及其出处会加入该知识库的测试集。",
    ),
    "testset.add": ("Add to test set", "加入测试集"),
    "testset.added": ("Added to the test set of knowledge base '{kb}'.", "已加入知识库“{kb}”的测试集。"),
    "testset.no_kb": (
        "Only an answer from one of your knowledge bases can join a test set.",
        "只有来自你自己的知识库的回答才能加入测试集。",
    ),
}
