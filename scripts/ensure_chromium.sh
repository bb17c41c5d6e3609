#!/usr/bin/env bash
# Make sure a headless Chromium is available for the browser tests (Debian package `chromium`).
# Installs it with apt-get when missing and we are root (or have sudo); otherwise says what to do.
# Playwright drives this binary (tests/browser.py); no browser download is needed.
set -euo pipefail

log() { printf '[chromium] %s\n' "$*" >&2; }

find_chromium() {
  local candidate
  for candidate in "${SCRUTIN_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

if find_chromium >/dev/null; then exit 0; fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "Chromium not found: installing it with apt-get (package 'chromium')"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  log "Chromium not found: installing it with sudo apt-get (package 'chromium')"
  sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
else
  log "Chromium is needed by the browser tests. Install it (e.g. 'sudo apt-get install chromium')"
  log "or point SCRUTIN_CHROMIUM at a Chromium binary."
  exit 1
fi

path="$(find_chromium)" || { log "apt-get ran but no chromium binary was found"; exit 1; }
log "ready: $path ($("$path" --version 2>/dev/null || echo 'version unknown'))"
