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
    # model servers the user runs, and any provider's model list (chatchat/ui/model_servers.py, models/discovery.py)
    "servers.title": ("#### Model servers and providers", "#### 模型服务器与服务商"),
    "servers.note": (
        "Pick your server (Ollama, vLLM, Xinference, LM Studio, LocalAI, llama.cpp, FastChat) or a cloud provider, "
        "check its address and click **List models**: nothing is contacted before that. Then add one of its models "
        "as a chat or embedding model; you can also type a name the list does not show (an Azure deployment). "
        "A key, where the server wants one, goes in **Settings → Providers**.",
        "选择你的服务器（Ollama、vLLM、Xinference、LM Studio、LocalAI、llama.cpp、FastChat）或云端服务商，核对地址后点击"
        "**列出模型**：在此之前不会连接任何服务器。然后把其中一个模型添加为对话模型或嵌入模型；也可以输入列表中没有的名称"
        "（如 Azure 的部署名）。服务器需要密钥时，请在 **设置 → 云端服务** 中填写。",
    ),
    "servers.provider": ("Server or provider", "服务器或服务商"),
    "servers.address": ("Address", "地址"),
    "servers.list": ("List models", "列出模型"),
    "servers.model": ("Model", "模型"),
    "servers.as": ("Add as", "添加为"),
    "servers.as.llm": ("chat model", "对话模型"),
    "servers.as.embedding": ("embedding model", "嵌入模型"),
    "servers.add": ("＋ Add", "＋ 添加"),
    "servers.col.model": ("Model", "模型"),
    "servers.col.kind": ("Type (as the server says)", "类型（服务器所报）"),
    "servers.col.context": ("Context", "上下文长度"),
    "servers.kind.chat": ("chat", "对话"),
    "servers.kind.embedding": ("embedding", "嵌入"),
    "servers.kind.rerank": ("rerank", "重排序"),
    "servers.kind.other": ("other", "其他"),
    "servers.kind.unknown": ("not said", "未说明"),
    "servers.kind.preset": ("listed by Chatchat", "Chatchat 预置"),
    "servers.found": ("{provider} offers {count} model(s).", "{provider} 提供 {count} 个模型。"),
    "servers.none": (
        "{provider} offers no models yet: load or pull one in the server first.",
        "{provider} 还没有可用的模型：请先在服务器中加载或拉取一个模型。",
    ),
    "servers.added": (
        "Added '{name}' ({id}). Make it the default in the table above, or pick it in a chat.",
        "已添加「{name}」（{id}）。可在上方表格中设为默认，或在对话中选择它。",
    ),
    "models.served": ("on a server", "服务器上"),
    "error.provider_address_unset": (
        "Set the address of your {provider} first ({url}): Models tab → Model servers.",
        "请先填写你的 {provider} 的地址（{url}）：模型页 → 模型服务器。",
    ),
    "error.discovery_bad_address": (
        "'{url}' is not a server address: give one like http://127.0.0.1:11434/v1.",
        "「{url}」不是服务器地址：请填写类似 http://127.0.0.1:11434/v1 的地址。",
    ),
    "error.discovery_unreachable": (
        "Cannot reach {provider} at {url}: is the server running, and is the address right? ({detail})",
        "无法连接 {url} 上的 {provider}：服务器是否已启动、地址是否正确？（{detail}）",
    ),
    "error.discovery_timeout": (
        "{provider} at {url} did not answer within {timeout} s.", "{url} 上的 {provider} 在 {timeout} 秒内没有应答。"
    ),
    "error.discovery_key_rejected": (
        "{provider} at {url} refused the key ({status}): add or check it in Settings → Providers (variable {var}).",
        "{url} 上的 {provider} 拒绝了密钥（{status}）：请在 设置 → 云端服务 中填写或核对密钥（环境变量 {var}）。",
    ),
    "error.discovery_status": (
        "{provider} at {url} answered {status} to GET /models: is this its OpenAI-compatible address (most end in /v1)?",
        "{url} 上的 {provider} 对 GET /models 返回了 {status}：这是它兼容 OpenAI 的地址吗（通常以 /v1 结尾）？",
    ),
    "error.discovery_not_openai": (
        "{url} answered, but not with an OpenAI-style model list: is this the OpenAI-compatible address (most end in /v1)?",
        "{url} 有应答，但返回的不是 OpenAI 格式的模型列表：这是兼容 OpenAI 的地址吗（通常以 /v1 结尾）？",
    ),
    "error.discovery_azure": (
        "Azure OpenAI does not list your deployments: type a deployment name and add it.",
        "Azure OpenAI 不会列出你的部署：请直接输入部署名并添加。",
    ),
    "error.discovery_embed_failed": (
        "{provider} did not embed with '{model}' ({detail}): is it an embedding model the server has loaded?",
        "{provider} 无法用「{model}」生成向量（{detail}）：它是服务器已加载的嵌入模型吗？",
    ),
    "error.served_model_name": ("Type or pick a model name first.", "请先输入或选择模型名称。"),
}
