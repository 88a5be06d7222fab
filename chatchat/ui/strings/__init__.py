"""The UI's strings, one module a tab; each maps a key to (English, 中文)."""
