"""UI strings of the Chat tab and its sources: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
    "source.page": ("page {page}", "第 {page} 页"),
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
    "chat.stage.wait": ("Starting…", "正在开始……"),
    "chat.stage.search": ("Searching…", "正在检索……"),
    "chat.searched_as": ("*Searched the knowledge base for:* {query}", "*检索时的问题：* {query}"),
    "chat.stage.load": ("Loading model…", "正在加载模型……"),
    "chat.stage.think": ("Thinking…", "正在思考……"),
    # an agent answer's stages (chatchat.agent.loop.stage): {step} of at most {of} tool calls
    "chat.stage.agent_think": ("Thinking… step {step} of {of}", "思考中…第 {step} 步，共 {of} 步"),
    "chat.stage.agent_tool": ("Running {tool}… step {step} of {of}", "正在运行 {tool}…第 {step} 步，共 {of} 步"),
    "chat.stage.agent_answer": ("Writing the answer… all {of} steps used", "正在作答…{of} 步已用完"),
    "chat.stage.agent_repeated": ("Writing the answer… {tool} was asked for again with the same input",
                                  "正在作答…模型以相同参数再次调用 {tool}，不再重复运行"),
    "chat.reading": ("Reading files…", "正在读取文件……"),
    "chat.go_settings": ("Add a cloud key", "填写云端密钥"),
    "chat.demo_model": (
        "**You are chatting with {name}**, the tiny demo model that comes with Chatchat: it understands English "
        "only and often gets things wrong. For real answers (Chinese too), download **Qwen2.5 0.5B** or "
        "**Qwen2.5 1.5B** in the Models tab, or add a cloud provider's key in Settings.",
        "**当前对话模型是 {name}**，Chatchat 自带的极小演示模型：只懂英文，回答常常出错。"
        "要得到可用的回答（包括中文），请在“模型”页下载 **Qwen2.5 0.5B** 或 **Qwen2.5 1.5B**，或在“设置”中填写云端服务的密钥。",
    ),
    "source.title": ("Sources ({n})", "出处（{n}）"),
    "source.score": ("score", "相似度"),
}
