"""The REST API: OpenAI-compatible routes under /v1, knowledge-base routes under /api, and the
Langchain-Chatchat 0.2.x routes (/knowledge_base/…, /chat/…, /llm_model/…, /server/…, /other/…).
All are thin over chatchat.service."""

from __future__ import annotations

import re

from fastapi import Depends, FastAPI, Request
from starlette.routing import Match

from chatchat.api import (evaluation_routes, feedback_routes, kb_routes, openai_routes, provider_routes, seed_chat_routes,
                          seed_kb_routes, seed_llm_routes, source_routes)
from chatchat.api.deps import bearer_scheme, require_api_key
from chatchat.api.errors import ERROR_RESPONSES, ApiError

API_PREFIXES = ("/v1", "/api", "/knowledge_base", "/chat", "/llm_model", "/server", "/other")


def _literal_length(template: str) -> int:
    return len(re.sub(r"\{[^}]*\}", "", template))


def include_api(app: FastAPI, documented_key: bool) -> None:
    """Add every API route, each behind the API key (when one is set; `documented_key` declares it in the
    OpenAPI spec). Unknown paths under the API prefixes answer 404/405 in the API's error format instead
    of falling through to the UI."""
    routers = [module.router for module in (openai_routes, kb_routes, seed_kb_routes, seed_chat_routes, seed_llm_routes,
                                            source_routes, feedback_routes, evaluation_routes, provider_routes)]
    dependencies = [Depends(require_api_key)] + ([Depends(bearer_scheme)] if documented_key else [])
    for router in routers:
        app.include_router(router, dependencies=dependencies, responses=ERROR_RESPONSES)

    async def unknown(request: Request) -> None:
        partial = [route for router in routers for route in router.routes if route.matches(request.scope)[0] == Match.PARTIAL]
        # a document name may hold slashes ({file:path}), so /documents/x/chunks also matches DELETE
        # /documents/{file:path}: the path means the route whose template spells more of it literally
        best = max((_literal_length(route.path) for route in partial), default=0)
        allowed = sorted({method for route in partial if _literal_length(route.path) == best for method in route.methods})
        if allowed:
            raise ApiError(f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}.",
                           status=405, code="method_not_allowed", headers={"Allow": ", ".join(allowed)})
        raise ApiError(f"No API route {request.method} {request.url.path}; see /docs.", status=404, code="unknown_route")

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]
    for prefix in API_PREFIXES:
        app.add_api_route(prefix + "/{path:path}", unknown, methods=methods, include_in_schema=False)
