"""What every route depends on: the services object, and the API key when one is set."""

from __future__ import annotations

import secrets
import unicodedata

from fastapi import Request
from fastapi.security import HTTPBearer

from chatchat.api.errors import ApiError
from chatchat.ingest.docnames import safe_file_name
from chatchat.errors import InvalidName, NotFound
from chatchat.policy import Caller, owned_conversation
from chatchat.service import Services
from chatchat.retrieval.kb_info import KBInfo

# Declares the bearer scheme in the OpenAPI spec (when a key is set at start); require_api_key enforces it.
bearer_scheme = HTTPBearer(auto_error=False, description="settings.api_key")


def get_services(request: Request) -> Services:
    return request.app.state.services


def require_api_key(request: Request) -> None:
    """Checks the live setting, so a key set while the server runs applies at once."""
    expected = get_services(request).settings.api_key
    if not expected:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), expected.encode()):
        raise ApiError(
            "Missing or wrong API key: send it as the header 'Authorization: Bearer <key>' (settings.api_key).",
            status=401, code="invalid_api_key",
        )


# A REST call has no browser session (on a Hugging Face Space: it sees only the shared demo, read-only).
API_CALLER = Caller()


def listed_kbs(services: Services) -> list[KBInfo]:
    return services.policy.visible_kbs(services, API_CALLER)


def known_kb(services: Services, name: str, write: bool = False) -> str:
    """The name of an existing knowledge base this caller may see (and with `write`, change)."""
    services.policy.check_visible(name, API_CALLER)
    if write:
        services.policy.check_writable(name, API_CALLER)
    info = services.kb_info(name)
    if info.owner:  # the app's own (a file chat's, a visitor's): not the caller's to reach
        raise NotFound(f"No knowledge base named '{name}'.")
    return info.name


def may_create_kb(services: Services) -> None:
    services.policy.check_create(API_CALLER)


def kb_document(services: Services, kb: str, file: str, param: str = "file", write: bool = False) -> tuple[str, str]:
    """The knowledge base (it must exist) and the registered document a request names, by the name it is
    listed under (sub-paths included: wiki/Home.md). A name the ingest job could not have stored (`..`,
    an absolute path, control characters) or that no document has is a 404 and never reaches the file system."""
    kb = known_kb(services, kb, write)
    return kb, _document(services, kb, file, param)


def _document(services: Services, kb: str, file: str, param: str) -> str:
    wanted = unicodedata.normalize("NFC", file)
    try:
        usable = bool(file) and safe_file_name(file) == wanted
    except InvalidName:
        usable = False
    if not usable or services.store.get(kb).document(wanted) is None:
        raise ApiError(f"No document {file!r} in knowledge base '{kb}'.", status=404, code="not_found", param=param)
    return wanted


def cited_document(services: Services, kb: str, file: str) -> tuple[str, str]:
    """The document a source's url or preview_url names: one of a knowledge base the caller may see (as
    kb_document), or of a file chat's own knowledge base when the caller may open that conversation (its
    answers link their sources there); anything else is a 404."""
    try:
        info = services.kb_info(kb)
    except NotFound:
        info = None
    conversation = owned_conversation(info.owner) if info else None
    if conversation is None:
        return kb_document(services, kb, file)
    services.policy.check_conversation(API_CALLER, conversation)
    return info.name, _document(services, info.name, file, "file")
