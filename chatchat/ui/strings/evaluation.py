"""UI strings of the knowledge-base evaluation panel: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
}
