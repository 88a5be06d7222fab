#!/bin/sh
# Chatchat for Linux (and macOS): double-click or run this file. It finds a Python 3.11–3.12 and hands
# over to launcher.py, which installs Chatchat on the first run and then starts it and opens the browser.
# Options: --update (install again after downloading a new version), --no-browser.
# CHATCHAT_PYTHON=/path/to/python picks the Python; see launcher.py for the other settings.
here=$(cd "$(dirname "$0")" && pwd)

suitable() {
    "$1" -c 'import sys, venv; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' >/dev/null 2>&1
}

fail() {  # keep a double-clicked terminal open long enough to read what went wrong
    if [ -t 0 ] && [ -t 1 ]; then
        printf '\nPress Enter to close. 按回车键关闭。'
        read -r _
    fi
    exit 1
}

python=""
if [ -n "$CHATCHAT_PYTHON" ]; then
    if suitable "$CHATCHAT_PYTHON"; then python=$CHATCHAT_PYTHON; else
        echo "CHATCHAT_PYTHON=$CHATCHAT_PYTHON is not a working Python 3.11 or 3.12." >&2
        fail
    fi
fi
if [ -z "$python" ]; then
    for candidate in python3.12 python3.11 python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 && suitable "$candidate"; then
            python=$candidate
            break
        fi
    done
fi
if [ -z "$python" ] && command -v uv >/dev/null 2>&1; then
    echo "No Python 3.11–3.12 found; getting one with uv …"
    python=$(uv python find '>=3.11,<3.13' 2>/dev/null) ||
        { uv python install 3.12 && python=$(uv python find 3.12); } || python=""
fi
if [ -z "$python" ]; then
    cat >&2 <<'MSG'
Chatchat needs Python 3.11 or 3.12, and none was found. Install one, then start Chatchat again:
  Debian / Ubuntu:  sudo apt install python3 python3-venv
  Fedora:           sudo dnf install python3
  macOS:            https://www.python.org/downloads/
or install uv (https://docs.astral.sh/uv/), which this launcher then uses to fetch a Python.
Chatchat 需要 Python 3.11 或 3.12，但没有找到。请先安装（见上面的命令），然后重新启动 Chatchat。
MSG
    fail
fi
exec "$python" "$here/launcher.py" "$@"
