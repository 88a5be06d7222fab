"""Bind security, credentials, CORS and port choice of the real server (API and Gradio UI on one port)."""

from __future__ import annotations

import socket
import threading

import httpx
import openai
import pytest

from api_server import api_settings, free_port, running
from chatchat import policy, space
from chatchat.errors import SettingsError
from chatchat.server import check_bind_security, make_server, open_share_link, url_of
from chatchat.service import Services
from conftest import UNSTRUCTURED_DOCS


def test_a_public_address_without_credentials_is_refused(tmp_path):
    for host, missing in [("0.0.0.0", {}), ("0.0.0.0", {"api_key": "k"}), ("0.0.0.0", {"auth": "alice:secret"}),
                          ("127.0.0.1", {"share": True})]:
        settings = api_settings(tmp_path, host=host, **missing)
        with pytest.raises(SettingsError) as refused:
            make_server(settings)
        assert host in refused.value.message and "allow_insecure_public" in refused.value.message
        with socket.socket() as probe:  # nothing was left listening
            probe.bind((host, settings.port))
    check_bind_security(api_settings(tmp_path, host="0.0.0.0", allow_insecure_public=True))
    check_bind_security(api_settings(tmp_path, host="::1"))
    check_bind_security(api_settings(tmp_path, host="localhost"))


def test_with_credentials_the_api_needs_the_key_and_the_ui_a_login(tmp_path):
    settings = api_settings(tmp_path / "home", host="0.0.0.0", api_key="s3cret-key", auth="alice:pa55word")
    with running(settings, ui=True) as base, httpx.Client(base_url=base) as http:
        for path in ("/v1/models", "/api/knowledge_bases", "/knowledge_base/list_knowledge_bases"):
            refused = http.get(path)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
            assert refused.headers["www-authenticate"] == "Bearer"
            assert http.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert http.get(path, headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0).models.list()
        assert openai.OpenAI(base_url=base + "/v1", api_key="s3cret-key", max_retries=0).models.list().data

        assert http.get("/config").status_code == 401  # the UI's data needs the login
        assert http.post("/login", data={"username": "alice", "password": "nope"}).status_code == 400
        assert http.post("/login", data={"username": "alice", "password": "pa55word"}).json() == {"success": True}
        assert http.get("/config").status_code == 200


def test_cors_is_off_unless_origins_are_set(tmp_path):
    origin = {"Origin": "http://tools.example"}
    with running(api_settings(tmp_path / "a"), ui=False) as base:
        assert "access-control-allow-origin" not in httpx.get(base + "/v1/models", headers=origin).headers
    with running(api_settings(tmp_path / "b", cors_origins=["http://tools.example"]), ui=False) as base:
        assert httpx.get(base + "/v1/models", headers=origin).headers["access-control-allow-origin"] == "http://tools.example"
        preflight = httpx.options(base + "/v1/chat/completions", headers={**origin, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 200
        other = httpx.get(base + "/v1/models", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_a_busy_port_moves_to_the_next_free_one(tmp_path, capfd):
    busy = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", busy))
        holder.listen()
        server, sock = make_server(api_settings(tmp_path, port=busy), ui=False)
        try:
            assert sock.getsockname()[1] > busy
            assert f"Port {busy} is in use" in capfd.readouterr().err
        finally:
            sock.close()


def test_on_a_space_the_api_shows_only_the_demo_and_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(policy.SPACE_ENV, "someone/chatchat")
    settings = api_settings(tmp_path / "home")
    services = Services.open(settings)
    for name in (space.DEMO_KB, "private"):
        services.create_kb(name)
        services.add_files(name, [UNSTRUCTURED_DOCS / "fake-text.txt"])
    with running(settings, services) as base, httpx.Client(base_url=base) as http:
        assert [kb["name"] for kb in http.get("/api/knowledge_bases").json()["data"]] == [space.DEMO_KB]
        assert http.get("/knowledge_base/list_knowledge_bases").json()["data"] == [space.DEMO_KB]
        assert [m["id"] for m in http.get("/v1/models").json()["data"] if m["kind"] == "knowledge_base"] == ["kb:demo"]
        assert http.post("/api/knowledge_bases/demo/search", json={"query": "Hamburgers"}).json()["data"]
        assert http.get("/api/knowledge_bases/private").status_code == 404
        assert http.post("/api/knowledge_bases/private/search", json={"query": "Hamburgers"}).status_code == 404
        changes = [
            http.post("/api/knowledge_bases", json={"name": "intruder"}),
            http.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "intruder"}),
            http.delete("/api/knowledge_bases/demo"),
            http.post("/api/knowledge_bases/demo/rebuild"),
            http.delete("/api/knowledge_bases/demo/documents/fake-text.txt"),
            http.post("/api/knowledge_bases/demo/documents", files=[("files", ("x.txt", b"intruding text"))]),
            http.post("/knowledge_base/delete_docs", json={"knowledge_base_name": "demo", "file_names": ["fake-text.txt"]}),
        ]
        assert [r.status_code for r in changes] == [403] * len(changes), [r.text for r in changes]
        assert changes[0].json()["error"]["code"] == "protected"
        assert http.delete("/api/knowledge_bases/private").status_code == 404
    assert [kb.name for kb in services.list_kbs()] == [space.DEMO_KB, "private"]
    assert [d.file for d in services.documents(space.DEMO_KB)] == ["fake-text.txt"]


def test_a_share_link_that_cannot_be_made_leaves_the_app_running(tmp_path, capfd, no_network):
    settings = api_settings(tmp_path, share=True, api_key="k", auth="alice:secret")
    server, sock = make_server(settings, ui=False)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        open_share_link(server, sock.getsockname()[1])  # offline: Gradio's share server is out of reach
        assert "No share link" in capfd.readouterr().err
        assert httpx.get(url_of(sock) + "/v1/models", headers={"Authorization": "Bearer k"}).status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=30)
