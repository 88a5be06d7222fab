"""Knowledge bases on object storage, through the services: a real S3-compatible server started by the tests
(SeaweedFS's `weed server -s3`, else moto's server: tests/s3_server.py prints which), real documents from
/work/shared/docs, the real embedding model. Everything a knowledge base keeps lives in the bucket, so a
second instance on the same `db_uri` lists it, searches it and sees its new documents within
`db_read_consistency_s`."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from s3_server import s3  # noqa: F401  (the session fixture)

from chatchat.config import load_settings
from chatchat.models.user_catalog import open_catalog
from chatchat.retrieval.store import Store
from chatchat.service import Services

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "docs" / "chatchat-samples"
INTERVAL_S = 1.0


def open_services(home: Path, uri: str, server) -> Services:
    settings = load_settings(home, db_uri=uri, db_storage_options=server.options(), db_read_consistency_s=INTERVAL_S)
    services = Services(settings, open_catalog(settings), Store.from_settings(settings))
    services.recover()
    return services


def bucket_keys(server, uri: str) -> set[str]:
    fs = pafs.S3FileSystem(access_key=server.options()["aws_access_key_id"],
                           secret_key=server.options()["aws_secret_access_key"],
                           endpoint_override=server.endpoint.split("://")[1], scheme="http", region="us-east-1")
    base = uri.removeprefix("s3://")
    found = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    return {i.path[len(base) + 1 :] for i in found if i.type == pafs.FileType.File}


def test_a_knowledge_base_on_s3_is_shared_by_two_instances(s3, tmp_path):  # noqa: F811
    uri = s3.uri()
    first = open_services(tmp_path / "one", uri, s3)
    first.create_kb("资料")
    added = first.add_files("资料", [SAMPLES / "大模型推理优化策略.md", SAMPLES / "分布式训练技术原理.md"])
    assert [r.status for r in added] == ["added", "added"], added
    assert first.search("资料", "PagedAttention 显存", top_k=3)[0].file == "大模型推理优化策略.md"
    keys = bucket_keys(s3, uri)
    assert {"knowledge_bases/资料/kb.json", "knowledge_bases/资料/files/大模型推理优化策略.md"} <= keys
    assert any(k.startswith("lancedb/") for k in keys)
    assert not any((tmp_path / "one").rglob("*.lance")), "no table may be written to the local data dir"

    second = open_services(tmp_path / "two", uri, s3)  # another machine: nothing in common but the bucket
    assert [i.name for i in second.list_kbs()] == ["资料"]
    assert second.search("资料", "数据并行", top_k=3, mode="fulltext")[0].file == "分布式训练技术原理.md"
    assert second.original("资料", "大模型推理优化策略.md").read_bytes() == (SAMPLES / "大模型推理优化策略.md").read_bytes()

    first.add_files("资料", [SAMPLES / "大模型指令对齐训练原理.md"])
    deadline = time.monotonic() + INTERVAL_S + 5
    while "大模型指令对齐训练原理.md" not in {d.file for d in second.documents("资料")}:
        assert time.monotonic() < deadline, "the second instance did not see the new document in time"
        time.sleep(0.2)
    assert second.search("资料", "指令对齐", top_k=5, mode="fulltext")


def test_replace_delete_and_rebuild_on_s3(s3, tmp_path):  # noqa: F811
    uri = s3.uri()
    services = open_services(tmp_path / "home", uri, s3)
    services.create_kb("kb")
    path = tmp_path / "notes.md"
    path.write_text("# 笔记\n\n旧版本的内容：向量数据库。\n", encoding="utf-8")
    assert services.add_files("kb", [path])[0].status == "added"
    path.write_text("# 笔记\n\n新版本的内容：对象存储上的知识库。\n", encoding="utf-8")
    assert services.add_files("kb", [path])[0].status == "replaced"
    [hit] = services.search("kb", "对象存储", top_k=1, mode="fulltext")
    assert "新版本" in hit.text
    assert "旧版本" not in " ".join(h.text for h in services.chunks("kb", "notes.md"))
    assert services.original("kb", "notes.md").read_text(encoding="utf-8") == path.read_text(encoding="utf-8")

    services.add_files("kb", [SAMPLES / "大模型技术栈-实战与应用.md"])
    path.unlink()  # the rebuild reads the originals from the bucket, not from where they came from
    rebuilt = services.rebuild_kb("kb")
    assert sorted((r.file, r.status) for r in rebuilt) == [("notes.md", "replaced"), ("大模型技术栈-实战与应用.md", "replaced")]

    services.remove_document("kb", "notes.md")
    assert [d.file for d in services.documents("kb")] == ["大模型技术栈-实战与应用.md"]
    assert "knowledge_bases/kb/files/notes.md" not in bucket_keys(s3, uri)
    services.delete_kb("kb")
    assert not any(k.startswith("knowledge_bases/kb/") for k in bucket_keys(s3, uri))
    with pytest.raises(Exception, match="kb"):
        services.documents("kb")


def test_credentials_come_from_the_env_and_the_secret_setting(tmp_path, monkeypatch):
    from chatchat.config import KEYS_FILE, SETTINGS_FILE, save_settings
    from chatchat.retrieval.location import storage_options

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("AWS_ENDPOINT", raising=False)
    settings = load_settings(tmp_path, db_uri="s3://chatchat-kb/team/")
    assert settings.db_uri == "s3://chatchat-kb/team"
    assert storage_options(settings) == {"aws_access_key_id": "from-env", "aws_secret_access_key": "env-secret",
                                         "aws_endpoint": "http://127.0.0.1:9", "allow_http": "true"}
    save_settings(settings, {"db_storage_options": {"aws_access_key_id": "saved", "aws_secret_access_key": "s3cret"}})
    assert "s3cret" not in (tmp_path / SETTINGS_FILE).read_text() and "s3cret" in (tmp_path / KEYS_FILE).read_text()
    again = load_settings(tmp_path)
    assert storage_options(again)["aws_access_key_id"] == "saved"  # the setting wins over the env var
    with pytest.raises(Exception, match="db_uri"):
        load_settings(tmp_path, db_uri="/some/folder")
