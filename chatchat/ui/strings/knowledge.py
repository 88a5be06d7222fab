"""UI strings of the Knowledge bases tab: knowledge bases, documents, uploads, ingest progress, search: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
    "kb.select": ("Knowledge base", "知识库"),
    "kb.rebuild": ("Rebuild", "重建"),
    "kb.delete": ("Delete", "删除"),
    "kb.delete_confirm": ("Yes, delete it", "确认删除"),
    "kb.delete_question": (
        "Delete **{name}** with all its documents ({n})? The kept originals go too; this cannot be undone.",
        "删除 **{name}** 及其全部文档（{n} 个）？保存的原始文件也会一并删除，且无法恢复。",
    ),
    "kb.new": ("＋ New knowledge base", "＋ 新建知识库"),
    "kb.name": ("Name", "名称"),
    "kb.name_hint": ("e.g. product-manuals or 产品手册", "例如 产品手册 或 product-manuals"),
    "kb.description": ("Description", "描述"),
    "kb.embedding": ("Embedding model", "嵌入模型"),
    "kb.chunk_size": ("Chunk size (characters)", "分块大小（字符）"),
    "kb.chunk_overlap": ("Chunk overlap", "分块重叠"),
    "kb.create": ("Create", "创建"),
    "kb.created_msg": ("Knowledge base '{name}' created. Add documents to it next.", "已创建知识库「{name}」，接下来添加文档吧。"),
    "kb.deleted_msg": ("Knowledge base '{name}' deleted.", "已删除知识库「{name}」。"),
    "kb.mine": ("My uploads", "我的上传"),
    "kb.space_no_create": (
        "This shared demo does not make new knowledge bases: drop files under Documents and they go to your own.",
        "共享演示中不能新建知识库：在“文档”中拖入文件，它们会进入你自己的知识库。",
    ),
    "kb.pick_first": ("Pick or create a knowledge base first.", "请先选择或新建一个知识库。"),
    "kb.empty": (
        "### No knowledge base yet\n"
        "A knowledge base holds your documents so that answers can quote them.\n\n"
        "1. Open **＋ New knowledge base** on the left, give it a name and click **Create**.\n"
        "2. Drop files or a whole folder here (PDF, Word, PowerPoint, Excel, Markdown, text, HTML, e-mail, images…).\n"
        "3. Ask questions in the **Chat** tab in *Knowledge base* mode.",
        "### 还没有知识库\n"
        "知识库保存你的文档，回答时可以引用其中的内容。\n\n"
        "1. 点开左侧 **＋ 新建知识库**，填写名称后点击 **创建**。\n"
        "2. 把文件或整个文件夹拖到这里（PDF、Word、PowerPoint、Excel、Markdown、文本、HTML、邮件、图片……）。\n"
        "3. 在 **对话** 页选择 *知识库* 模式提问。",
    ),
    "kb.demo": ("Create a demo knowledge base", "一键创建示例知识库"),
    "kb.no_description": ("No description", "暂无描述"),
    "kb.chunking": ("Chunks of {size} characters, {overlap} overlap", "分块 {size} 字符，重叠 {overlap}"),
    "kb.counts": ("{docs} documents, {chunks} chunks", "{docs} 个文档，{chunks} 个分块"),
    "kb.created": ("Created", "创建于"),
    "kb.documents": ("Documents", "文档"),
    "kb.test_search": ("Test search", "检索测试"),
    "upload.files": ("Drop files here", "拖入文件"),
    "upload.folder": ("…or a folder", "……或文件夹"),
    "upload.add": ("Add to knowledge base", "添加到知识库"),
    "upload.cancel": ("Cancel", "取消"),
    "upload.nothing": ("Drop some files or a folder first.", "请先拖入文件或文件夹。"),
    "ingest.batch": ("{done} of {count} files", "已完成 {done}/{count} 个文件"),
    "ingest.chunks": ("{n} chunks", "{n} 个分块"),
    "ingest.summary": ("Upload finished — {parts}", "上传完成——{parts}"),
    "stage.waiting": ("waiting", "等待中"),
    "stage.parse": ("reading", "解析中"),
    "stage.split": ("splitting", "分块中"),
    "stage.embed": ("embedding", "向量化"),
    "stage.store": ("saving", "写入中"),
    "stage.done": ("done", "完成"),
    "stage.added": ("added", "已添加"),
    "stage.replaced": ("replaced", "已更新"),
    "stage.unchanged": ("unchanged", "未变化"),
    "stage.failed": ("failed", "失败"),
    "stage.cancelled": ("cancelled", "已取消"),
    "docs.file": ("File", "文件"),
    "docs.pages": ("Pages", "页数"),
    "docs.chunks": ("Chunks", "分块"),
    "docs.status": ("Status", "状态"),
    "docs.error": ("Error", "错误"),
    "docs.added": ("Added", "添加时间"),
    "docs.pick": ("Click a row of the table to pick a document.", "点击表格中的一行以选择文档。"),
    "docs.selected": ("Selected: **{name}**", "已选择：**{name}**"),
    "docs.view_chunks": ("View chunks", "查看分块"),
    "docs.reingest": ("Re-ingest", "重新入库"),
    "docs.delete": ("Delete document", "删除文档"),
    "docs.deleted_msg": ("'{name}' deleted.", "已删除「{name}」。"),
    "status.ingesting": ("ingesting", "入库中"),
    "status.ready": ("ready", "就绪"),
    "status.failed": ("failed", "失败"),
    "status.deleting": ("deleting", "删除中"),
    "chunks.index": ("#", "#"),
    "chunks.page": ("Page", "页"),
    "chunks.section": ("Section", "章节"),
    "chunks.text": ("Text", "内容"),
    "search.placeholder": ("Type a question to see which passages it finds", "输入问题，查看能检索到哪些段落"),
    "search.go": ("Search", "检索"),
    "search.mode": ("Search mode", "检索方式"),
    "search.mode.hybrid": ("Hybrid", "混合"),
    "search.mode.vector": ("Vector", "向量"),
    "search.mode.fulltext": ("Full text", "全文"),
    "search.none": ("Nothing matched. Lower the score threshold or rephrase.", "没有匹配的段落。可以调低相似度阈值或换个说法。"),
    "upload.skipped": ("skipped {n} hidden or system files", "已跳过 {n} 个隐藏或系统文件"),
    "upload.only_hidden": (
        "Nothing to add: all {n} files are hidden or system files (.DS_Store, .git/…, Thumbs.db).",
        "没有可添加的文件：这 {n} 个文件都是隐藏或系统文件（.DS_Store、.git/…、Thumbs.db）。",
    ),
    "search.relevance": ("relevance", "相关度"),
    "kb.embed_english_only": (
        "**{model}** understands English only: Chinese documents would be found by full-text search alone.",
        "**{model}** 只懂英文：中文文档将只能通过全文检索找到。",
    ),
    "kb.embed_use": (
        "For Chinese, choose **{better}** (installed), which understands Chinese.",
        "中文知识库请选择 **{better}**（已安装），它能理解中文语义。",
    ),
    "kb.embed_download": (
        "No installed embedding model understands Chinese: download **{better}** in the Models tab first.",
        "还没有安装能理解中文的嵌入模型：请先在“模型”页下载 **{better}**。",
    ),
    "kb.chinese_notice": (
        "This knowledge base now holds Chinese documents, but its embedding model **{model}** understands "
        "English only, so they are found by full-text search alone. Rebuild it with **{better}** to find them "
        "by meaning too (the kept originals are read again).",
        "这个知识库里已有中文文档，但它的嵌入模型 **{model}** 只懂英文，中文只能靠全文检索找到。"
        "用 **{better}** 重建后也能按语义检索（会重新读取保存的原始文件）。",
    ),
    "kb.rebuild_with": ("Rebuild with {better}", "用 {better} 重建"),
}
