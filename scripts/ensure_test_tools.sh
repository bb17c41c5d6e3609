#!/usr/bin/env bash
# The system tools the test suite drives, from Debian packages, installed with apt-get when missing
# (as root, or with sudo); otherwise it says what to install:
#   - chromium: the headless browser of the page tests (Playwright drives it, tests/browser.py;
#     no browser download);
#   - faketime (libfaketime): runs the demo with the clock years ahead (tests/e2e/test_clock_ahead.py).
set -euo pipefail

log() { printf '[test-tools] %s\n' "$*" >&2; }

LIBFAKETIME=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1

find_chromium() {
  local candidate
  for candidate in "${SCRUTIN_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

missing=()
find_chromium >/dev/null || missing+=(chromium)
[ -e "$LIBFAKETIME" ] || missing+=(faketime)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing with apt-get: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  log "installing with sudo apt-get: ${missing[*]}"
  sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "the tests need these Debian packages: ${missing[*]} (e.g. 'sudo apt-get install ${missing[*]}');"
  log "SCRUTIN_CHROMIUM may point at another Chromium binary."
  exit 1
fi

path="$(find_chromium)" || { log "apt-get ran but no chromium binary was found"; exit 1; }
[ -e "$LIBFAKETIME" ] || { log "apt-get ran but $LIBFAKETIME is missing"; exit 1; }
log "ready: $path ($("$path" --version 2>/dev/null || echo 'version unknown')), libfaketime"
