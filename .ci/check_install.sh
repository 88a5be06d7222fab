#!/usr/bin/env bash
# Install Chatchat the way users do and run it from elsewhere: build the wheel, install it (not editable)
# into a fresh venv, then from a folder outside the checkout, with a fresh data dir, run `chatchat --help`,
# `kb list`, `models list`, and `serve` until it answers HTTP 200.
# The dependencies become wheels first (`pip wheel` takes llama-cpp-python's compiled wheel from pip's
# cache, so it is not compiled again); the venv installs from those wheels only (--no-index,
# --only-binary), so nothing is compiled or fetched twice and nothing is borrowed from this Python.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "check_install: wheels of chatchat[local,ocr] and its dependencies"
python -m pip wheel --quiet --wheel-dir "$work/wheels" "$repo[local,ocr]"
echo "check_install: a fresh venv with the wheel, not editable"
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --no-index --only-binary=:all: --find-links "$work/wheels" "chatchat[local,ocr]"

mkdir "$work/elsewhere"
cd "$work/elsewhere"
export CHATCHAT_HOME="$work/home"
chatchat="$work/venv/bin/chatchat"
"$work/venv/bin/python" -c "import chatchat, sys
sys.exit(None if chatchat.__file__.startswith(sys.prefix) else 'chatchat is imported from ' + chatchat.__file__)"
"$chatchat" --help >/dev/null
"$chatchat" kb list
"$chatchat" models list >/dev/null
free_port() { "$work/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# serve until HTTP 200 on the port, with the environment given (the arguments), then stop the server
serve_until_200() {
  local port="$1"; shift
  env "$@" "$chatchat" serve --port "$port" &
  server=$!
  for _ in $(seq 1 180); do
    if curl -fs -o /dev/null "http://127.0.0.1:$port/"; then
      kill "$server"; wait "$server" 2>/dev/null || true; server=""
      return 0
    fi
    kill -0 "$server" 2>/dev/null || { echo "check_install: chatchat serve exited" >&2; exit 1; }
    sleep 1
  done
  echo "check_install: chatchat serve did not answer within 180 s" >&2
  exit 1
}
port="$(free_port)"
serve_until_200 "$port" CHATCHAT_LANGUAGE=auto
echo "check_install: chatchat serve answers HTTP 200 on port $port"
# as the container image runs it (installer/docker/Dockerfile): on every interface, with a key and a login,
# its data dir a fresh folder as the volume would be
port="$(free_port)"
serve_until_200 "$port" CHATCHAT_HOST=0.0.0.0 CHATCHAT_API_KEY=check-key CHATCHAT_AUTH=admin:check-pass \
  CHATCHAT_HOME="$work/volume"
echo "check_install: served as the image does (CHATCHAT_HOST=0.0.0.0 with key and login) on port $port"
