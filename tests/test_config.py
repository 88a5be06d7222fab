import json
import os
import stat
import subprocess
import sys

import pytest

from chatchat.catalog import load_catalog, parse_catalog
from chatchat.config import KeyStore, load_settings, mask_key
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
    settings.top_k = 4
    settings.language = "zh"
    settings.save()
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
