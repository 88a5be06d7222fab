"""UI strings of citations, the source viewer and answer feedback: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
}
