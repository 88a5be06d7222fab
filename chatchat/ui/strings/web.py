"""UI strings of search-engine and agent chat: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
    "chat.mode.web": ("Search engine", "搜索引擎问答"),
    "web.provider": ("Search engine", "搜索引擎"),
    "web.provider_info": (
        "Nothing is sent to a search engine until you pick one here and ask in search-engine mode.",
        "在这里选定搜索引擎并在“搜索引擎问答”模式下提问之前，不会向任何搜索引擎发送内容。",
    ),
    "web.provider_none": ("None (search-engine chat off)", "不使用（关闭搜索引擎问答）"),
    "web.searxng_url": ("SearXNG address", "SearXNG 地址"),
    "web.searxng_url_info": (
        "Your own SearXNG instance, e.g. http://localhost:8888 (JSON must be on in its settings.yml).",
        "你自己部署的 SearXNG 实例，例如 http://localhost:8888（需在其 settings.yml 中开启 JSON 格式）。",
    ),
    "web.results": ("Pages to read per question", "每个问题读取的网页数"),
    "web.timeout": ("Seconds a search or a page may take", "搜索或读取单个网页的超时（秒）"),
    "web.enabled_on_space": ("Let visitors of this Space search the web", "允许此 Space 的访客使用网络搜索"),
    "web.searching": ("Searching the web…", "正在搜索网络……"),
    "web.reading": ("Reading {count} pages…", "正在读取 {count} 个网页……"),
    "web.unread": ("Could not read {count} of the sources:", "有 {count} 个来源无法读取："),
    "web.snippet_only": ("the search engine's snippet was used instead", "已改用搜索引擎给出的摘要"),
    "error.web_no_key": (
        "{provider} needs an API key: save it under Settings → API keys, or set {env}.",
        "{provider} 需要 API 密钥：请在“设置 → API 密钥”中保存，或设置环境变量 {env}。",
    ),
    "error.web_timeout": (
        "{provider} did not answer within {seconds} s: try again, or pick another search engine.",
        "{provider} 在 {seconds} 秒内没有响应：请重试，或换一个搜索引擎。",
    ),
    "error.web_unreachable": ("Cannot reach {provider} at {host} ({detail}).",
                              "无法连接 {provider}（{host}）：{detail}。"),
    "error.web_rate_limited": (
        "{provider} is limiting how often it may be asked (HTTP 429): wait a little and ask again, "
        "or pick another search engine.",
        "{provider} 限制了请求频率（HTTP 429）：请稍等片刻再问，或换一个搜索引擎。",
    ),
    "error.web_refused": (
        "{provider} refused the request (HTTP {status}): check its API key under Settings → API keys.",
        "{provider} 拒绝了请求（HTTP {status}）：请在“设置 → API 密钥”中检查它的密钥。",
    ),
    "error.web_http": (
        "{provider} answered HTTP {status} ({detail}): try again later, or pick another search engine.",
        "{provider} 返回 HTTP {status}（{detail}）：请稍后再试，或换一个搜索引擎。",
    ),
    "error.web_not_json": ("{provider} at {host} did not answer with JSON: is the address that of its API?",
                           "{provider}（{host}）返回的不是 JSON：这个地址是它的 API 吗？"),
    "error.web_missing_package": ("{purpose} needs the {package} package: pip install 'chatchat[web]'.",
                                  "{purpose}：需要 {package} 包，请运行 pip install 'chatchat[web]'。"),
    "error.web_searxng_url": (
        "SearXNG needs the address of your instance (e.g. http://localhost:8888): set it under "
        "Settings → Search engine.",
        "SearXNG 需要你的实例地址（例如 http://localhost:8888）：请在“设置 → 搜索引擎”中填写。",
    ),
    "error.web_searxng_json": (
        "SearXNG at {url} does not serve JSON (HTTP 403): add json to search.formats in its settings.yml "
        "and restart it.",
        "{url} 上的 SearXNG 没有开启 JSON（HTTP 403）：请在其 settings.yml 的 search.formats 中加入 json 并重启。",
    ),
    "error.web_off_on_space": (
        "Search-engine chat is off on this Space: its owner can turn it on in Settings (web_enabled_on_space).",
        "此 Space 未开启搜索引擎问答：所有者可以在设置中开启（web_enabled_on_space）。",
    ),
    "error.web_no_provider": (
        "Pick a search engine first (Settings → Search engine): nothing is searched until then.",
        "请先选择搜索引擎（设置 → 搜索引擎）：在此之前不会进行任何搜索。",
    ),
    "error.web_unknown_provider": ("Unknown search engine '{provider}'. Known: {known}.",
                                   "未知的搜索引擎“{provider}”。可用的有：{known}。"),
    "error.web_no_results": ("{provider} found nothing for “{query}”: ask in other words.",
                             "{provider} 没有找到与“{query}”相关的结果：请换个说法再问。"),
    "error.web_nothing_readable": (
        "None of the {count} pages {provider} found could be read: {reasons}",
        "{provider} 找到的 {count} 个网页都无法读取：{reasons}",
    ),
    "error.page_http": ("{url} answered HTTP {status}.", "{url} 返回 HTTP {status}。"),
    "error.page_redirects": ("{url} redirects in a loop (more than {limit} redirects).",
                             "{url} 陷入重定向循环（超过 {limit} 次重定向）。"),
    "error.page_private": (
        "{url} is an address of this machine or its network, which search chat does not read.",
        "{url} 是本机或内网地址，搜索引擎问答不会读取。",
    ),
    "error.page_unreachable": ("Cannot reach {url} ({detail}).", "无法连接 {url}（{detail}）。"),
    "error.page_not_text": ("{url} is not text in any encoding Chatchat knows.",
                            "{url} 不是任何已知编码的文本。"),
    "error.page_binary": ("{url} is not a web page but {type}.", "{url} 不是网页，而是 {type}。"),
    "error.page_too_large": ("{url} is larger than {limit} MB, more than is read for an answer.",
                             "{url} 超过 {limit} MB，超出了回答时读取的上限。"),
    "error.page_timeout": ("{url} took longer than {seconds} s to load.", "{url} 加载超过 {seconds} 秒。"),
    "error.page_no_text": (
        "{url} has no text to read (it may show its content with JavaScript only).",
        "{url} 没有可读取的正文（它可能只通过 JavaScript 显示内容）。",
    ),
    # agent chat
    "error.agent_step_limit": ("The agent stopped after {steps} tool calls without an answer.",
                               "智能体调用了 {steps} 次工具仍未得出回答，已停止。"),
    "error.agent_repeated_call": ("The agent stopped: the model asked for {tool} again with the same input instead "
                                  "of answering.", "智能体已停止：模型以相同参数再次调用 {tool}，而没有作答。"),
    "error.mcp_unreachable": ("MCP server {problem}", "MCP 服务器 {problem}"),
    "chat.mode.agent": ("Agent", "智能体"),
    "agent.use_web": ("Use the web", "使用网络搜索"),
    "agent.kb_info": ("The knowledge bases its search tool may read", "其检索工具可以查阅的知识库"),
    "agent.steps": ("Tool steps ({n})", "工具调用（{n}）"),
    "agent.step_failed": ("failed", "失败"),
    "agent.approve_question": ("Allow the tool {tool} to run?", "允许运行工具 {tool} 吗？"),
    "agent.allow": ("Allow", "允许"),
    "agent.deny": ("Deny", "拒绝"),
    "web.no_provider": (
        "**No search engine is picked yet:** pick one in Settings.",
        "**还没有选择搜索引擎：** 请在“设置”中选择一个。",
    ),
    "web.go_settings": ("Open Settings", "前往设置"),
    "web.save": ("Save search engine and tools", "保存搜索引擎与工具设置"),
    "mcp.title": ("MCP tool servers (agent chat)", "MCP 工具服务器（智能体对话）"),
    "mcp.name": ("Name", "名称"),
    "mcp.target": ("Command or URL", "命令或地址"),
    "mcp.target_info": (
        "A command line that starts a stdio server, or a streamable HTTP URL such as http://127.0.0.1:8000/mcp",
        "启动 stdio 服务器的命令行，或 streamable HTTP 地址，例如 http://127.0.0.1:8000/mcp",
    ),
    "mcp.enabled": ("On", "启用"),
    "mcp.ask": ("Ask before running", "运行前询问"),
    "mcp.add": ("Add or update", "添加或更新"),
    "mcp.remove": ("Remove (by name)", "删除（按名称）"),
    "mcp.max_steps": ("Tool calls an agent answer may make", "智能体每次回答最多调用工具的次数"),
}
