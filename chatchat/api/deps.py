"""What every route depends on: the services object, and the API key when one is set."""

from __future__ import annotations

import secrets
import unicodedata

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chatchat.api.errors import ApiError
from chatchat.errors import InvalidName
from chatchat.ingest.job import safe_file_name
from chatchat.service import Services

_bearer = HTTPBearer(auto_error=False, description="settings.api_key; required when it is set")


def get_services(request: Request) -> Services:
    return request.app.state.services


def require_api_key(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    expected = get_services(request).settings.api_key
    if not expected:
        return
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise ApiError(
            "Missing or wrong API key: send it as the header 'Authorization: Bearer <key>' (settings.api_key).",
            status=401, code="invalid_api_key",
        )


def document_name(file: str, param: str = "file") -> str:
    """A document name from a request must be one the ingest job could have stored: anything else
    (paths, control characters) names no document and must never reach the file system."""
    wanted = unicodedata.normalize("NFC", file)
    try:
        usable = bool(file) and safe_file_name(file) == wanted
    except InvalidName:
        usable = False
    if not usable:
        raise ApiError(f"{file!r} is not a document name (no paths or control characters).", param=param, code="invalid_name")
    return wanted
