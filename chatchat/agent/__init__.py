"""Agent chat: the model decides which tools to call (built-in tools and MCP servers' tools), step by step."""
