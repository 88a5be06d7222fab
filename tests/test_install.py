"""What users install, checked the way they get it: the wheel pip builds from this checkout carries the
model catalog and the assets and runs from any folder; every extra asked of a dependency exists; the
command line starts without the heavy libraries; the API guide that /docs points to ships and names
every route. (.ci/check_install.sh goes further: the wheel with all its dependencies in a fresh venv.)"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("models.yaml", "assets")
HEAVY = ("gradio", "lancedb", "fastembed", "onnxruntime", "llama_cpp", "unstructured", "torch")
# what neither `--help` nor `kb list` needs (issue 17: each within 3× `import httpx`): the tables' and the
# models' side; `--help` loads not even the settings (pydantic)
NOT_FOR_LISTING = (*HEAVY, "httpx", "numpy", "pyarrow", "psutil", "tqdm", "filelock")
NOT_FOR_HELP = (*NOT_FOR_LISTING, "pydantic", "yaml")


def shipped_files() -> dict[str, bytes]:
    """The top-level files the app needs at run time, by their path relative to the checkout."""
    files = {}
    for name in SHIPPED:
        root = REPO / name
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(REPO).as_posix()] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built as `pip install .` builds it (isolated build, no dependencies)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
                   check=True, timeout=600)
    (built,) = out.glob("chatchat-*.whl")
    return built


def test_wheel_ships_the_catalog_and_the_assets(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        inside = {name: archive.read(name) for name in archive.namelist() if name.startswith("chatchat/_shipped/")}
    expected = {f"chatchat/_shipped/{name}": data for name, data in shipped_files().items()}
    assert "chatchat/_shipped/models.yaml" in expected and "chatchat/_shipped/assets/logo.svg" in expected
    assert sorted(inside) == sorted(expected)
    assert inside == expected  # byte for byte: the checkout's files are the one source


def test_installed_wheel_runs_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    """`pip install .` then commands from any folder: they crashed with FileNotFoundError on models.yaml."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # the installed copy, not the checkout: PYTHONPATH comes before the editable install's finder
    env = {**os.environ, "PYTHONPATH": str(target), "CHATCHAT_HOME": str(tmp_path / "home")}

    def chatchat(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "chatchat", *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "smollm2" in chatchat("models", "list").lower()
    assert "chatchat kb create" in chatchat("kb", "list")
    where = subprocess.run([sys.executable, "-c", "import chatchat.resources as r; print(r.shipped('models.yaml'))"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where) == target / "chatchat" / "_shipped" / "models.yaml"


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = project["dependencies"] + [line for group in project["optional-dependencies"].values() for line in group]
    return [Requirement(line) for line in lines]


def test_every_extra_asked_of_a_dependency_exists() -> None:
    """pip only warns about an extra a package does not have (unstructured has no 'msg'), and installs
    without what the extra was meant to bring."""
    ours = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"])
    missing = []
    for req in _requirements():
        if not req.extras or (req.marker and not req.marker.evaluate({**default_environment(), "extra": ""})):
            continue
        if canonicalize_name(req.name) == "chatchat":
            offered = ours
        else:
            try:
                offered = set(metadata.distribution(req.name).metadata.get_all("Provides-Extra") or [])
            except metadata.PackageNotFoundError:
                continue  # an extra this environment did not install; CI's install checks it
        offered = {canonicalize_name(extra) for extra in offered}
        missing += [f"{req.name}[{extra}]" for extra in req.extras if canonicalize_name(extra) not in offered]
    assert not missing, f"extras the packages do not provide: {missing}"


def _modules_after(*argv: str, home: Path, watched: tuple[str, ...] = HEAVY) -> set[str]:
    """The `watched` libraries (default: the heavy ones) loaded by running `chatchat ARGV` in a fresh interpreter."""
    code = ("import contextlib, io, sys\n"
            "from chatchat.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            f"    main({list(argv)!r})\n"
            f"print(' '.join(m for m in {watched!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "CHATCHAT_HOME": str(home)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_cli_help_kb_list_and_info_load_no_heavy_library(tmp_path: Path) -> None:
    """`chatchat --help` took 7–11 s importing everything; each command imports what it uses."""
    assert _modules_after("--help", home=tmp_path, watched=NOT_FOR_HELP) == set()
    assert _modules_after("kb", "--help", home=tmp_path, watched=NOT_FOR_HELP) == set()
    assert _modules_after("models", "--help", home=tmp_path, watched=NOT_FOR_HELP) == set()
    assert _modules_after("kb", "list", home=tmp_path, watched=NOT_FOR_LISTING) == set()
    subprocess.run([sys.executable, "-m", "chatchat", "kb", "create", "手册"], env={**os.environ, "CHATCHAT_HOME": str(tmp_path)},
                   check=True, capture_output=True, timeout=300)
    # one to list, still no table opened
    assert _modules_after("kb", "list", home=tmp_path, watched=NOT_FOR_LISTING) == set()
    assert _modules_after("kb", "info", "手册", home=tmp_path) <= {"lancedb"}  # its documents are in LanceDB


def test_api_guide_ships_and_names_every_route(services) -> None:
    """/docs says "See docs/API.md": the guide is there and lists every route of the API."""
    from chatchat.server import create_app

    guide = (REPO / "docs" / "API.md").read_text(encoding="utf-8")
    app = create_app(services, ui=False)
    assert "docs/API.md" in app.description
    paths = sorted(app.openapi()["paths"])
    assert len(paths) > 20
    assert [path for path in paths if path not in guide] == []


def _launcher():
    spec = importlib.util.spec_from_file_location("launcher", REPO / "installer" / "launcher.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("line", ["  Building wheel for llama-cpp-python (pyproject.toml): started",  # pip
                                  "   Building llama-cpp-python==0.3.36"])  # uv
def test_launcher_says_when_llama_cpp_compiles(line: str, tmp_path: Path, capsys: pytest.CaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh install compiled llama.cpp for minutes in silence: the launcher says what is happening."""
    launcher = _launcher()
    log = launcher.Log(tmp_path / "launcher.log")
    printing = [sys.executable, "-c", f"print('Collecting llama-cpp-python'); print({line!r}); print({line!r})"]
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert launcher.run_logged(printing, log)[0] == 0
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert launcher.run_logged(printing, log)[0] == 0
    out = capsys.readouterr().out
    assert out.count("it is being compiled now: this takes 6–20 minutes") == 1  # once per install run
    assert out.count("正在从源码编译：需要 6–20 分钟") == 1
    assert "being compiled" in (tmp_path / "launcher.log").read_text(encoding="utf-8")
    launcher.run_logged([sys.executable, "-c", "print('Collecting llama-cpp-python')"], log)
    assert "编译" not in capsys.readouterr().out
