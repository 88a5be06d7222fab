"""The user's own models: `<data dir>/models.yaml`, merged over the shipped catalog by id.

`add_model` and `forget` edit the file (nothing is downloaded here); the process's catalog object is brought
up to date with it by whoever holds that object (chatchat.models.manager.ModelManager).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

import yaml

from chatchat.config import Settings
from chatchat.errors import AlreadyExists, ModelError, NotFound
from chatchat.fs import atomic_write
from chatchat.models.catalog import Catalog, load_catalog, parse_catalog, safe_id
from chatchat.models.sources import SHA256, Entry

USER_CATALOG = "models.yaml"
SECTIONS = ("llms", "embeddings")  # what a user adds; providers and rerankers are edited by hand


def user_catalog_path(settings: Settings) -> Path:
    return settings.home / USER_CATALOG


def open_catalog(settings: Settings) -> Catalog:
    """The shipped catalog with the user's own entries merged over it."""
    return load_catalog(user_path=user_catalog_path(settings))


def _raw(settings: Settings) -> dict:
    path = user_catalog_path(settings)
    return (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}


def user_ids(settings: Settings) -> set[str]:
    """The ids of the models the user added."""
    raw = _raw(settings)
    return {item.get("id") for section in SECTIONS for item in raw.get(section) or []}


def _quantization_in(name: str) -> str | None:
    match = re.search(r"(?i)(?<![a-z0-9])(IQ\d_[A-Z0-9]+|Q\d_K(?:_[SML])?|Q\d_\d|BF16|F16|F32|GPTQ-Int\d|AWQ)", name)
    return match.group(1).upper() if match else None


def _params_in(name: str) -> float | None:
    match = re.search(r"(?i)(?<![a-z0-9.])(\d+(?:\.\d+)?)b(?![a-z])", name)
    return float(match.group(1)) if match else None


def _write_user_entry(settings: Settings, section: str, data: dict | None, drop: str | None = None) -> None:
    """Add (or drop) one entry of the user's models.yaml; the whole file is validated before it is replaced."""
    path = user_catalog_path(settings)
    raw = _raw(settings)
    items = [item for item in raw.get(section) or [] if item.get("id") != drop]
    raw[section] = items + ([data] if data else [])
    text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    parse_catalog(text, str(path), over=load_catalog())
    atomic_write(path, text)


def put_entry(settings: Settings, section: Literal["llms", "embeddings", "providers"], data: dict) -> None:
    """Add one entry to the user's models.yaml, or replace the one with its id (a served model, a provider's
    own address: chatchat.models.discovery)."""
    _write_user_entry(settings, section, data, drop=data["id"])


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
    catalog = open_catalog(settings)  # the file as it is now: another process may have added to it
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
    raw = _raw(settings)
    for section in SECTIONS:
        if any(item.get("id") == model_id for item in raw.get(section) or []):
            _write_user_entry(settings, section, None, drop=model_id)
            return
    raise NotFound(f"'{model_id}' is not one of your added models (entries shipped with Chatchat stay).")
