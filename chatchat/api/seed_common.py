"""What the Langchain-Chatchat 0.2.x route modules share: the seed's score scale and form booleans."""

from __future__ import annotations

from chatchat.api.errors import ApiError
from chatchat.ingest.job import FileResult

STREAM_RESPONSE = {200: {"description": "text/event-stream of JSON objects", "content": {"text/event-stream": {"schema": {"type": "string"}}}}}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def distance_to_cosine(threshold: float | None) -> float | None:
    """The seed's score_threshold is a distance (lower = closer, 2 keeps all); ours a minimum cosine."""
    return None if threshold is None else 1.0 - threshold


def form_bool(fields: dict[str, str], name: str, default: bool) -> bool:
    value = fields.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ApiError(f"Form field '{name}' must be true or false (got {value!r}).", param=name)


def failed_files(results: list[FileResult]) -> dict[str, str]:
    return {r.file: r.error or r.status for r in results if r.status in ("failed", "cancelled")}
