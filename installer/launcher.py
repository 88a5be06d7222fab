"""Chatchat's launcher: installs on the first run, starts at once on later runs, opens the browser.

chatchat.sh (Linux, macOS) and Chatchat.bat (Windows) find a Python 3.11–3.12 and run this file with
it. It uses the standard library only: it runs before Chatchat's own environment exists.

  first run   create <data dir>/runtime/venv, install the app into it (uv when present, else pip;
              llama-cpp-python from its maintainers' prebuilt CPU wheels where they fit), mark the
              install complete, start app.py, open the browser once the server answers
  later runs  start at once
  --update    install again into the same environment (after downloading a new version)

An interrupted install has no completion marker, so the next run starts it over. While one launcher
runs, a second opens the browser on the running app, or says it is still starting. Everything goes
to <data dir>/runtime/launcher.log as well as to the console.

Environment: CHATCHAT_HOME (the data dir), CHATCHAT_PIP_ARGS (extra options for pip or uv pip, e.g.
"--find-links /my/wheels"; pip's own PIP_INDEX_URL picks a mirror), CHATCHAT_WHEELS_INDEX (where
prebuilt llama-cpp-python wheels come from, default CPU_WHEELS; empty: none), CHATCHAT_VENV_ARGS
(extra options for the tool creating the environment, e.g. "--system-site-packages"),
CHATCHAT_USE_UV=0 (use pip even when uv is present).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import locale
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import webbrowser
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXTRAS = "local,ocr"
CPU_WHEELS = "https://abetlen.github.io/llama-cpp-python/whl/cpu"
NEED_FREE_MB = 3072  # the environment takes ~1.3 GB; downloads and unpacking need as much again
MARKER = "chatchat-install.json"  # written into the venv only after a complete install
LOG_MAX_BYTES = 5 * 2**20
SLOW_START_S = 60  # after this long without an answer, say where to look
URL_RE = re.compile(r"running (?:on|at)(?: local url:)?\s*(https?://[\w.\-]+:\d+|https?://\[[0-9a-f:]+\]:\d+)", re.I)
NETWORK_SIGNS = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|"
    r"Name or service not known|getaddrinfo failed|Network is unreachable|ConnectTimeout|ReadTimeoutError|"
    r"Connection refused|ConnectionResetError|No route to host|error sending request|dns error|"
    r"Could not fetch URL|certificate verify failed",
    re.I,
)
DISK_SIGNS = re.compile(r"No space left on device|Errno 28|There is not enough space on the disk", re.I)
# what pip and uv print as they start to compile llama-cpp-python, where no prebuilt wheel fits this computer
COMPILE_SIGN = re.compile(r"Building (?:wheel for )?llama[-_]cpp[-_]python", re.I)
COMPILE_MINUTES = "6–20"  # measured: ~6 min on 2 cores (README, "Install time"); slower machines take longer


def chinese() -> bool:
    lang = os.environ.get("LC_ALL") or os.environ.get("LANG") or (locale.getlocale()[0] or "")
    return lang.lower().startswith(("zh", "chinese"))


def tr(en: str, zh: str) -> str:
    return zh if chinese() else en


class LauncherError(Exception):
    """A failure the user can act on; the message says what to do."""


# --- where things go -------------------------------------------------------------------------------
def data_dir() -> Path:
    """The same folder platformdirs.user_data_dir("chatchat", appauthor=False) gives the app."""
    if os.environ.get("CHATCHAT_HOME"):
        return Path(os.environ["CHATCHAT_HOME"]).expanduser().resolve()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "chatchat"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "chatchat"
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "chatchat"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def requirements_stamp() -> str:
    return hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()


def check_writable(folder: Path) -> None:
    probe = folder / ".write-test"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise LauncherError(tr(
            f"Chatchat cannot write to its data folder {folder} ({exc.strerror or exc}).\n"
            "Make that folder writable for your user, or set the environment variable CHATCHAT_HOME "
            "to a folder you can write to, and start Chatchat again.",
            f"Chatchat 无法写入数据目录 {folder}（{exc.strerror or exc}）。\n"
            "请让当前用户可以写入该目录，或把环境变量 CHATCHAT_HOME 设为一个可写的目录，然后重新启动。",
        )) from exc


def check_disk(folder: Path, need_mb: int = NEED_FREE_MB) -> None:
    free_mb = shutil.disk_usage(folder).free // 2**20
    if free_mb < need_mb:
        raise LauncherError(tr(
            f"Not enough disk space to install Chatchat: {free_mb} MB free in {folder}, about {need_mb} MB needed.\n"
            "Free some space, or set CHATCHAT_HOME to a folder on a larger disk, and start Chatchat again.",
            f"磁盘空间不足，无法安装 Chatchat：{folder} 只剩 {free_mb} MB，大约需要 {need_mb} MB。\n"
            "请清理磁盘空间，或把 CHATCHAT_HOME 设为更大磁盘上的目录，然后重新启动。",
        ))


# --- console + log file ----------------------------------------------------------------------------
class Log:
    def __init__(self, path: Path):
        if path.exists() and path.stat().st_size > LOG_MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
        self.path = path
        self._file = open(path, "a", encoding="utf-8", errors="replace")
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        """A message for the user: console and log."""
        self.write(text, echo=True)

    def write(self, text: str, echo: bool) -> None:
        with self._lock:
            if echo:
                print(text, flush=True)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            for line in text.splitlines() or [""]:
                self._file.write(f"{stamp} {line}\n")
            self._file.flush()


class SingleInstance:
    """An exclusive lock on a file, released by the OS when this process ends however it ends."""

    def __init__(self, path: Path):
        self._handle = open(path, "a+b")

    def acquire(self) -> bool:
        try:
            if sys.platform == "win32":
                import msvcrt

                self._handle.seek(0)
                msvcrt.locking(self._handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


def run_logged(command: list[str], log: Log, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a command, its output to console and log; returns the exit code and the output's tail."""
    log.write("$ " + " ".join(shlex.quote(part) for part in command), echo=False)
    tail: deque[str] = deque(maxlen=200)
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                text=True, encoding="utf-8", errors="replace")
    except OSError as exc:
        return 127, str(exc)
    assert proc.stdout is not None
    compiling = False
    try:
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            log.write(line.rstrip("\n"), echo=True)
            if not compiling and COMPILE_SIGN.search(line):
                compiling = True
                log.say(tr(
                    f"No prebuilt llama.cpp fits this computer, so it is being compiled now: this takes "
                    f"{COMPILE_MINUTES} minutes, once (later installs reuse it). Nothing is wrong: let it run.",
                    f"没有适合这台电脑的预编译 llama.cpp，正在从源码编译：需要 {COMPILE_MINUTES} 分钟，只需一次"
                    "（以后安装会复用）。这是正常现象，请耐心等待。",
                ))
        return proc.wait(), "\n".join(tail)
    finally:
        if proc.poll() is None:  # the launcher is being stopped: stop the install with it
            proc.terminate()
            proc.wait()


def install_failure(step: str, output: str, log: Log) -> LauncherError:
    if DISK_SIGNS.search(output):
        return LauncherError(tr(
            f"{step} failed: the disk is full. Free some space (about {NEED_FREE_MB} MB is needed) and start "
            f"Chatchat again; the install starts over. Details: {log.path}",
            f"{step}失败：磁盘已满。请清理出大约 {NEED_FREE_MB} MB 空间后重新启动 Chatchat，安装会自动重新开始。"
            f"详情见 {log.path}",
        ))
    if NETWORK_SIGNS.search(output):
        return LauncherError(tr(
            f"{step} failed: Chatchat could not download its packages (no network connection, or the package "
            "index is unreachable). The first start needs the internet once; later starts work offline. "
            f"Connect and start Chatchat again. Details: {log.path}",
            f"{step}失败：无法下载所需的软件包（没有网络连接，或无法访问软件源）。第一次启动需要联网一次，之后可以离线使用。"
            f"请联网后重新启动 Chatchat。详情见 {log.path}",
        ))
    if "ensurepip" in output:
        return LauncherError(tr(
            f"{step} failed: this Python cannot create virtual environments. On Debian or Ubuntu run "
            "`sudo apt install python3-venv` (or python3.X-venv for your version), then start Chatchat again.",
            f"{step}失败：当前 Python 无法创建虚拟环境。Debian/Ubuntu 上请运行 `sudo apt install python3-venv`"
            "（或对应版本的 python3.X-venv），然后重新启动 Chatchat。",
        ))
    last = "\n".join(output.splitlines()[-15:])
    return LauncherError(tr(
        f"{step} failed. The last lines of its output:\n{last}\nThe whole log is {log.path}.",
        f"{step}失败。输出的最后几行：\n{last}\n完整日志：{log.path}",
    ))


# --- install ---------------------------------------------------------------------------------------
def use_uv() -> str | None:
    return shutil.which("uv") if os.environ.get("CHATCHAT_USE_UV", "1") != "0" else None


def install(venv: Path, log: Log, fresh: bool) -> None:
    """Create the environment (when `fresh`) and install the app and its dependencies into it."""
    extra_venv = shlex.split(os.environ.get("CHATCHAT_VENV_ARGS", ""))
    extra_pip = shlex.split(os.environ.get("CHATCHAT_PIP_ARGS", ""))
    uv = use_uv()
    python = str(venv_python(venv))
    if fresh:
        check_disk(venv.parent)
        log.say(tr(f"Creating Chatchat's Python environment in {venv} …", f"正在 {venv} 创建 Chatchat 的 Python 环境……"))
        create = [uv, "venv", "--python", sys.executable] if uv else [sys.executable, "-m", "venv"]
        code, output = run_logged([*create, *extra_venv, str(venv)], log)
        if code != 0:
            raise install_failure(tr("Creating the environment", "创建环境"), output, log)
    wheels = os.environ.get("CHATCHAT_WHEELS_INDEX", CPU_WHEELS)
    index = ["--extra-index-url", wheels] if wheels else []
    # a prebuilt llama-cpp-python wheel, even an older one, beats compiling the newest sdist; where the
    # wheel index has none for this system, PyPI's sdist is built (pip: --prefer-binary; uv: first-match
    # tries that index's versions first, then PyPI's — the wheel index holds llama-cpp-python only)
    if uv:
        command = [uv, "pip", "install", "--python", python, *index, "--index-strategy", "unsafe-first-match"]
    else:
        command = [python, "-m", "pip", "install", "--prefer-binary", *index]
    log.say(tr("Installing Chatchat and its libraries (a few minutes on the first start) …",
               "正在安装 Chatchat 及其依赖（第一次启动需要几分钟）……"))
    code, output = run_logged([*command, *extra_pip, "--upgrade", "-e", f"{REPO}[{EXTRAS}]"], log)
    if code != 0:
        raise install_failure(tr("Installing Chatchat", "安装 Chatchat"), output, log)


def ensure_installed(runtime: Path, log: Log, update: bool) -> None:
    """Install unless a complete install is there (or `update`)."""
    venv = runtime / "venv"
    marker = venv / MARKER
    complete = marker.is_file() and venv_python(venv).exists()
    if complete and not update:
        if json.loads(marker.read_text(encoding="utf-8")).get("requirements") != requirements_stamp():
            log.say(tr("This copy of Chatchat needs other libraries than the installed ones: "
                       "run the launcher with --update to install them.",
                       "当前版本的 Chatchat 所需的依赖与已安装的不同：请用 --update 参数运行启动器进行更新。"))
        return
    if venv.exists() and not complete:
        log.say(tr("An earlier install did not finish; starting it over.", "上一次安装没有完成，正在重新安装。"))
        shutil.rmtree(venv)
    marker.unlink(missing_ok=True)
    started = time.monotonic()
    install(venv, log, fresh=not venv.exists())
    marker.write_text(json.dumps({"requirements": requirements_stamp(), "repo": str(REPO),
                                  "installed": time.strftime("%Y-%m-%dT%H:%M:%S")}), encoding="utf-8")
    log.say(tr(f"Installed in {time.monotonic() - started:.0f} s.", f"安装完成，用时 {time.monotonic() - started:.0f} 秒。"))
    if sys.platform.startswith("linux"):
        add_desktop_entry(log)


def add_desktop_entry(log: Log) -> None:
    """Put Chatchat in the applications menu, pointing at this copy's launcher and logo."""
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    target = (Path(xdg) if xdg else Path.home() / ".local" / "share") / "applications" / "chatchat.desktop"
    launcher = str(REPO / "installer" / "chatchat.sh")
    for char in '\\"`$':  # the Exec key's quoting rules
        launcher = launcher.replace(char, "\\" + char)
    lines = (REPO / "installer" / "chatchat.desktop").read_text(encoding="utf-8").splitlines(keepends=True)
    template = "".join(line for line in lines if not line.startswith("#"))
    text = template.replace("@LAUNCHER@", f'"{launcher}"').replace("@ICON@", str(REPO / "assets" / "logo.svg"))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        log.write(f"no menu entry: {exc}", echo=False)
        return
    log.say(tr(f"Added Chatchat to your applications menu ({target}).", f"已把 Chatchat 加入应用菜单（{target}）。"))


# --- the running app -------------------------------------------------------------------------------
def answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy: it is local
    try:
        with opener.open(url, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def browsable(url: str) -> str:
    """A server on all interfaces is reached on loopback."""
    return url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")


class App:
    """app.py in the installed environment; its output goes to the console and the log, and the
    first 'Running on <url>' line in it says where it listens (it may pick another port)."""

    def __init__(self, runtime: Path, home: Path, log: Log):
        env = {**os.environ, "CHATCHAT_HOME": str(home), "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
        command = [str(venv_python(runtime / "venv")), str(REPO / "app.py")]
        log.write("$ " + " ".join(command), echo=False)
        self.proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, encoding="utf-8", errors="replace")
        self.url: str | None = None
        self.tail: deque[str] = deque(maxlen=40)
        self._log = log
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.tail.append(line)
            self._log.write(line, echo=True)
            match = URL_RE.search(line)
            if match and self.url is None:
                self.url = browsable(match.group(1))

    def wait_ready(self) -> str:
        started = time.monotonic()
        warned = False
        while True:
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                last = "\n".join(self.tail)
                raise LauncherError(tr(
                    f"Chatchat stopped while starting (exit code {self.proc.returncode}). Its last lines:\n{last}\n"
                    f"The whole log is {self._log.path}. If a library is missing or broken, run the launcher "
                    "with --update.",
                    f"Chatchat 在启动过程中退出（退出码 {self.proc.returncode}）。最后的输出：\n{last}\n"
                    f"完整日志：{self._log.path}。如果是依赖缺失或损坏，请用 --update 参数运行启动器。",
                ))
            if self.url and answers(self.url):
                return self.url
            if not warned and time.monotonic() - started > SLOW_START_S:
                warned = True
                self._log.say(tr(f"Chatchat is still starting … (log: {self._log.path})",
                                 f"Chatchat 仍在启动中……（日志：{self._log.path}）"))
            time.sleep(0.25)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def open_browser(url: str, log: Log, enabled: bool) -> None:
    if enabled and not webbrowser.open(url):
        log.say(tr(f"Open {url} in your browser.", f"请在浏览器中打开 {url}"))


def already_running(runtime: Path, log: Log, browser: bool) -> int:
    state = runtime / "app.json"
    url = json.loads(state.read_text(encoding="utf-8")).get("url") if state.is_file() else None
    if url and answers(url):
        log.say(tr(f"Chatchat is already running at {url}", f"Chatchat 已在运行：{url}"))
        open_browser(url, log, browser)
    else:
        log.say(tr("Chatchat is being installed or started in another window; it opens your browser when it is "
                   "ready.", "Chatchat 正在另一个窗口中安装或启动，准备好后会自动打开浏览器。"))
    return 0


def _interrupt(*_: object) -> None:
    """SIGTERM (a desktop session ending, a test) stops install and app as Ctrl+C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatchat-launcher", description="Install (first run) and start Chatchat.")
    parser.add_argument("--update", action="store_true", help="install again, e.g. after downloading a new version")
    parser.add_argument("--no-browser", action="store_true", help="do not open the browser")
    args = parser.parse_args(argv)
    if not (3, 11) <= sys.version_info[:2] <= (3, 12):
        raise LauncherError(tr(f"Chatchat needs Python 3.11 or 3.12; this is {sys.version.split()[0]}.",
                               f"Chatchat 需要 Python 3.11 或 3.12；当前是 {sys.version.split()[0]}。"))
    home = data_dir()
    runtime = home / "runtime"
    check_writable(runtime)
    log = Log(runtime / "launcher.log")
    log.write(f"launcher {' '.join(sys.argv)} python {sys.executable} repo {REPO}", echo=False)
    lock = SingleInstance(runtime / "launcher.lock")
    if not lock.acquire():
        if args.update:
            raise LauncherError(tr("Chatchat is running: close its window first, then run the launcher with --update again.",
                                   "Chatchat 正在运行：请先关闭它的窗口，再用 --update 参数运行启动器。"))
        return already_running(runtime, log, not args.no_browser)
    log.say(tr(f"Chatchat's data folder: {home}  (log: {log.path})", f"Chatchat 数据目录：{home}（日志：{log.path}）"))
    signal.signal(signal.SIGTERM, _interrupt)
    ensure_installed(runtime, log, args.update)
    started = time.monotonic()
    app = App(runtime, home, log)
    state = runtime / "app.json"
    try:
        url = app.wait_ready()
        state.write_text(json.dumps({"url": url, "pid": app.proc.pid}), encoding="utf-8")
        log.say(tr(f"Chatchat is ready at {url} (started in {time.monotonic() - started:.1f} s). "
                   "Close this window or press Ctrl+C to stop it.",
                   f"Chatchat 已就绪：{url}（启动用时 {time.monotonic() - started:.1f} 秒）。关闭此窗口或按 Ctrl+C 即可停止。"))
        open_browser(url, log, not args.no_browser)
        code = app.proc.wait()
        if code != 0:
            log.say(tr(f"Chatchat stopped with exit code {code}; see {log.path}.",
                       f"Chatchat 已退出（退出码 {code}），详见 {log.path}。"))
        return code
    except KeyboardInterrupt:
        log.say(tr("Stopping Chatchat …", "正在停止 Chatchat……"))
        return 0
    finally:
        app.stop()
        state.unlink(missing_ok=True)


def keep_window_open() -> None:
    """A double-clicked terminal closes with the launcher: let the user read what went wrong first.
    (Chatchat.bat pauses by itself on Windows.)"""
    if sys.platform != "win32" and sys.stdin.isatty() and sys.stdout.isatty():
        try:
            input(tr("\nPress Enter to close.", "\n按回车键关闭。"))
        except EOFError:
            pass


if __name__ == "__main__":
    try:
        exit_code = main()
    except LauncherError as error:
        print("\n" + str(error), file=sys.stderr)
        try:
            Log(data_dir() / "runtime" / "launcher.log").write("error: " + str(error), echo=False)
        except OSError:
            pass
        exit_code = 1
    except KeyboardInterrupt:
        exit_code = 130
    if exit_code not in (0, 130):
        keep_window_open()
    sys.exit(exit_code)
