"""UI strings of the Models tab and the fit estimate: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
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
    "fit.slow": ("{fit}, slow (~{tps} token/s)", "{fit}，但较慢（约 {tps} token/秒）"),
    # errors of chat models asked to call tools (chatchat/llm/tools.py)
    "error.no_tools": (
        "Model '{model}' cannot call tools: choose a model that can (an OpenAI-compatible provider model, or a "
        "llama.cpp chat model with a ChatML template such as Qwen).",
        "模型「{model}」不能调用工具：请选择能调用工具的模型（兼容 OpenAI 接口的服务商模型，或采用 ChatML 模板的 llama.cpp "
        "对话模型，如 Qwen）。",
    ),
    "error.tool_arguments": (
        "Model '{model}' called the tool '{tool}' with arguments that are not a JSON object. Try again, or choose "
        "a larger model.",
        "模型「{model}」调用工具「{tool}」时给出的参数不是 JSON 对象。请重试，或换用更大的模型。",
    ),
}
