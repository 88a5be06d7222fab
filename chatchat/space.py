"""The demo knowledge base every install can load with one click, and Hugging Face Space mode.

On a Space (the env var SPACE_ID is set) one app serves many anonymous visitors. Each visitor may
query the shared demo knowledge base but not change it, and gets a knowledge base of their own for
uploads, named from their session and dropped when the session ends. These functions hold the rules;
the UI and the API call them (see each docstring for where).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Callable

from chatchat import policy
from chatchat.models.catalog import LLMEntry, load_catalog
from chatchat.config import Settings
from chatchat.errors import AlreadyExists, ChatchatError, InvalidName, NotFound
from chatchat.models.hub import ASSETS_DIR, installed_path
from chatchat.ingest.job import FileResult, Progress
from chatchat.service import Services
from chatchat.retrieval.store import KBInfo

SPACE_ENV = "SPACE_ID"
DEMO_KB = "demo"
DEMO_DESCRIPTION = "示例知识库 · Demo knowledge base: how to use Chatchat (中文 / English)"
DEMO_DIR = ASSETS_DIR / "demo"
SESSION_KB_PREFIX = "_visitor-"  # the folder name of a visitor's knowledge base; its owner field hides it
SPACE_MAX_UPLOAD_MB = 20


class ProtectedKB(ChatchatError):
    code = "protected"
    status = 403


def is_space() -> bool:
    return bool(os.environ.get(SPACE_ENV))


def space_settings(settings: Settings) -> Settings:
    """Settings for a Space: listen on all interfaces behind Hugging Face's proxy (public by design,
    so no login is asked), small uploads, and the packaged tiny model when the llama.cpp engine is
    installed, else lite mode (cloud models only). Call before `Services.open` in app.py."""
    catalog = load_catalog(user_path=settings.home / "models.yaml")
    local = (
        importlib.util.find_spec("llama_cpp") is not None
        and settings.default_llm in catalog.llms
        and catalog.llm(settings.default_llm).engine == "llama.cpp"
        and installed_path(settings, catalog.llm(settings.default_llm)) is not None
    )
    return settings.model_copy(
        update={
            "host": "0.0.0.0",
            "allow_insecure_public": True,
            "share": False,
            "max_upload_mb": min(settings.max_upload_mb, SPACE_MAX_UPLOAD_MB),
            "lite": settings.lite or not local,
        }
    )


# --- the demo knowledge base ---------------------------------------------------------------------
def demo_documents() -> list[Path]:
    return sorted(p for p in DEMO_DIR.iterdir() if p.is_file() and not p.name.startswith("."))


def ensure_demo_kb(
    services: Services,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[FileResult]:
    """Create the knowledge base "demo" from assets/demo/ (Chinese and English guides, a bilingual FAQ).
    Safe to call again: files already in it are reported "unchanged". The UI's demo button calls this."""
    try:
        services.create_kb(DEMO_KB, description=DEMO_DESCRIPTION)
    except AlreadyExists:
        pass
    return services.add_files(DEMO_KB, demo_documents(), progress=progress, cancel=cancel)


def better_model(services: Services) -> LLMEntry | None:
    """The model manager's pick for this machine, when it is not the model in use: what a first run
    points the user to after the demo answer."""
    from chatchat.models.hub import ModelManager

    manager = ModelManager(services.settings)
    try:
        pick = manager.recommend()
    finally:
        manager.close()
    return pick if pick is not None and pick.id != services.settings.default_llm else None


# --- visitors on a Space -------------------------------------------------------------------------
def protected_kbs() -> frozenset[str]:
    """Knowledge bases visitors may search but not change: the demo, on a Space. Off a Space, none."""
    return frozenset({DEMO_KB}) if is_space() else frozenset()


def check_writable(name: str) -> None:
    """Raise ProtectedKB for a protected knowledge base. Call before delete, rebuild, add and remove."""
    if name in protected_kbs():
        raise ProtectedKB(f"The knowledge base '{name}' is the shared demo: you can search it but not change it. "
                          "Upload your files to your own knowledge base instead.")


def _digest(session_hash: str) -> str:
    if not session_hash:
        raise InvalidName("This request has no browser session, so it has no knowledge base of its own.")
    return hashlib.sha256(session_hash.encode("utf-8")).hexdigest()[:24]


def session_kb_name(session_hash: str) -> str:
    """The knowledge base of one browser session. Hashed, so the name does not reveal the session id."""
    return SESSION_KB_PREFIX + _digest(session_hash)


def session_owner(session_hash: str) -> str:
    """The owner recorded in a session's knowledge base: only that session lists it."""
    return policy.VISITOR + _digest(session_hash)


def ensure_session_kb(services: Services, session_hash: str) -> str:
    """Create the session's own knowledge base on first upload; returns its name."""
    name = session_kb_name(session_hash)
    try:
        services.create_kb(name, description="uploads of one visitor; removed when the session ends",
                           owner=session_owner(session_hash))
    except AlreadyExists:
        pass
    return name


def visible_kbs(services: Services, session_hash: str | None) -> list[KBInfo]:
    """On a Space, what one visitor may list: the protected demo and their own knowledge base.
    `session_hash` None (a REST call, which has no browser session): the protected ones only."""
    viewer = session_owner(session_hash) if session_hash else ""
    return [kb for kb in services.list_kbs(viewer) if kb.name in protected_kbs() or kb.owner]


def check_visible(name: str, session_hash: str | None) -> None:
    """On a Space, raise NotFound for a knowledge base that is neither shared nor the visitor's own,
    exactly as if it did not exist. Call before every search, chat or document listing."""
    own = session_kb_name(session_hash) if session_hash else None
    if name not in protected_kbs() and name != own:
        raise NotFound(f"No knowledge base named '{name}'.")


def drop_session_kb(services: Services, name: str) -> None:
    """Remove a session's knowledge base with its files (no-op when it is already gone).
    Refuses any other knowledge base, so a wrong name can never delete a user's data."""
    try:
        if not services.kb_info(name).owner.startswith(policy.VISITOR):
            raise InvalidName(f"'{name}' is not a session knowledge base; only those are dropped with a session.")
        services.delete_kb(name)
    except NotFound:
        pass


def drop_session_kbs(services: Services) -> list[str]:
    """Remove every session knowledge base: after a restart no session is alive. Returns their names."""
    names = [kb.name for kb in services.internal_kbs(policy.VISITOR)]
    for name in names:
        drop_session_kb(services, name)
    return names


def start_space(services: Services) -> None:
    """What app.py calls once on a Space, before serving: clear leftovers and build the demo."""
    drop_session_kbs(services)
    ensure_demo_kb(services)
