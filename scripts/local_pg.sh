#!/usr/bin/env bash
# Scrutin's embedded PostgreSQL: a private cluster on loopback, non-default port, data outside
# the checkout. Usage: scripts/local_pg.sh start|stop|status
#
# When SCRUTIN_DATABASE_URL is set, that server is the warehouse and this script starts nothing.
#
# Every connection, socket or TCP, authenticates with a password (SCRAM-SHA-256): the superuser's
# is generated at initdb and kept in "$RUN_DIR/pgpass" (pgpass format, mode 0600), where
# scrutin.config finds it; the socket and its folder are the cluster owner's only (0700). Without
# that, any local user could connect as the superuser and run `COPY ... TO PROGRAM`.
# A cluster made by an older version (trust authentication) is upgraded at its next start.
set -euo pipefail

PORT="${SCRUTIN_PGPORT:-55432}"
PGDATA_DIR="${SCRUTIN_PGDATA:-/tmp/scrutin-pg-${PORT}/data}"
RUN_DIR="$(dirname "$PGDATA_DIR")"
LOG_FILE="$RUN_DIR/postgres.log"
# Keep in step with scrutin.config.local_passfile().
PASS_FILE="$RUN_DIR/pgpass"
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

# A random password from Python's `secrets` (URL-safe: no character pgpass or a URL must escape).
new_password() {
  local python
  python="$(command -v python3 || true)"
  if [ -n "$python" ]; then
    "$python" -c 'import secrets; print(secrets.token_urlsafe(32))'
  else
    head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c 43; echo
  fi
}

# The pgpass line of the superuser: any host (127.0.0.1 or the socket folder), this port.
write_pass_file() {
  local password="$1"
  ( umask 077; printf '*:%s:*:%s:%s\n' "$PORT" "$SUPERUSER" "$password" > "$PASS_FILE.tmp" )
  chmod 600 "$PASS_FILE.tmp"
  mv -f "$PASS_FILE.tmp" "$PASS_FILE"
}

# Our own pg_hba.conf: SCRAM for the socket and loopback TCP, nothing else, no `trust` line.
write_hba() {
  as_owner tee "$PGDATA_DIR/pg_hba.conf" >/dev/null <<HBA
# Scrutin local cluster (scripts/local_pg.sh): a password for every connection, no trust.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
HBA
}

# Settings read at every start; the last occurrence in postgresql.conf wins, so an upgraded
# cluster gets them appended.
socket_settings() {
  cat <<CONF
# --- Scrutin: socket for the cluster owner only ---
unix_socket_directories = '$RUN_DIR'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
CONF
}

is_trust_cluster() {
  as_owner grep -Eq '^[[:space:]]*[^#[:space:]].*[[:space:]]trust([[:space:]]|$)' "$PGDATA_DIR/pg_hba.conf"
}

# A cluster initialised with --auth=trust (before password authentication): give the superuser
# a password, replace pg_hba.conf, restrict the socket, restart.
upgrade_trust_cluster() {
  local bindir="$1" password
  log "upgrading the cluster in $PGDATA_DIR from trust to password (SCRAM) authentication"
  if ! as_owner "$bindir/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    as_owner "$bindir/pg_ctl" -D "$PGDATA_DIR" -l "$LOG_FILE" -w -t 30 start >/dev/null
  fi
  password="$(new_password)"
  # The statement goes through stdin, never a command line another user could see in `ps`.
  printf "set password_encryption = 'scram-sha-256';\nalter role %s password '%s';\n" \
    "$SUPERUSER" "$password" \
    | "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" -d postgres -f - >/dev/null
  write_pass_file "$password"
  write_hba
  socket_settings | as_owner tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
  as_owner "$bindir/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
}

start() {
  if [ -n "${SCRUTIN_DATABASE_URL:-}" ]; then
    log "SCRUTIN_DATABASE_URL is set: using that server, starting nothing"
    return 0
  fi
  local bindir pwfile
  bindir="$(find_bindir)" || { install_server; bindir="$(find_bindir)"; }
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    log "running as root but no 'postgres' OS user exists to own the cluster; create one (useradd -r postgres)"
    exit 1
  fi
  # The cluster's folder is made private below (mode 700, owned by the cluster's owner): a
  # shared directory must never be it. SCRUTIN_PGDATA=/tmp/x once turned /tmp itself into
  # postgres's private folder, and every other program lost /tmp.
  if [ "$RUN_DIR" = "/" ] || { [ -d "$RUN_DIR" ] && [ -k "$RUN_DIR" ]; }; then
    log "SCRUTIN_PGDATA=$PGDATA_DIR: its parent $RUN_DIR is a shared directory; the cluster's folder (socket, log, pass file) is made private, so give the cluster a folder of its own, e.g. SCRUTIN_PGDATA=${RUN_DIR%/}/scrutin-pg/data"
    exit 1
  fi
  mkdir -p "$RUN_DIR"
  # The socket and the log live here: the cluster owner's only. As root the owner is the
  # `postgres` OS user; root (the client) still reads the pass file and reaches the socket.
  chmod 700 "$RUN_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$RUN_DIR"
  if [ ! -s "$PGDATA_DIR/PG_VERSION" ]; then
    log "initialising a new cluster in $PGDATA_DIR (password authentication, password in $PASS_FILE)"
    write_pass_file "$(new_password)"
    # initdb reads the password from a file the cluster owner can read; removed right after.
    pwfile="$RUN_DIR/.initdb-password"
    ( umask 077; cut -d: -f5- "$PASS_FILE" > "$pwfile" )
    [ "$(id -u)" -eq 0 ] && chown postgres "$pwfile"
    if ! as_owner "$bindir/initdb" -D "$PGDATA_DIR" -U "$SUPERUSER" --pwfile="$pwfile" \
        --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null; then
      rm -f "$pwfile"
      exit 1
    fi
    rm -f "$pwfile"
    write_hba
    # Durability (docs/operations.md, "The embedded cluster"): SCRUTIN_PG_FSYNC=off makes a
    # throwaway cluster (CI, tests) that a power cut may corrupt; full_page_writes follows it.
    # synchronous_commit = off may lose the last commits of a crash, never corrupts.
    local durable="${SCRUTIN_PG_FSYNC:-on}"
    {
      cat <<CONF
# --- Scrutin local cluster ---
listen_addresses = '127.0.0.1'
port = $PORT
fsync = $durable
full_page_writes = $durable
synchronous_commit = off
max_connections = 100
shared_buffers = 256MB
jit = off
CONF
      socket_settings
    } | as_owner tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
  elif is_trust_cluster; then
    upgrade_trust_cluster "$bindir"
  elif [ ! -s "$PASS_FILE" ]; then
    log "the cluster in $PGDATA_DIR needs a password but $PASS_FILE is missing."
    log "Restore that file, or start afresh: bash scripts/local_pg.sh stop && rm -rf $RUN_DIR"
    exit 1
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
