"""Where the store lives: the local data dir, or object storage named by the setting `db_uri`.

`s3://bucket/prefix` (AWS or any S3-compatible store: MinIO, SeaweedFS, Ceph, OSS, COS), `gs://bucket/prefix`
or `az://container/prefix` hold everything a knowledge base keeps: the LanceDB tables below `<prefix>/lancedb`
and kb.json and the originals below `<prefix>/knowledge_bases`, so a rebuild works from any machine.
`db://name` (LanceDB Cloud, key "lancedb" in keys.yaml or LANCEDB_API_KEY) holds the tables only; kb.json
and the originals then stay in the local data dir.

Credentials: the standard env vars (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
AWS_ENDPOINT_URL or AWS_ENDPOINT; Google's and Azure's own), overridden by the setting `db_storage_options`
(LanceDB's option names). The same options reach LanceDB and pyarrow.fs.

Several instances on one store: LanceDB 0.40 commits a table version with a conditional put, so two
writers appending to one table at once both succeed (checked on SeaweedFS's S3 API). What is NOT safe across
instances: two writers of the same document (name) at once, deleting or switching the embedding of a knowledge
base another instance has open (each instance reads kb.json once), and a second instance starting while the
first ingests (its start-up cleanup rolls back rows it sees 'ingesting'). The write lock
(KnowledgeBase.writing) holds across threads and processes of one machine only. Another instance's new
documents are seen within `db_read_consistency_s`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chatchat.retrieval.blobs import Blobs, LocalBlobs, ObjectBlobs

if TYPE_CHECKING:
    import pyarrow.fs as pafs

    from chatchat.config import Settings

# LanceDB's option names and the env vars they default to, first one set wins
ENV_OPTIONS = {
    "aws_access_key_id": ("AWS_ACCESS_KEY_ID",),
    "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "aws_session_token": ("AWS_SESSION_TOKEN",),
    "aws_region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "aws_endpoint": ("AWS_ENDPOINT_URL", "AWS_ENDPOINT"),
    "azure_storage_account_name": ("AZURE_STORAGE_ACCOUNT_NAME",),
    "azure_storage_account_key": ("AZURE_STORAGE_ACCOUNT_KEY",),
}


@dataclass
class Location:
    """What a Store opens: LanceDB at `tables` with `connect` options, blobs (one folder per knowledge base)
    and a local folder (`local`: write locks, staging, the cache originals are staged to)."""

    tables: str
    blobs: Blobs
    local: Path
    connect: dict[str, Any] = field(default_factory=dict)
    shared: bool = False  # on object storage: other instances may write too

    @classmethod
    def folder(cls, kb_dir: Path, db_dir: Path) -> "Location":
        """Today's layout: everything in the data dir, every read sees the latest write."""
        return cls(str(db_dir), LocalBlobs(kb_dir), kb_dir, {"read_consistency_interval": timedelta(0)})


def storage_options(settings: Settings) -> dict[str, str]:
    """The env vars' options, then the setting's."""
    options = {}
    for name, variables in ENV_OPTIONS.items():
        value = next((os.environ[v] for v in variables if os.environ.get(v)), None)
        if value:
            options[name] = value
    options.update(settings.db_storage_options)
    if options.get("aws_endpoint", "").startswith("http://"):
        options.setdefault("allow_http", "true")
    return options


def locate(settings: Settings) -> Location:
    """The store the settings name (`db_uri`; empty: the data dir)."""
    if not settings.db_uri:
        return Location.folder(settings.kb_dir, settings.db_dir)
    interval = timedelta(seconds=settings.db_read_consistency_s)
    cache = settings.home / "kb_cache"
    if settings.db_uri.startswith("db://"):
        from chatchat.config import KeyStore

        connect = {"api_key": KeyStore(settings.home).get("lancedb", "LANCEDB_API_KEY"),
                   "read_consistency_interval": interval}
        region = settings.db_storage_options.get("region")
        if region:
            connect["region"] = region
        return Location(settings.db_uri, LocalBlobs(settings.kb_dir), settings.kb_dir, connect, shared=True)
    options = storage_options(settings)
    fs, base = object_filesystem(settings.db_uri, options)
    connect = {"storage_options": options, "read_consistency_interval": interval}
    blobs = ObjectBlobs(fs, f"{base}/knowledge_bases", cache)
    return Location(f"{settings.db_uri}/lancedb", blobs, cache, connect, shared=True)


def object_filesystem(uri: str, options: dict[str, str]) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of an s3://, gs:// or az:// uri and the path below it (`bucket/prefix`)."""
    import pyarrow.fs as pafs

    parts = urlsplit(uri)
    base = f"{parts.netloc}{parts.path}".rstrip("/")
    if parts.scheme == "s3":
        endpoint = options.get("aws_endpoint", "")
        scheme = urlsplit(endpoint).scheme if "://" in endpoint else "https"
        fs = pafs.S3FileSystem(
            access_key=options.get("aws_access_key_id"),
            secret_key=options.get("aws_secret_access_key"),
            session_token=options.get("aws_session_token"),
            region=options.get("aws_region", "us-east-1"),
            endpoint_override=endpoint.split("://", 1)[-1] or None,
            scheme=scheme,
            allow_delayed_open=True,  # a small object is one PutObject, not a multipart upload (moto refuses those)
        )
    elif parts.scheme == "az":
        fs = pafs.AzureFileSystem(
            account_name=options.get("azure_storage_account_name", ""),
            account_key=options.get("azure_storage_account_key"),
        )
    else:  # gs: Google's default credentials
        fs, _ = pafs.FileSystem.from_uri(uri)
    return fs, base
