"""The Linux launcher (installer/chatchat.sh → installer/launcher.py), end to end in a clean temporary HOME.

What is stood in, honestly: a real first run creates a bare virtual environment and downloads every
dependency into it; on this machine llama-cpp-python has no prebuilt wheel and would compile for 5+
minutes, and tests may not use the network. So the end-to-end test sets the launcher's own knobs:
CHATCHAT_VENV_ARGS="--system-site-packages --without-pip" (the environment sees the packages already
installed system-wide, and their pip) and CHATCHAT_PIP_ARGS="--no-index --no-build-isolation --no-deps"
(pip installs only Chatchat itself, from this checkout, offline). Everything else runs as a user gets
it: finding Python, the data dir under HOME, the lock, the install marker and the recovery of an
interrupted install, starting app.py, reading its URL (another port when the port is taken), waiting
for HTTP 200, the log, the menu entry. Not exercised here: the uv path and the Windows launcher.
First- and second-run times are printed (run with -s), and measured by bench/bench_launcher.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO

SCRIPT = REPO / "installer" / "chatchat.sh"
START_TIMEOUT = 400  # seconds for install + first start on a loaded 2-core CI machine
OFFLINE_INSTALL = {
    "CHATCHAT_VENV_ARGS": "--system-site-packages --without-pip",
    "CHATCHAT_PIP_ARGS": "--no-index --no-build-isolation --no-deps",
    "CHATCHAT_WHEELS_INDEX": "",
}


def load_launcher():
    spec = importlib.util.spec_from_file_location("chatchat_launcher", REPO / "installer" / "launcher.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment: this PATH, a fresh HOME, none of our settings or pip's configuration."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CHATCHAT_", "XDG_", "PIP_", "SPACE_")) and k not in ("PYTHONPATH",)}
    env.update(HOME=str(home), LANG="C.UTF-8", LC_ALL="C.UTF-8", CHATCHAT_USE_UV="0", HF_HUB_OFFLINE="1")
    env.update(extra)
    return env


class Launch:
    """chatchat.sh running in its own process group, its console read line by line."""

    def __init__(self, env: dict[str, str], *args: str):
        self.started = time.monotonic()
        self.proc = subprocess.Popen(["sh", str(SCRIPT), "--no-browser", *args], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"launcher ended before {pattern!r}:\n" + "\n".join(self.lines[-40:]))
            self.lines.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n" + "\n".join(self.lines[-40:]))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def signal(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.signal(signal.SIGTERM)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything left of the group
        except ProcessLookupError:
            pass


def get(url: str, body: dict | None = None, timeout: float = 120) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        return response.status, response.read().decode("utf-8")


def test_first_run_interrupted_then_installs_and_answers_and_second_run_starts_at_once(tmp_path: Path) -> None:
    home = tmp_path / "user"
    home.mkdir()
    data = home / ".local/share/chatchat"
    port = free_port()
    env = user_env(home, CHATCHAT_PORT=str(port), **OFFLINE_INSTALL)
    launches: list[Launch] = []
    try:
        # 1. the first install is cut off (window closed, power lost) while pip runs
        cut = Launch(env)
        launches.append(cut)
        cut.wait_for(r"Installing Chatchat")
        cut.signal(signal.SIGKILL)
        assert (data / "runtime/venv").is_dir() and not (data / "runtime/venv/chatchat-install.json").exists()

        # 2. the next run starts the install over, then serves and answers with the packaged model
        first = Launch(env)
        launches.append(first)
        url = first.wait_for(r"ready at (http://127\.0\.0\.1:\d+)").group(1)
        first_s = time.monotonic() - first.started
        assert "earlier install did not finish" in first.output and "Installed in" in first.output
        assert url == f"http://127.0.0.1:{port}"
        assert get(url + "/")[0] == 200
        status, body = get(url + "/v1/chat/completions", {
            "model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 12, "temperature": 0,
        })
        assert status == 200 and json.loads(body)["choices"][0]["message"]["content"].strip()
        marker = json.loads((data / "runtime/venv/chatchat-install.json").read_text())
        assert marker["repo"] == str(REPO)
        entry = (home / ".local/share/applications/chatchat.desktop").read_text(encoding="utf-8")
        assert f'Exec=sh "{SCRIPT}"' in entry and f"Icon={REPO}/assets/logo.svg" in entry

        # 3. a second launcher while it runs: no second app, it points at the running one
        again = subprocess.run(["sh", str(SCRIPT), "--no-browser"], env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and f"already running at {url}" in again.stdout
        update = subprocess.run(["sh", str(SCRIPT), "--update"], env=env, capture_output=True, text=True, timeout=120)
        assert update.returncode == 1 and "close its window first" in update.stderr
        first.stop()
        assert not (data / "runtime/app.json").exists()
        with pytest.raises(OSError):
            get(url + "/", timeout=5)

        # 4. the second run installs nothing, and moves to the next port when its port is taken
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the old server's port is in TIME_WAIT
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            second = Launch(env)
            launches.append(second)
            url2 = second.wait_for(r"ready at (http://127\.0\.0\.1:\d+)").group(1)
            second_s = time.monotonic() - second.started
            assert url2 != url and f"Port {port} is in use" in second.output
            assert "Installing" not in second.output and "Creating" not in second.output
            assert get(url2 + "/")[0] == 200
        second.stop()
        log = (data / "runtime/launcher.log").read_text(encoding="utf-8")
        assert log.count("ready at") == 2 and "Stopping Chatchat" in log
        print(f"\nlauncher: first run (install + start) {first_s:.1f} s, second run {second_s:.1f} s")
    finally:
        for launch in launches:
            launch.stop()


def test_first_run_without_network_says_so(tmp_path: Path) -> None:
    """A real pip in a real new environment, every index pointing at a closed port on 127.0.0.1."""
    home = tmp_path / "user"
    home.mkdir()
    dead = f"http://127.0.0.1:{free_port()}/simple"
    # as env vars they reach pip's build-isolation pip too; one retry, because pip names the refused
    # connection only in its "Retrying" warning (a user's pip retries 5 times by default)
    env = user_env(home, PIP_CONFIG_FILE=os.devnull, PIP_RETRIES="1", PIP_TIMEOUT="3",
                   CHATCHAT_WHEELS_INDEX=dead, CHATCHAT_PIP_ARGS=f"--index-url {dead}")
    run = subprocess.run(["sh", str(SCRIPT), "--no-browser"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert "could not download its packages (no network connection" in run.stderr, run.stdout[-2000:] + run.stderr
    venv = home / ".local/share/chatchat/runtime/venv"
    assert not (venv / "chatchat-install.json").exists()  # the next run starts over
    assert "could not download" in (venv.parent / "launcher.log").read_text(encoding="utf-8")


def test_unwritable_data_dir_and_missing_python(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = subprocess.run(["sh", str(SCRIPT)], env=user_env(tmp_path, CHATCHAT_HOME=str(blocker / "chatchat")),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "cannot write to its data folder" in run.stderr and "CHATCHAT_HOME" in run.stderr

    bin_dir = tmp_path / "bin"  # a PATH with the tools the script uses, and only a Python 3.8
    bin_dir.mkdir()
    for tool in ("dirname", "cat"):
        (bin_dir / tool).symlink_to(subprocess.check_output(["sh", "-c", f"command -v {tool}"], text=True).strip())
    old_python = bin_dir / "python3"
    old_python.write_text("#!/bin/sh\necho 'Python 3.8.18'\nexit 1\n")
    old_python.chmod(0o755)
    run = subprocess.run(["/bin/sh", str(SCRIPT)], env=user_env(tmp_path, PATH=str(bin_dir)),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "needs Python 3.11 or 3.12, and none was found" in run.stderr


def test_disk_check_data_dir_and_failure_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    launcher = load_launcher()
    with pytest.raises(launcher.LauncherError, match="Not enough disk space"):
        launcher.check_disk(tmp_path, need_mb=10**12)
    launcher.check_disk(tmp_path, need_mb=1)

    import platformdirs

    monkeypatch.delenv("CHATCHAT_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert launcher.data_dir() == Path(platformdirs.user_data_dir("chatchat", appauthor=False))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert launcher.data_dir() == Path(platformdirs.user_data_dir("chatchat", appauthor=False))

    log = launcher.Log(tmp_path / "launcher.log")
    full = launcher.install_failure("Installing Chatchat", "ERROR: Could not install packages due to an "
                                    "OSError: [Errno 28] No space left on device", log)
    assert "disk is full" in str(full)
    broken = launcher.install_failure("Installing Chatchat", "ERROR: No matching distribution found for fastapi", log)
    assert "No matching distribution found for fastapi" in str(broken) and str(log.path) in str(broken)


def test_uv_install_then_start_without_install_then_update(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The uv path of the install (uv is in the test extra), offline as above; install only, no app start."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (pip install uv, or the test extra)")
    for name, value in {**OFFLINE_INSTALL, "CHATCHAT_VENV_ARGS": "--system-site-packages"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CHATCHAT_USE_UV", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    launcher = load_launcher()
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    log = launcher.Log(runtime / "launcher.log")

    launcher.ensure_installed(runtime, log, update=False)
    python = launcher.venv_python(runtime / "venv")
    found = subprocess.run([str(python), "-c", "import chatchat; print(chatchat.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(found) == REPO / "chatchat" / "__init__.py"
    commands = [line for line in log.path.read_text(encoding="utf-8").splitlines() if " $ " in line]
    assert [Path(c.split(" $ ")[1].split()[0]).name for c in commands] == ["uv", "uv"]
    assert " venv " in commands[0] and " pip install " in commands[1]

    launcher.ensure_installed(runtime, log, update=False)  # a later run: nothing to do
    launcher.ensure_installed(runtime, log, update=True)  # --update: install again, same environment
    commands = [line for line in log.path.read_text(encoding="utf-8").splitlines() if " $ " in line]
    assert len(commands) == 3 and " pip install " in commands[2]
    assert (runtime / "venv" / launcher.MARKER).is_file()
