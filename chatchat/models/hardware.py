"""What this machine has (CPU, RAM, disk, GPUs) and whether a model fits in it.

GPUs are read through pynvml when it is installed, else `nvidia-smi`; neither is required.
Memory need = weights + KV cache for the context + compute buffers (+ the embedding model when
asked). Weights are the file size when known, else parameters × bytes per parameter by
quantisation (the design's rule: int8 ≈ 1.5 × int4, fp16 ≈ 2.5 × int4).
Speed on CPU: generating a token reads every weight once, so tokens/s ≈ memory bandwidth / weights,
and on a small machine the bandwidth llama.cpp reaches grows with the cores that stream the weights.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil

from chatchat.models.catalog import Catalog, EmbeddingEntry, LLMEntry

MB = 1 << 20
INT4_BYTES_PER_PARAM = 0.6  # Q4_K_M / GPTQ-int4 incl. scales and the unquantised embeddings
BITS_FACTOR = {2: 0.65, 3: 0.85, 4: 1.0, 5: 1.2, 6: 1.35, 8: 1.5, 16: 2.5, 32: 5.0}
KV_BYTES_PER_TOKEN_PER_B = 16 * 1024  # fallback when the architecture is unknown (GQA models: 7–24 KB)
# llama.cpp compute buffers after a full 512-token micro-batch (a RAG prompt), measured on the two
# packaged GGUFs (bench/bench_download.py): about 30 MB plus 240 bytes per vocabulary entry
RUNTIME_MB = 30
BUFFER_BYTES_PER_VOCAB = 240
DEFAULT_VOCAB = 128_000
GPU_CONTEXT_MB = 500  # CUDA context + kernels, on the GPU
ONNX_RUNTIME_MB = 120  # onnxruntime session, tokenizer and a batch of 32, measured with the packaged MiniLM
FITS_SHARE = 0.8  # need ≤ 80% of what is free: fits; ≤ 100%: tight
PARAMS_B_PER_CORE = 1.0  # on CPU only, bigger models answer slower than people read
# bandwidth llama.cpp reaches per physical core: SmolLM2 (98 MB) at ~150 tokens/s on 2 EPYC cores
# (OFFLINE.md) gives 7 GB/s, but part of so small a model stays in the caches, so a lower figure for the
# multi-GB models this judges; up to what a desktop's dual-channel memory gives
CPU_BYTES_PER_S_PER_CORE = 5.0e9
CPU_BYTES_PER_S_MAX = 50e9
SLOW_TOKENS_PER_S = 5.0  # below this an answer comes slower than people read

Fit = Literal["fits", "tight", "no"]


@dataclass
class GPU:
    index: int
    name: str
    total_mb: int
    free_mb: int


@dataclass
class Hardware:
    os: str
    python: str
    cpu: str
    cores: int  # physical
    threads: int  # logical
    ram_total_mb: int
    ram_available_mb: int
    disk_path: str
    disk_free_mb: int
    gpus: list[GPU] = field(default_factory=list)
    gpu_driver: str | None = None
    gpu_source: str | None = None  # "pynvml" or "nvidia-smi"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus_pynvml() -> tuple[list[GPU], str | None] | None:
    if importlib.util.find_spec("pynvml") is None:
        return None
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            gpus.append(GPU(index, name.decode() if isinstance(name, bytes) else name, memory.total // MB, memory.free // MB))
        driver = pynvml.nvmlSystemGetDriverVersion()
        return gpus, driver.decode() if isinstance(driver, bytes) else driver
    finally:
        pynvml.nvmlShutdown()


def _gpus_smi() -> tuple[list[GPU], str | None] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    query = "--query-gpu=index,name,memory.total,memory.free,driver_version"
    try:
        out = subprocess.run([exe, query, "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    gpus, driver = [], None
    for line in out.stdout.strip().splitlines():
        index, name, total, free, driver = (part.strip() for part in line.split(","))
        gpus.append(GPU(int(index), name, int(float(total)), int(float(free))))
    return gpus, driver


def detect_gpus() -> tuple[list[GPU], str | None, str | None]:
    """NVIDIA GPUs with free memory, the driver version, and which tool told us."""
    for source, probe in (("pynvml", _gpus_pynvml), ("nvidia-smi", _gpus_smi)):
        found = probe()
        if found is not None and found[0]:
            return found[0], found[1], source
    return [], None, None


def detect(path: Path | None = None) -> Hardware:
    """The machine now; `path` is where models go (its disk's free space is reported)."""
    memory = psutil.virtual_memory()
    disk = Path(path or Path.home())
    while not disk.exists():
        disk = disk.parent
    gpus, driver, source = detect_gpus()
    return Hardware(
        os=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
        cpu=_cpu_name(),
        cores=psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        threads=psutil.cpu_count() or 1,
        ram_total_mb=memory.total // MB,
        ram_available_mb=memory.available // MB,
        disk_path=str(disk),
        disk_free_mb=shutil.disk_usage(disk).free // MB,
        gpus=gpus,
        gpu_driver=driver,
        gpu_source=source,
    )


def gpu_engines(hw: Hardware) -> frozenset[str]:
    """The local engines that can put a model on this machine's GPU."""
    if not hw.gpus:
        return frozenset()
    found = set()
    if importlib.util.find_spec("llama_cpp") is not None:
        try:
            from llama_cpp import llama_supports_gpu_offload

            if llama_supports_gpu_offload():
                found.add("llama.cpp")
        except (ImportError, OSError):  # a broken native library is doctor's to report
            pass
    if importlib.util.find_spec("gptqmodel") is not None and importlib.util.find_spec("torch") is not None:
        found.add("gptq")
    return frozenset(found)


# ---------------------------------------------------------------------------------------------
# Memory need


def quant_bits(quantization: str) -> int:
    """Bits per weight named by a quantisation label: Q4_K_M → 4, GPTQ-Int4 → 4, Q8_0 → 8, F16 → 16."""
    label = quantization.upper()
    if re.search(r"(BF|F|FP)16", label):
        return 16
    if re.search(r"F32|FP32", label):
        return 32
    match = re.search(r"(?:IQ|Q|INT)(\d)", label)
    return int(match.group(1)) if match else 4


@dataclass
class Architecture:
    layers: int
    kv_heads: int
    head_dim: int
    vocab: int = DEFAULT_VOCAB

    @property
    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * 2  # K and V, f16


def gguf_architecture(path: Path) -> Architecture | None:
    """Layer count, KV heads, head size and vocabulary from a GGUF header."""
    from chatchat.llm.gguf import read_metadata

    meta = read_metadata(path)
    arch = meta.get("general.architecture")
    layers = meta.get(f"{arch}.block_count")
    heads = meta.get(f"{arch}.attention.head_count")
    kv_heads = meta.get(f"{arch}.attention.head_count_kv", heads)
    if not (layers and heads and kv_heads):
        return None
    head_dim = meta.get(f"{arch}.attention.key_length") or meta[f"{arch}.embedding_length"] // heads
    vocab = len(meta.get("tokenizer.ggml.tokens") or []) or DEFAULT_VOCAB
    return Architecture(layers, kv_heads, head_dim, vocab)


@dataclass
class Estimate:
    weights_mb: int
    kv_mb: int
    buffers_mb: int
    embedding_mb: int
    context: int

    @property
    def total_mb(self) -> int:
        return self.weights_mb + self.kv_mb + self.buffers_mb + self.embedding_mb


def weights_bytes(entry: LLMEntry | EmbeddingEntry) -> int | None:
    if entry.files and all(f.size for f in entry.files):
        return sum(f.size for f in entry.files)
    if entry.size_mb:
        return int(entry.size_mb * MB)
    params = getattr(entry, "params_b", None)
    if params:
        factor = BITS_FACTOR.get(quant_bits(getattr(entry, "quantization", "")), 1.0)
        return int(params * 1e9 * INT4_BYTES_PER_PARAM * factor)
    return None


def embedding_need_mb(entry: EmbeddingEntry) -> int:
    """An ONNX embedding model in onnxruntime: about its file size again in arenas, plus the runtime."""
    if not entry.is_local:
        return 0
    return int(2 * (weights_bytes(entry) or 0) / MB) + ONNX_RUNTIME_MB


def estimate(
    entry: LLMEntry,
    context: int | None = None,
    embedding: EmbeddingEntry | None = None,
    model_path: Path | None = None,
) -> Estimate:
    """Memory a local LLM needs at `context` tokens (default: its catalog context).

    `model_path`, an installed GGUF, gives the exact file size and architecture.
    """
    context = context or entry.context
    size = model_path.stat().st_size if model_path is not None and model_path.is_file() else weights_bytes(entry)
    arch = gguf_architecture(model_path) if model_path is not None and model_path.suffix == ".gguf" else None
    if arch is None and entry.n_layers and entry.n_kv_heads and entry.head_dim:
        arch = Architecture(entry.n_layers, entry.n_kv_heads, entry.head_dim, entry.vocab or DEFAULT_VOCAB)
    if arch is not None:
        kv_per_token = arch.kv_bytes_per_token
        vocab = arch.vocab
    else:
        params_b = entry.params_b or (size or 0) / (INT4_BYTES_PER_PARAM * 1e9)
        kv_per_token = int(params_b * KV_BYTES_PER_TOKEN_PER_B)
        vocab = entry.vocab or DEFAULT_VOCAB
    buffers = vocab * BUFFER_BYTES_PER_VOCAB + RUNTIME_MB * MB
    return Estimate(
        weights_mb=int((size or 0) / MB),
        kv_mb=int(kv_per_token * context / MB),
        buffers_mb=int(buffers / MB),
        embedding_mb=embedding_need_mb(embedding) if embedding is not None else 0,
        context=context,
    )


# ---------------------------------------------------------------------------------------------
# Fit


@dataclass
class FitReport:
    model_id: str
    need_mb: int
    cpu: Fit
    gpu: Fit | None  # None: no GPU here, or the engine cannot use one
    note: str = ""
    cpu_tokens_per_s: float | None = None  # expected answer speed on this CPU (local LLMs)

    @property
    def slow(self) -> bool:
        """It would run on the CPU (no GPU that fits), slower than people read."""
        return (self.gpu != "fits" and self.cpu_tokens_per_s is not None
                and self.cpu_tokens_per_s < SLOW_TOKENS_PER_S)


def verdict(need_mb: int, available_mb: int) -> Fit:
    if need_mb <= available_mb * FITS_SHARE:
        return "fits"
    return "tight" if need_mb <= available_mb else "no"


def cpu_tokens_per_s(weights_mb: int, hw: Hardware) -> float:
    """Expected generation speed of a model with these weights on this machine's CPU."""
    bandwidth = min(hw.cores * CPU_BYTES_PER_S_PER_CORE, CPU_BYTES_PER_S_MAX)
    return bandwidth / max(weights_mb * MB, 1)


def gpu_memory_mb(hw: Hardware, count: int = 1) -> int:
    """Free VRAM of the `count` GPUs with the most free memory."""
    free = sorted((g.free_mb for g in hw.gpus), reverse=True)[:count]
    return sum(free)


def fit(
    entry: LLMEntry | EmbeddingEntry,
    hw: Hardware,
    context: int | None = None,
    embedding: EmbeddingEntry | None = None,
    model_path: Path | None = None,
) -> FitReport:
    """Whether a model fits this machine's free RAM (CPU) and free VRAM (GPU)."""
    if isinstance(entry, EmbeddingEntry):
        need = embedding_need_mb(entry)
        return FitReport(entry.id, need, verdict(need, hw.ram_available_mb), None)
    if entry.engine == "openai":
        return FitReport(entry.id, 0, "fits", None, "runs at the provider")
    est = estimate(entry, context, embedding, model_path)
    gpu: Fit | None = None
    if hw.gpus and entry.engine in ("llama.cpp", "gptq"):
        gpu = verdict(est.total_mb - est.embedding_mb + GPU_CONTEXT_MB, gpu_memory_mb(hw, entry.num_gpus))
    if entry.engine == "gptq":
        return FitReport(entry.id, est.total_mb, "no", gpu, "GPTQ models need a CUDA GPU")
    speed = cpu_tokens_per_s(est.weights_mb, hw)
    return FitReport(entry.id, est.total_mb, verdict(est.total_mb, hw.ram_available_mb), gpu, cpu_tokens_per_s=speed)


def recommend(
    catalog: Catalog,
    hw: Hardware,
    gpu_engines: frozenset[str] = frozenset(),
    embedding: EmbeddingEntry | None = None,
) -> LLMEntry | None:
    """The largest first-run candidate (catalog `recommended`) that fits this machine.

    `gpu_engines`: the engines that can use this machine's GPU (`gpu_engines(hw)`);
    on CPU only, models past ~1B parameters per physical core are passed over as too slow.
    """
    candidates = [e for e in catalog.llms.values() if e.recommended and e.chat and e.engine != "openai"]
    for entry in sorted(candidates, key=lambda e: e.params_b or 0, reverse=True):
        report = fit(entry, hw, embedding=embedding)
        if report.gpu == "fits" and entry.engine in gpu_engines:
            return entry
        if report.cpu == "fits" and (entry.params_b or 0) <= max(hw.cores * PARAMS_B_PER_CORE, 1.0):
            return entry
    return None
