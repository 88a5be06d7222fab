"""UI strings of the app frame, shared words, parameters and the error messages the server sends: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
    "app.tagline": ("Your documents, your model — answers with sources.", "你的文档，你的模型——有出处的回答。"),
    "tab.chat": ("Chat", "对话"),
    "tab.kb": ("Knowledge bases", "知识库"),
    "tab.models": ("Models", "模型"),
    "tab.settings": ("Settings", "设置"),
    "common.cancel": ("Cancel", "取消"),
    "common.save": ("Save", "保存"),
    "error.unexpected": (
        "Something went wrong ({error}). The details are in the server log.",
        "出错了（{error}），详细信息在服务器日志中。",
    ),
    "param.top_k": ("Passages to retrieve (top-k)", "检索段落数（top-k）"),
    "param.threshold": ("Score threshold", "相似度阈值"),
    "param.temperature": ("Temperature", "温度"),
    "param.max_tokens": ("Max answer tokens", "回答最大 token 数"),
    "param.history": ("History turns", "历史对话轮数"),
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
    # validation: what the store, the service and the policy refuse (their messages carry these keys)
    "error.kb_name_type": ("A knowledge-base name must be text.", "知识库名称必须是文字。"),
    "error.kb_name_invalid": (
        "'{name}' is not a valid knowledge-base name: use 1–{max} letters (any language), digits, spaces, "
        "'_', '-' or '.', not starting with '.'.",
        "“{name}”不是有效的知识库名称：请用 1–{max} 个字符（任何语言的文字、数字、空格、“_”“-”或“.”），"
        "不能以“.”开头。",
    ),
    "error.kb_name_chars": (
        "'{name}' is not a valid knowledge-base name (it contains {chars}): use 1–{max} letters (any language), "
        "digits, spaces, '_', '-' or '.', not starting with '.'.",
        "“{name}”不是有效的知识库名称（其中有 {chars}）：请用 1–{max} 个字符（任何语言的文字、数字、空格、"
        "“_”“-”或“.”），不能以“.”开头。",
    ),
    "error.kb_exists": ("A knowledge base named '{name}' already exists.", "已有名为“{name}”的知识库。"),
    "error.kb_not_found": ("No knowledge base named '{name}'.", "没有名为“{name}”的知识库。"),
    "error.kb_not_found_known": ("No knowledge base named '{name}'. Existing: {known}.",
                                 "没有名为“{name}”的知识库。现有：{known}。"),
    "error.kb_protected": (
        "The knowledge base '{name}' is the shared demo: you can search it but not change it. Upload your files "
        "to your own knowledge base instead.",
        "知识库“{name}”是共享的示例：可以检索，但不能修改。请把文件上传到你自己的知识库。",
    ),
    "error.chunking_invalid": (
        "Chunk size must be 50–8000 and overlap 0–{max_overlap} (got {size}/{overlap}).",
        "分块大小须在 50–8000 之间，重叠须在 0–{max_overlap} 之间（当前为 {size}/{overlap}）。",
    ),
    "error.overlap_too_large": (
        "Chunk overlap ({overlap}) must be smaller than chunk size ({size}).",
        "分块重叠（{overlap}）必须小于分块大小（{size}）。",
    ),
    "error.search_mode_unknown": (
        "Unknown search mode '{mode}'; use one of {modes}.", "未知的检索方式“{mode}”；请使用其中之一：{modes}。",
    ),
    "error.query_empty": ("The search query is empty.", "检索内容为空。"),
    "error.doc_not_found": (
        "No document '{file}' in knowledge base '{kb}'.", "知识库“{kb}”中没有文档“{file}”。",
    ),
}
