#!/usr/bin/env bash
# Create or refresh .venv from uv.lock (bytecode compiled). Fast no-op when the lock is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
TOOLS_DIR="${SCRUTIN_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/scrutin/uv-$UV_VERSION}"
STAMP=".venv/.scrutin-lock-sha256"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

pick_python() {
  local candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  log "Python 3.11 is required (found: $(python3 --version 2>&1 || echo none)). Install it, e.g. 'apt-get install python3.11 python3.11-venv'."
  exit 1
}

want="$(sha256sum uv.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -x .venv/bin/python ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

PYTHON="$(pick_python)"
if [ ! -x "$TOOLS_DIR/bin/uv" ]; then
  log "installing uv $UV_VERSION into $TOOLS_DIR"
  "$PYTHON" -m venv "$TOOLS_DIR"
  "$TOOLS_DIR/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

log "syncing .venv from uv.lock"
start=$(date +%s)
UV_PROJECT_ENVIRONMENT=.venv UV_COMPILE_BYTECODE=1 UV_PYTHON="$PYTHON" \
  "$TOOLS_DIR/bin/uv" sync --locked --quiet
echo "$want" > "$STAMP"
log ".venv ready in $(( $(date +%s) - start )) s"
