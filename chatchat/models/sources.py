"""Where a catalog model's files come from: Hugging Face (or a mirror of it), ModelScope, or a plain URL.

`resolve` asks the source for each file's URL, size and sha256; `chatchat.models.downloads` moves the bytes.
The hub mirror and the preferred source are settings (`hf_endpoint`, `download_source`), read at each
download, so a change in the Settings tab applies to the next download without a restart.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from chatchat.models.catalog import EmbeddingEntry, LLMEntry
from chatchat.config import Settings
from chatchat.models.downloads import ChecksumMismatch, DownloadError, RemoteFile, status_error
from chatchat.errors import CatalogError, ModelError, NotFound

Entry = LLMEntry | EmbeddingEntry
Source = Literal["auto", "hf", "modelscope", "url"]
SOURCES: tuple[str, ...] = ("hf", "modelscope", "url")
HF_DEFAULT_ENDPOINT = "https://huggingface.co"
METADATA_TIMEOUT = 30.0
SHA256 = re.compile(r"[0-9a-f]{64}")
MIRROR_HINT = "pick a hub mirror (e.g. https://hf-mirror.com) or ModelScope in the Settings tab (hf_endpoint, download_source)"


def relative(name: str) -> Path:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise CatalogError(f"File name {name!r} must be a relative path inside the model folder.")
    return Path(*path.parts)


def hf_endpoint(settings: Settings) -> str:
    """The hub to download from: the Settings mirror, else HF_ENDPOINT, else huggingface.co."""
    return (settings.hf_endpoint or os.environ.get("HF_ENDPOINT") or HF_DEFAULT_ENDPOINT).rstrip("/")


def _hf_file(endpoint: str, repo: str, revision: str, name: str) -> RemoteFile:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import (
        FileMetadataError,
        GatedRepoError,
        HfHubHTTPError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils import build_hf_headers

    token = os.environ.get("HF_TOKEN") or None
    url = hf_hub_url(repo, name, revision=revision, endpoint=endpoint)
    where = f"'{repo}' on {endpoint}"
    try:
        meta = get_hf_file_metadata(url, token=token, timeout=METADATA_TIMEOUT, endpoint=endpoint)
    except GatedRepoError:
        raise DownloadError(
            f"{where} is gated: accept its licence on the model page, create an access token, "
            "set HF_TOKEN to it and pull again.", key="hub_gated", where=where,
        ) from None
    except RepositoryNotFoundError:
        raise NotFound(f"There is no model repo {where} (or it is private: set HF_TOKEN). Check the repo id.",
                       key="hub_no_repo", where=where) from None
    except RevisionNotFoundError:
        raise NotFound(f"{where} has no revision '{revision}'.", key="hub_no_revision", where=where,
                       revision=revision) from None
    except RemoteEntryNotFoundError:
        raise NotFound(
            f"{where} has no file '{name}' at revision '{revision}'. Check the file name in the repo's file list.",
            key="hub_no_file", where=where, name=name, revision=revision,
        ) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "error"
        raise DownloadError(f"{where} answered HTTP {status} for {name}: try again later, or {MIRROR_HINT}.",
                            key="hub_http", where=where, status=status, name=name) from exc
    except FileMetadataError as exc:
        raise DownloadError(f"{endpoint} does not answer like a Hugging Face hub ({exc}). Check the hub mirror "
                            "(hf_endpoint in the Settings tab, or HF_ENDPOINT).",
                            key="hub_not_hub", endpoint=endpoint, detail=str(exc)) from exc
    except (httpx.HTTPError, OSError) as exc:
        detail = f"{exc.__class__.__name__}: {exc}"
        raise DownloadError(f"Cannot reach {endpoint} ({detail}). Check the network, or {MIRROR_HINT}.",
                            key="hub_unreachable", endpoint=endpoint, detail=detail) from exc
    sha = meta.etag if meta.etag and SHA256.fullmatch(meta.etag) else None  # LFS files: the ETag is the sha256
    return RemoteFile(name, url, meta.size, sha, meta.etag, build_hf_headers(token=token))


def _url_file(client: httpx.Client, url: str, name: str) -> RemoteFile:
    if url.startswith("file://"):
        path = Path(url2pathname(urlsplit(url).path))
        if not path.is_file():
            raise NotFound(f"{path} does not exist any more: import the model file again.")
        return RemoteFile(name, url, path.stat().st_size)
    try:
        response = client.head(url)
    except httpx.HTTPError as exc:
        host, detail = httpx.URL(url).host, f"{exc.__class__.__name__}: {exc}"
        raise DownloadError(f"Cannot reach {host} ({detail}).", key="url_unreachable", host=host,
                            detail=detail) from exc
    if response.status_code in (405, 501):  # no HEAD here: the GET will tell
        return RemoteFile(name, url)
    remote = RemoteFile(name, url)
    if response.status_code >= 400:
        raise status_error(response, remote)
    length = response.headers.get("content-length")
    if length and response.headers.get("content-encoding", "identity") == "identity":
        remote.size = int(length)
    remote.etag = response.headers.get("etag")
    return remote


def _modelscope_file(client: httpx.Client, repo: str, revision: str, name: str) -> RemoteFile:
    try:
        from modelscope.hub.file_download import get_file_download_url
    except ImportError:
        raise ModelError(
            "Downloading from ModelScope needs the modelscope package: pip install 'chatchat[modelscope]'. "
            "Or use the Hugging Face source through a mirror (hf_endpoint in the Settings tab, "
            "e.g. https://hf-mirror.com).", key="modelscope_missing",
        ) from None
    return _url_file(client, get_file_download_url(repo, name, "master" if revision == "main" else revision), name)


def source_of(entry: Entry, source: Source, preferred: str = "auto") -> str:
    """The source a download uses: the one asked for, else the preferred one where the entry has it,
    else the first the entry lists."""
    available = [kind for kind in SOURCES if getattr(entry, kind)]
    if source == "auto":
        if not available:
            raise ModelError(f"'{entry.id}' has no download source in the catalog (hf, modelscope or url).",
                             key="no_source", model=entry.id)
        return preferred if preferred in available else available[0]
    if source not in available:
        sources = ", ".join(available) or "none"
        raise ModelError(f"'{entry.id}' cannot come from {source}; its sources: {sources}.",
                         key="wrong_source", model=entry.id, source=source, sources=sources)
    return source


def resolve(client: httpx.Client, entry: Entry, settings: Settings, source: Source = "auto") -> list[RemoteFile]:
    """Where each of the model's files comes from, with size and sha256 (asks the source)."""
    kind = source_of(entry, source, settings.download_source)
    names = [f.name for f in entry.files] or [PurePosixPath(urlsplit(entry.url or "").path).name]
    for name in names:
        relative(name)
    if kind == "hf":
        endpoint = hf_endpoint(settings)
        remotes = [_hf_file(endpoint, entry.hf, entry.revision, name) for name in names]
    elif kind == "modelscope":
        remotes = [_modelscope_file(client, entry.modelscope, entry.revision, name) for name in names]
    else:
        if len(names) != 1:
            raise CatalogError(f"'{entry.id}': a url source downloads exactly one file, the catalog lists {len(names)}.")
        remotes = [_url_file(client, entry.url, names[0])]
    for remote, known in zip(remotes, entry.files):
        if known.size and remote.size and known.size != remote.size:
            raise DownloadError(
                f"{remote.url} is {remote.size} bytes but the catalog expects {known.size} for {known.name}: "
                "the file changed at the source. Pin the catalog entry's revision, or update its size and sha256."
            )
        if known.sha256 and remote.sha256 and known.sha256 != remote.sha256:
            raise ChecksumMismatch(
                f"The source's sha256 for {known.name} ({remote.sha256[:12]}…) is not the catalog's "
                f"({known.sha256[:12]}…): the file changed at the source. Nothing was downloaded."
            )
        remote.size = remote.size or known.size
        remote.sha256 = known.sha256 or remote.sha256
    return remotes
