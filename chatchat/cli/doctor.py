"""`chatchat doctor`: what this machine has, which engines work, and what to fix. Never uses the network."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import importlib.util
import json
import platform
import socket
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, Literal

from chatchat.cli import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:  # imported when the checks run, not for `chatchat --help`
    from chatchat.config import Settings
    from chatchat.models import hardware

Status = Literal["ok", "warn", "fail"]


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    optional: bool = False  # an optional part that is missing: listed under "Optional", not "What to fix"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check Python, hardware, engines, data dir and port; say what to fix")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_doctor)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _python() -> Check:
    version = platform.python_version()
    ok = (3, 10) <= sys.version_info[:2] < (3, 13)
    return Check("python", "ok" if ok else "fail", f"Python {version} ({sys.executable})",
                 "" if ok else "Chatchat needs Python 3.10, 3.11 or 3.12.")


def _machine(hw: hardware.Hardware) -> list[Check]:
    from chatchat.models.downloads import human

    checks = [
        Check("os", "ok", hw.os),
        Check("cpu", "ok", f"{hw.cpu}: {hw.cores} cores, {hw.threads} threads"),
        Check("ram", "ok" if hw.ram_available_mb >= 2048 else "warn",
              f"{human(hw.ram_available_mb * 2**20)} free of {human(hw.ram_total_mb * 2**20)}",
              "" if hw.ram_available_mb >= 2048 else "Under 2 GB free: close programs, or use a cloud model (lite mode)."),
        Check("disk", "ok" if hw.disk_free_mb >= 5 * 1024 else "warn",
              f"{human(hw.disk_free_mb * 2**20)} free at {hw.disk_path}",
              "" if hw.disk_free_mb >= 5 * 1024 else "Under 5 GB free: a 7B model needs ~5 GB. Free space or set CHATCHAT_HOME."),
    ]
    if hw.gpus:
        for gpu in hw.gpus:
            checks.append(Check(f"gpu{gpu.index}", "ok",
                                f"{gpu.name}: {human(gpu.free_mb * 2**20)} free of {human(gpu.total_mb * 2**20)}, "
                                f"driver {hw.gpu_driver} (via {hw.gpu_source})"))
    else:
        checks.append(Check("gpu", "ok", "no NVIDIA GPU found (nvidia-smi / pynvml): models run on the CPU"))
    return checks


def _probe(name: str, module: str, dist: str, extra: str, detail: Callable[[object], str] | None = None,
           needed_for: str | None = None) -> Check:
    """An engine's state; `needed_for` names what an optional engine is for (a required one has none)."""
    if importlib.util.find_spec(module) is None:
        if needed_for:
            return Check(name, "ok", f"not installed (only needed for {needed_for})", f"pip install 'chatchat[{extra}]'",
                         optional=True)
        return Check(name, "fail", "not installed", f"pip install 'chatchat[{extra}]'")
    try:
        # Some engines (gptqmodel) print banners on import; keep stdout for the report (--json).
        with contextlib.redirect_stdout(sys.stderr):
            imported = importlib.import_module(module)
    except Exception as exc:  # a broken native library can raise anything on import
        return Check(name, "fail", f"installed ({_version(dist)}) but does not import: {exc.__class__.__name__}: {exc}",
                     f"reinstall it: pip install --force-reinstall {dist}")
    return Check(name, "ok", f"{_version(dist)}" + (f", {detail(imported)}" if detail else ""))


def _engines(hw: hardware.Hardware) -> list[Check]:
    def llama_detail(module) -> str:
        return "GPU offload built in" if module.llama_supports_gpu_offload() else "CPU build (no GPU offload)"

    def onnx_detail(module) -> str:
        return "providers " + ", ".join(module.get_available_providers())

    checks = [
        _probe("llama.cpp", "llama_cpp", "llama-cpp-python", "local", llama_detail),
        _probe("ctransformers", "ctransformers", "ctransformers", "legacy", needed_for="legacy GGML models"),
        _probe("gptqmodel", "gptqmodel", "gptqmodel", "gptq", needed_for="GPTQ models on an NVIDIA GPU"),
        _probe("onnxruntime", "onnxruntime", "onnxruntime", "gpu", onnx_detail),
    ]
    llama = checks[0]
    if hw.gpus and llama.status == "ok" and "CPU build" in llama.detail:
        llama.status, llama.fix = "warn", (
            "A GPU is present but llama.cpp was built for CPU: "
            "CMAKE_ARGS='-DGGML_CUDA=on' pip install --force-reinstall --no-cache-dir llama-cpp-python"
        )
    return checks


def _data_dir(settings: Settings) -> Check:
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.home):
            pass
    except OSError as exc:
        return Check("data dir", "fail", f"{settings.home} is not writable: {exc}",
                     "Set CHATCHAT_HOME (or --home) to a folder you can write.")
    return Check("data dir", "ok", f"{settings.home} is writable")


def _port(settings: Settings) -> Check:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((settings.host, settings.port))
        except OSError as exc:
            return Check("port", "warn", f"{settings.host}:{settings.port} is taken ({exc.strerror})",
                         f"Another program (or Chatchat) uses it: stop it, or set CHATCHAT_PORT={settings.port + 1}.")
    return Check("port", "ok", f"{settings.host}:{settings.port} is free")


def _hub(settings: Settings) -> Check:
    from chatchat.models.sources import HF_DEFAULT_ENDPOINT, hf_endpoint

    endpoint = hf_endpoint(settings)
    mirrored = endpoint != HF_DEFAULT_ENDPOINT
    return Check("model source", "ok", f"{settings.download_source}: Hugging Face via {endpoint}"
                 + ("; ModelScope available" if importlib.util.find_spec("modelscope") else ""),
                 "" if mirrored else "In mainland China pick a mirror (e.g. https://hf-mirror.com) in the Settings tab "
                 "under Model downloads (hf_endpoint in settings.yaml) to download models faster.")


def _embeddings(settings: Settings) -> Check:
    """Which embedding model new knowledge bases get, and why when it is the English fallback."""
    from chatchat.models.catalog import load_catalog
    from chatchat.retrieval.embeddings import EmbedderPool

    model, why = EmbedderPool(settings, load_catalog(user_path=settings.home / "models.yaml")).default_for_new_kb()
    return Check("embeddings", "ok", f"new knowledge bases use {model}", why or "")


def checks(settings: Settings) -> list[Check]:
    from chatchat.models import hardware

    hw = hardware.detect(settings.models_dir)
    return [_python(), *_machine(hw), *_engines(hw), _embeddings(settings), _data_dir(settings), _port(settings),
            _hub(settings)]


def _doctor(args: argparse.Namespace) -> int:
    from chatchat.config import load_settings

    results = checks(load_settings(home=args.home))
    if args.json:
        print(json.dumps([asdict(c) for c in results], ensure_ascii=False, indent=2))
    else:
        for c in results:
            print(f"[{c.status:^4}] {c.name:<14} {c.detail}")
        fixes = [c for c in results if c.fix and c.status != "ok"]
        if fixes:
            print("\nWhat to fix:")
            for c in fixes:
                print(f"  - {c.name}: {c.fix}")
        optional = [c for c in results if c.optional]
        if optional:
            print("\nOptional:")
            for c in optional:
                print(f"  - {c.name}: {c.detail}; to add it: {c.fix}")
        tips = [c for c in results if c.fix and c.status == "ok" and not c.optional]
        if tips:
            print()
        for c in tips:
            print(f"  tip ({c.name}): {c.fix}")
    return EXIT_FAILED if any(c.status == "fail" for c in results) else EXIT_OK
