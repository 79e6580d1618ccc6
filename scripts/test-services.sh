#!/usr/bin/env bash
# Installs (when missing) and starts what the test suite needs on a Debian machine: PostgreSQL 15 for the
# catalog tests and Chromium for the console's end-to-end tests. Prints nothing on stdout but the
# `export TEST_DATABASE_URL=…` line, so callers can `eval "$(bash scripts/test-services.sh)"`.
set -euo pipefail
log() { echo "[test-services] $*" >&2; }

missing=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v softhsm2-util >/dev/null || missing+=(softhsm2)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]} — install them with: sudo apt-get install ${missing[*]}"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
fi

if ! pg_lsclusters -h 2>/dev/null | grep -q '^15 *main'; then
  pg_createcluster 15 main >&2
fi
if ! pg_lsclusters -h | grep -q '^15 *main .*online'; then
  log "starting PostgreSQL 15"
  pg_ctlcluster 15 main start >&2
fi
for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p 5432 || { log "PostgreSQL did not come up; see /var/log/postgresql/postgresql-15-main.log"; exit 1; }

psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAtc \"$1\"" 2>&1; }
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='plexichat'")" != "1" ]; then
  psql_admin "CREATE ROLE plexichat LOGIN PASSWORD 'plexichat' CREATEDB" >&2
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='plexichat'")" != "1" ]; then
  psql_admin "CREATE DATABASE plexichat OWNER plexichat" >&2
fi
echo "export TEST_DATABASE_URL=postgres://plexichat:plexichat@127.0.0.1:5432/plexichat"
