"""The demo knowledge base and Hugging Face Space mode, on the real services: the packaged MiniLM
embedding model, the packaged SmolLM2 chat model, real LanceDB, no network.

Not covered here (it needs the UI's Space wiring): a browser visitor uploading, the session ending
through Gradio's unload event, and a second browser not seeing the first one's files.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from packaging.requirements import Requirement

from chatchat import policy, space
from chatchat.errors import InvalidName, NotFound
from chatchat.service import Services

from conftest import REPO, SAMPLES, UNSTRUCTURED_DOCS

DEMO_FILES = {"Chatchat 使用指南.md", "Getting started with Chatchat.md", "FAQ 常见问题.md"}


@pytest.fixture
def on_space(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACE_ID", "someone/chatchat")


def test_demo_kb_builds_offline_answers_searches_in_both_languages_and_with_the_packaged_model(
    services: Services, no_network
) -> None:
    results = space.ensure_demo_kb(services)
    assert {r.file for r in results} == DEMO_FILES
    assert all(r.status == "added" and r.chunks > 0 for r in results), results
    assert [r.status for r in space.ensure_demo_kb(services)] == ["unchanged"] * 3
    assert services.kb_info(space.DEMO_KB).description == space.DEMO_DESCRIPTION

    hits = services.search(space.DEMO_KB, "Where does Chatchat keep my files?", top_k=3)
    assert (hits[0].file, hits[0].section) == ("Getting started with Chatchat.md", "Where your data lives")
    hits = services.search(space.DEMO_KB, "7860 端口被占用了怎么办", top_k=3)
    assert hits[0].file == "FAQ 常见问题.md" and "7860" in hits[0].section
    hits = services.search(space.DEMO_KB, "刚安装好时由哪个模型回答", top_k=3)
    assert any(h.file == "Chatchat 使用指南.md" and "SmolLM2" in h.text for h in hits)

    # a fresh install answers from it at once: the packaged SmolLM2, no network
    events = list(services.answer("Which model answers on a fresh install?", kb=space.DEMO_KB,
                                  temperature=0.0, max_tokens=16))
    kinds = [e.kind for e in events]
    assert "error" not in kinds, [e.text for e in events if e.kind == "error"]
    assert kinds[-2:] == ["sources", "done"] and events[-1].text.strip()
    assert {s.kb for s in events[-2].sources} == {space.DEMO_KB}
    assert any("SmolLM2" in s.snippet for s in events[-2].sources)


def test_space_settings(on_space, settings) -> None:
    assert policy.is_space() and isinstance(policy.current(), policy.SpacePolicy)
    assert isinstance(Services.open(settings).policy, policy.SpacePolicy)  # the service asks the Space's rules
    spaced = space.space_settings(settings)
    assert spaced.host == "0.0.0.0" and spaced.allow_insecure_public and not spaced.share
    assert spaced.max_upload_mb == space.SPACE_MAX_UPLOAD_MB
    assert spaced.lite is False and spaced.default_llm == "smollm2-135m-instruct"  # the packaged model is here
    assert spaced.home == settings.home
    unknown_model = space.space_settings(settings.model_copy(update={"default_llm": "no-such-model"}))
    assert unknown_model.lite is True


def test_off_a_space_nothing_is_protected(monkeypatch, services: Services) -> None:
    monkeypatch.delenv("SPACE_ID", raising=False)
    open_policy = policy.current()
    assert not policy.is_space() and isinstance(open_policy, policy.OpenPolicy)
    anyone = policy.Caller("sess-alice-7f3a")
    open_policy.check_writable(space.DEMO_KB, anyone)
    assert open_policy.may_write(space.DEMO_KB, anyone) and open_policy.may_create(policy.Caller())
    assert open_policy.may_change_settings() and open_policy.may_manage_models()
    assert open_policy.upload_target(services, anyone, "notes") == "notes"
    assert open_policy.sees_conversation(anyone, "0123456789abcdef")


def test_visitors_share_the_demo_but_not_their_uploads(on_space, services: Services, no_network) -> None:
    visitors = policy.SpacePolicy()
    services.create_kb(space.DEMO_KB)  # its contents are the test above's
    alice, bob = policy.Caller("sess-alice-7f3a"), policy.Caller("sess-bob-91c2")
    alice_kb = visitors.upload_target(services, alice, space.DEMO_KB)
    bob_kb = visitors.upload_target(services, bob, "anything")
    assert alice_kb != bob_kb and alice.session not in alice_kb
    assert visitors.upload_target(services, alice, space.DEMO_KB) == alice_kb == visitors.own_kb(alice)
    services.add_files(alice_kb, [SAMPLES / "大模型技术栈-实战与应用.md"])
    services.add_files(bob_kb, [UNSTRUCTURED_DOCS / "fake-text.txt"])

    assert [kb.name for kb in visitors.visible_kbs(services, alice)] == sorted([space.DEMO_KB, alice_kb])
    visitors.check_visible(space.DEMO_KB, alice)
    visitors.check_visible(alice_kb, alice)
    with pytest.raises(NotFound):
        visitors.check_visible(bob_kb, alice)
    api = policy.Caller()  # REST: no session
    assert [kb.name for kb in visitors.visible_kbs(services, api)] == [space.DEMO_KB]
    with pytest.raises(NotFound):
        visitors.check_visible(alice_kb, api)
    assert {h.file for h in services.search(alice_kb, "推理框架 vllm", top_k=5)} == {"大模型技术栈-实战与应用.md"}
    assert {h.file for h in services.search(bob_kb, "推理框架 vllm", top_k=5)} <= {"fake-text.txt"}
    assert {h.file for h in services.search(alice_kb, "Hamburgers are delicious", top_k=5)} <= {"大模型技术栈-实战与应用.md"}

    with pytest.raises(policy.ProtectedKB):
        visitors.check_writable(space.DEMO_KB, alice)
    visitors.check_writable(alice_kb, alice)
    assert not visitors.may_write(space.DEMO_KB, alice) and not visitors.may_write(bob_kb, alice)
    assert visitors.may_write(alice_kb, alice)
    with pytest.raises(policy.ProtectedKB):
        visitors.check_create(alice)
    assert not visitors.may_create(alice) and not visitors.may_change_settings() and not visitors.may_manage_models()
    with pytest.raises(InvalidName):
        policy.drop_session_kb(services, space.DEMO_KB)
    with pytest.raises(InvalidName):
        policy.session_kb_name("")

    visitors.end_session(services, alice)
    visitors.end_session(services, alice)  # the session ends twice (tab closed, then timeout): no error
    assert not services.store.exists(alice_kb) and services.store.exists(bob_kb)
    assert not (services.settings.kb_dir / alice_kb).exists()
    assert visitors.end_all_sessions(services) == [bob_kb]
    assert [kb.name for kb in services.list_kbs()] == [space.DEMO_KB]


def test_visitors_see_only_the_conversations_they_started(on_space, services: Services) -> None:
    visitors = policy.SpacePolicy()
    alice, bob = policy.Caller("sess-alice-7f3a"), policy.Caller("sess-bob-91c2")
    hers, his = services.conversations.create(), services.conversations.create()
    visitors.started_conversation(alice, hers.id)
    visitors.started_conversation(bob, his.id)
    assert visitors.sees_conversation(alice, hers.id) and not visitors.sees_conversation(alice, his.id)
    assert [c.id for c in visitors.visible_conversations(alice, services.conversations.list())] == [hers.id]
    assert visitors.visible_conversations(policy.Caller(), services.conversations.list()) == []
    with pytest.raises(NotFound):
        visitors.check_conversation(alice, his.id)
    visitors.end_session(services, alice)  # her conversations go with her session
    assert not services.conversations.exists(hers.id) and services.conversations.exists(his.id)
    assert not visitors.sees_conversation(alice, hers.id)


def test_build_space_assembles_a_space_folder(tmp_path: Path) -> None:
    tomllib = pytest.importorskip("tomllib")
    out = tmp_path / "space"
    subprocess.run([sys.executable, str(REPO / "installer/space/build_space.py"), str(out)], check=True)
    front = (out / "README.md").read_text(encoding="utf-8").split("---\n")[1]
    assert "sdk: gradio" in front and "app_file: app.py" in front
    for path in ("app.py", "models.yaml", "chatchat/space.py", "assets/demo/FAQ 常见问题.md",
                 "assets/embeddings/all-MiniLM-L6-v2/tokenizer.json"):
        assert (out / path).is_file(), path
    assert not list(out.rglob("__pycache__")) and not (out / "tests").exists()

    # requirements.txt: the app's dependencies and the local extra, exactly; gradio's version is the SDK's
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {str(Requirement(r)) for r in [*project["dependencies"], *project["optional-dependencies"]["local"]]}
    lines = (out / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert {str(Requirement(line)) for line in lines if line.strip() and not line.startswith(("#", "-"))} == wanted
    assert "--extra-index-url https://abetlen.github.io/llama-cpp-python/whl/cpu" in lines
    gradio_pin = re.search(r"gradio>=([\d.]+)", " ".join(project["dependencies"])).group(1)
    assert re.search(rf"sdk_version: {re.escape(gradio_pin)}(\.\d+)?\n", front)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(url: str, body: dict | None = None, method: str | None = None) -> tuple[int, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


@pytest.fixture(scope="module")
def space_app(tmp_path_factory: pytest.TempPathFactory):
    """app.py started as on a Space (SPACE_ID set), cold, on a fresh data dir; its base URL."""
    folder = tmp_path_factory.mktemp("space-app")
    port = _free_port()
    env = {**os.environ, "SPACE_ID": "someone/chatchat", "CHATCHAT_HOME": str(folder / "home"),
           "CHATCHAT_PORT": str(port), "HF_HUB_OFFLINE": "1"}
    output = folder / "app.log"
    with output.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, output.read_text()
            try:
                with urllib.request.urlopen(base + "/", timeout=3) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "app.py did not answer within 240 s"
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_app_py_on_a_space_serves_the_demo(space_app: str) -> None:
    status, hits = _call(f"{space_app}/api/knowledge_bases/{space.DEMO_KB}/search",
                         {"query": "Where does Chatchat keep my files?", "top_k": 3})
    assert status == 200 and "Getting started with Chatchat.md" in json.dumps(hits, ensure_ascii=False)


def test_app_py_on_a_space_rest_api_shows_only_the_demo_and_changes_nothing(space_app: str) -> None:
    status, _ = _call(f"{space_app}/api/knowledge_bases", {"name": "intruder"})
    assert status == 403
    status, _ = _call(f"{space_app}/api/knowledge_bases/{space.DEMO_KB}/documents/{quote('FAQ 常见问题.md')}",
                      method="DELETE")
    assert status == 403
    status, listed = _call(f"{space_app}/api/knowledge_bases")
    assert [kb["name"] for kb in listed["data"]] == [space.DEMO_KB]
