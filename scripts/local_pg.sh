#!/usr/bin/env bash
# Scrutin's embedded PostgreSQL: a private cluster on loopback, non-default port, data outside
# the checkout. Usage: scripts/local_pg.sh start|stop|status
#
# When SCRUTIN_DATABASE_URL is set, that server is the warehouse and this script starts nothing.
set -euo pipefail

PORT="${SCRUTIN_PGPORT:-55432}"
PGDATA_DIR="${SCRUTIN_PGDATA:-/tmp/scrutin-pg-${PORT}/data}"
RUN_DIR="$(dirname "$PGDATA_DIR")"
LOG_FILE="$RUN_DIR/postgres.log"
SUPERUSER="scrutin"

log() { printf '[local-pg] %s\n' "$*" >&2; }

find_bindir() {
  local candidate
  if [ -n "${SCRUTIN_PG_BINDIR:-}" ]; then echo "$SCRUTIN_PG_BINDIR"; return 0; fi
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then echo "$candidate"; return 0; fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

install_server() {
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL server binaries not found: installing them with apt-get (package 'postgresql')"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    # Debian's package starts its own cluster on 5432; we do not need it.
    command -v pg_ctlcluster >/dev/null 2>&1 && pg_ctlcluster --force "$(ls /etc/postgresql | sort -V | tail -1)" main stop 2>/dev/null || true
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL server binaries not found: installing them with sudo apt-get (package 'postgresql')"
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    log "PostgreSQL server binaries (initdb, pg_ctl) are missing and cannot be installed automatically."
    log "Install them, e.g. 'sudo apt-get install postgresql' (Debian/Ubuntu), or set"
    log "SCRUTIN_DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/DB to use an existing server."
    exit 1
  fi
}

# Run a command as the cluster owner: PostgreSQL refuses to run as root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  if [ -n "${SCRUTIN_DATABASE_URL:-}" ]; then
    log "SCRUTIN_DATABASE_URL is set: using that server, starting nothing"
    return 0
  fi
  local bindir
  bindir="$(find_bindir)" || { install_server; bindir="$(find_bindir)"; }
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    log "running as root but no 'postgres' OS user exists to own the cluster; create one (useradd -r postgres)"
    exit 1
  fi
  mkdir -p "$RUN_DIR"
  chmod 755 "$RUN_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$RUN_DIR"
  if [ ! -s "$PGDATA_DIR/PG_VERSION" ]; then
    log "initialising a new cluster in $PGDATA_DIR"
    as_owner "$bindir/initdb" -D "$PGDATA_DIR" -U "$SUPERUSER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$PGDATA_DIR/postgresql.conf" <<CONF
# --- Scrutin local cluster ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN_DIR'
fsync = ${SCRUTIN_PG_FSYNC:-off}
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 256MB
jit = off
CONF
  fi
  if as_owner "$bindir/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    log "already running on 127.0.0.1:$PORT"
  else
    as_owner "$bindir/pg_ctl" -D "$PGDATA_DIR" -l "$LOG_FILE" -w -t 30 start >/dev/null
    log "started on 127.0.0.1:$PORT (data: $PGDATA_DIR, log: $LOG_FILE)"
  fi
}

stop() {
  if [ -n "${SCRUTIN_DATABASE_URL:-}" ]; then
    log "SCRUTIN_DATABASE_URL is set: nothing of ours to stop"
    return 0
  fi
  local bindir
  bindir="$(find_bindir)" || { log "no PostgreSQL binaries: nothing to stop"; return 0; }
  if [ -s "$PGDATA_DIR/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    as_owner "$bindir/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
    log "stopped"
  else
    log "not running"
  fi
}

status() {
  local bindir
  bindir="$(find_bindir)" || { echo "no PostgreSQL binaries"; return 1; }
  as_owner "$bindir/pg_ctl" -D "$PGDATA_DIR" status
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
