"""Internal knowledge bases (a file chat's attachments, `chatchat ask --files`, a Space visitor's uploads)
appear in no list: not in the service, the UI's dropdown, the REST and seed listings, /v1/models or
`chatchat kb list`, including ones made before the owner field existed and ones a crash left behind.
Real services on a temp dir, the packaged MiniLM embedder, the real app over HTTP, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import httpx
import pytest

from api_server import running
from chatchat import policy
from chatchat.errors import NotFound
from chatchat.service import Services
from chatchat.ui.common import kb_choices
from conftest import REPO, SAMPLES, UNSTRUCTURED_DOCS

TEXT = UNSTRUCTURED_DOCS / "fake-text.txt"


def legacy(services: Services, name: str) -> None:
    """A knowledge base as the app made them before owners were recorded: kb.json without `owner`."""
    services.create_kb(name)
    meta = services.store.get(name).folder / "kb.json"
    data = json.loads(meta.read_text(encoding="utf-8"))
    del data["owner"]
    meta.write_text(json.dumps(data), encoding="utf-8")


def names_everywhere(services: Services, settings) -> dict[str, list[str]]:
    """The knowledge-base names each face lists."""
    with running(settings, services) as base, httpx.Client(base_url=base, timeout=60) as client:
        rest = [kb["name"] for kb in client.get("/api/knowledge_bases").json()["data"]]
        seed = client.get("/knowledge_base/list_knowledge_bases").json()["data"]
        models = [m["id"] for m in client.get("/v1/models").json()["data"] if m["kind"] == "knowledge_base"]
        hidden_docs = client.get("/api/knowledge_bases/_conv-0123456789abcdef/documents").status_code
    cli = subprocess.run(
        [sys.executable, "-m", "chatchat", "--home", str(settings.home), "kb", "list"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    return {
        "service": [kb.name for kb in services.list_kbs()],
        "ui": [name for _, name in kb_choices(services, policy.Caller(), "en")],
        "rest": rest,
        "seed": seed,
        "models": [m.removeprefix("kb:") for m in models],
        "cli": [line.split("\t")[0] for line in cli.stdout.splitlines() if line.strip()],
        "rest_hidden_status": [str(hidden_docs)],
    }


def test_internal_kbs_are_listed_nowhere(settings, services):
    services.create_kb("notes")
    chat = services.conversations.create()
    services.attach_files(chat.id, [TEXT])  # a file chat's own knowledge base
    services.create_kb("_ask-1a2b3c4d", owner=policy.ASK)
    legacy(services, "_ask-deadbeef")  # left by an `ask` that crashed before owners existed
    legacy(services, "_visitor-0123456789abcdef01234567")
    reopened = Services.open(settings)  # the next start reads them afresh
    assert reopened.kb_info("_ask-deadbeef").owner == policy.ASK  # recognised once, then stored
    assert json.loads((reopened.store.get("_ask-deadbeef").folder / "kb.json").read_text())["owner"] == policy.ASK
    assert reopened.kb_info("_visitor-0123456789abcdef01234567").owner.startswith(policy.VISITOR)
    listed = names_everywhere(reopened, settings)
    assert listed == {face: ["notes"] for face in listed} | {"rest_hidden_status": ["404"]}, listed
    with pytest.raises(NotFound) as missing:  # the message lists what exists: the person's knowledge bases only
        reopened.kb_info("nope")
    assert "notes" in missing.value.message and "_conv" not in missing.value.message and "_ask" not in missing.value.message


def test_a_file_chat_kb_whose_conversation_is_gone_is_dropped_at_start(settings, services):
    store = services.conversations
    kept, crashed = store.create(), store.create()
    services.attach_files(kept.id, [TEXT])
    services.attach_files(crashed.id, [TEXT])
    kept_kb, crashed_kb = store.get(kept.id).temp_kb, store.get(crashed.id).temp_kb
    (settings.conversations_dir / f"{crashed.id}.json").unlink()  # a crash between deleting the two
    orphan = "_conv-00000000000000aa"  # made before owners existed, its conversation long gone
    legacy(services, orphan)
    reopened = Services.open(settings)
    assert reopened.store.exists(kept_kb)
    assert not reopened.store.exists(crashed_kb) and not reopened.store.exists(orphan)


def test_file_chat_waits_for_its_files_and_names_them_not_its_kb(settings, services):
    store = services.conversations
    chat = store.create()
    in_ingest, release = threading.Event(), threading.Event()

    def slow(progress) -> None:  # hold the ingest while the chat is asked
        if progress.stage == "embed":
            in_ingest.set()
            release.wait(60)

    worker = threading.Thread(target=services.attach_files, args=(chat.id, [TEXT]), kwargs={"progress": slow})
    worker.start()
    assert in_ingest.wait(60)
    events = list(services.reply(chat.id, "What is in the file?", max_tokens=8))
    release.set()
    worker.join(60)
    assert [e.kind for e in events] == ["error"] and events[0].error.key == "files_reading"
    assert "fake-text.txt" in events[0].text and "_conv" not in events[0].text
    assert store.get(chat.id).messages == []  # a question that could not be asked is not saved
    # once the file is in, the chat answers from it; when nothing matches it says which files it read
    events = list(services.reply(chat.id, "How do I bake sourdough bread?", score_threshold=0.99, max_tokens=8))
    text = "".join(e.text for e in events if e.kind == "delta")
    assert events[-1].kind == "done" and "fake-text.txt" in text and "_conv" not in text, text
    assert [m.role for m in store.get(chat.id).messages] == ["user", "assistant"]
