"""Every error the API returns has OpenAI's shape: {"error": {"message", "type", "code", "param"}}.

chatchat.errors.* map by their `.status` and `.code`; request validation becomes 400 naming the field.
Seed routes (/knowledge_base/…, /chat/…, /llm_model/…, /server/…, /other/…) also carry the seed's {"code", "msg", "data"} beside it, so
scripts written for Langchain-Chatchat read the message where they always did.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatchat.errors import ChatchatError

log = logging.getLogger("chatchat.api")

SEED_PREFIXES = ("/knowledge_base/", "/chat/", "/llm_model/", "/server/", "/other/")


class ApiError(ChatchatError):
    """A request the API refuses for a reason that is not one of the service's own errors."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_request", param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param
        self.headers = headers


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_payload(status: int, message: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": error_type(status), "code": code, "param": param}}


def error_response(request: Request, status: int, message: str, code: str | None, param: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = error_payload(status, message, code, param)
    if request.url.path.startswith(SEED_PREFIXES):
        body.update(code=status, msg=message, data=None)
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or None


def _validation_message(exc: RequestValidationError) -> tuple[str, str, str | None]:
    """message, code, param of the first problem (all problems are listed in the message)."""
    problems = exc.errors()
    first = problems[0] if problems else {"type": "invalid", "loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return f"The request body is not valid JSON: {first.get('ctx', {}).get('error', first['msg'])}.", "invalid_json", None
    lines = []
    for item in problems[:10]:
        field = _field(tuple(item.get("loc", ()))) or "request body"
        lines.append(f"{field}: {item.get('msg', 'invalid')}")
    code = "missing_field" if first.get("type") == "missing" else "invalid_value"
    return "Invalid request: " + "; ".join(lines), code, _field(tuple(first.get("loc", ())))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ChatchatError)
    async def _chatchat(request: Request, exc: ChatchatError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else getattr(exc, "headers", None)
        return error_response(request, exc.status, exc.message, exc.code, getattr(exc, "param", None), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, code, param = _validation_message(exc)
        return error_response(request, 400, message, code, param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(request, exc.status_code, str(exc.detail), code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return error_response(request, 500, f"Internal error ({type(exc).__name__}); see the server log.", "internal_error")


ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Bad request: invalid JSON, a wrong type or value, an invalid name",
        401: "Missing or wrong API key",
        403: "Read-only here (the shared demo knowledge base of a Hugging Face Space)",
        404: "Unknown knowledge base, document or model",
        409: "The knowledge base already exists",
        413: "An uploaded file is over the size limit (settings.max_upload_mb)",
        415: "A file type that cannot be ingested",
        422: "Well-formed, but cannot be processed (e.g. a model that cannot do this)",
        502: "The cloud provider behind a model failed",
    }.items()
}
