"""UI strings of search-engine and agent chat: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
}
