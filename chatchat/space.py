"""The demo knowledge base every install can load with one click, and the settings of a Hugging Face
Space. What a Space's visitors may see and change is chatchat.policy's (SpacePolicy)."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Callable

from chatchat.models.catalog import load_catalog
from chatchat.config import Settings
from chatchat.errors import AlreadyExists
from chatchat.policy import DEMO_KB
from chatchat.models.layout import installed_path
from chatchat.resources import ASSETS_DIR
from chatchat.ingest.job import FileResult, Progress
from chatchat.service import Services

DEMO_DESCRIPTION = "示例知识库 · Demo knowledge base: how to use Chatchat (中文 / English)"
DEMO_DIR = ASSETS_DIR / "demo"
SPACE_MAX_UPLOAD_MB = 20


def space_settings(settings: Settings) -> Settings:
    """Settings for a Space: listen on all interfaces behind Hugging Face's proxy (public by design,
    so no login is asked), small uploads, and the packaged tiny model when the llama.cpp engine is
    installed, else lite mode (cloud models only). Call before `Services.open` (chatchat serve does, on a Space)."""
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


def start_space(services: Services) -> None:
    """What `chatchat serve` calls once on a Space, before serving: clear what earlier sessions left
    (none is alive after a restart) and build the demo."""
    services.policy.end_all_sessions(services)
    ensure_demo_kb(services)

