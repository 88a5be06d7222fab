"""The GPTQ engine on a real GPTQ model: the test builds a tiny random Llama (2 layers, hidden 256,
the packaged MiniLM tokenizer with a ChatML template), quantises it to 4-bit with gptqmodel on the
CPU, installs it as a catalog model and runs it through the manager. Its words are random; what is
tested is the engine: loading, streaming, stop, cancel, errors."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import yaml

from chatchat.models.catalog import load_catalog
from chatchat.config import load_settings
from chatchat.errors import ModelError
from chatchat.models.layout import COMPLETE_MARKER
from chatchat.resources import ASSETS_DIR
from chatchat.llm import LLMManager

from conftest import UNSTRUCTURED_DOCS

NEEDED = ["torch", "transformers", "gptqmodel", "optimum"]
pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in NEEDED),
    reason="the gptq extra is not installed (torch, transformers, gptqmodel, optimum): pip install 'chatchat[gptq]'",
)

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
MESSAGES = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Tell me about test documents."}]


def build_tiny_gptq(target: Path) -> None:
    os.environ.setdefault("GPTQMODEL_CPU_WORKERS", "2")  # gptqmodel's worker pool fails on 2 cores otherwise
    import torch
    from gptqmodel import GPTQModel, QuantizeConfig
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(ASSETS_DIR / "embeddings" / "all-MiniLM-L6-v2")
    tokenizer.chat_template = CHATML
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    plain = target.with_name(target.name + "-fp32")
    LlamaForCausalLM(config).save_pretrained(plain)
    tokenizer.save_pretrained(plain)
    lines = [line for line in (UNSTRUCTURED_DOCS / "fake-text.txt").read_text().splitlines() if line.strip()]
    calibration = [{k: v for k, v in tokenizer(line).items() if k != "token_type_ids"} for line in lines * 4][:32]
    model = GPTQModel.load(str(plain), QuantizeConfig(bits=4, group_size=128, desc_act=False), device="cpu")
    model.quantize(calibration, batch_size=4)
    model.save(str(target))


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory):
    settings = load_settings(tmp_path_factory.mktemp("gptq-home"), llm_threads=1)
    folder = settings.models_dir / "tiny-gptq"
    build_tiny_gptq(folder)
    (folder / COMPLETE_MARKER).write_text("quantised by the test")
    plain = settings.models_dir / "tiny-fp32"
    shutil.move(str(folder.with_name("tiny-gptq-fp32")), plain)
    (plain / COMPLETE_MARKER).write_text("test")
    entry = {"engine": "gptq", "hf": "test/tiny", "files": [{"name": "config.json"}], "context": 512}
    user = {"llms": [{"id": "tiny-gptq", "name": "tiny GPTQ", **entry}, {"id": "tiny-fp32", "name": "tiny fp32", **entry}]}
    (settings.home / "models.yaml").write_text(yaml.safe_dump(user))
    llms = LLMManager(settings, load_catalog(user_path=settings.home / "models.yaml"))
    yield llms
    llms.unload_all()


def test_quantised_model_loads_on_cpu_and_streams(manager):
    model = manager.get("tiny-gptq")
    assert json.loads((manager.settings.models_dir / "tiny-gptq" / "config.json").read_text())["quantization_config"]["bits"] == 4
    assert type(model.model.model.layers[0].self_attn.q_proj).__module__.startswith("gptqmodel.")
    deltas = list(model.chat(MESSAGES, temperature=0, max_tokens=8))
    assert deltas and "".join(deltas).strip()
    assert "".join(model.complete("This is a test", temperature=0.7, max_tokens=4)).strip()
    assert model.count_tokens("test documents") == 2
    tool = {"type": "function", "function": {"name": "search", "parameters": {"type": "object", "properties": {}}}}
    with pytest.raises(ModelError, match="cannot call tools") as refused:
        model.chat(MESSAGES, tools=[tool])  # refused before any work
    assert refused.value.key == "no_tools"


def test_cancel_stops_generate_and_frees_the_model(manager):
    model = manager.get("tiny-gptq")
    cancel = threading.Event()
    received = 0
    for _ in model.chat(MESSAGES, temperature=0, max_tokens=200, cancel=cancel):
        received += 1
        if received == 3:
            cancel.set()
            cancelled_at = time.monotonic()
    assert received == 3 and time.monotonic() - cancelled_at < 5
    assert not model._lock.locked()
    assert not [t for t in threading.enumerate() if t.name == "gptq-tiny-gptq"]  # generate() has returned


def test_prompt_longer_than_the_context_and_non_gptq_folders(manager):
    model = manager.get("tiny-gptq")
    with pytest.raises(ModelError, match="too long for model 'tiny-gptq' \\(context 512\\)"):
        list(model.complete("test " * 600, max_tokens=4))
    with pytest.raises(ModelError, match="tiny-fp32 is not a GPTQ-quantised model"):
        manager.get("tiny-fp32")
    assert manager.loaded() == ["tiny-gptq"]  # a refused model does not unload the current one
