#!/usr/bin/env bash
# What the tests need beyond Node and npm:
#   - Chromium, for the demo's browser test (examples/demo);
#   - redis-server and redis-cli, for the Redis store: a server at REDIS_URL's default address,
#     and the binaries the cluster and outage tests start their own servers from;
#   - PostgreSQL, for the Postgres store: a server at DATABASE_URL's default address
#     (postgres://postgres@127.0.0.1:5432/test, trust authentication).
#
# System packages are installed (apt-get) only when they are missing AND either CI=true or
# SESS_INSTALL_SYSTEM_PACKAGES=1 is set. Otherwise this prints what is missing and the command
# that installs it, and exits 1: nothing on your machine changes without your say-so.
# Servers at the default addresses are started when they are installed but not running; a
# REDIS_URL or DATABASE_URL elsewhere is the caller's server and is left alone.
set -euo pipefail

install_ok=false
if [ "${CI:-}" = "true" ] || [ "${SESS_INSTALL_SYSTEM_PACKAGES:-}" = "1" ]; then install_ok=true; fi

REDIS_DEFAULT="redis://127.0.0.1:6379"
DATABASE_DEFAULT="postgres://postgres@127.0.0.1:5432/test"
want_postgres=false
if [ -z "${DATABASE_URL:-}" ] || [ "${DATABASE_URL}" = "$DATABASE_DEFAULT" ]; then want_postgres=true; fi

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
if $want_postgres && ! command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  missing+=(postgresql)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if ! $install_ok; then
    echo "services: missing system packages: ${missing[*]}" >&2
    echo "services: install them with:  sudo apt-get install ${missing[*]}" >&2
    echo "services: or let this script do it:  SESS_INSTALL_SYSTEM_PACKAGES=1 npm run verify" >&2
    exit 1
  fi
  echo "services: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Redis: only the default address is ours to start.
if [ -z "${REDIS_URL:-}" ] || [ "${REDIS_URL}" = "$REDIS_DEFAULT" ]; then
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "services: starting redis-server on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || {
    echo "services: no Redis answers at $REDIS_DEFAULT (set REDIS_URL to use another server)" >&2
    exit 1
  }
fi

# PostgreSQL: start Debian's cluster if it is installed but stopped, then check the default URL.
if $want_postgres; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null 2>&1; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
    if [ -n "$version" ]; then
      echo "services: starting PostgreSQL $version (cluster main) on 127.0.0.1:5432"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
      for _ in $(seq 1 50); do
        pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && break
        sleep 0.2
      done
    fi
  fi
  # The tests' database, created when the server answers without it (a fresh cluster has none).
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 ||
      createdb -h 127.0.0.1 -U postgres test 2>/dev/null || true
  fi
  if ! psql "$DATABASE_DEFAULT" -Atqc 'select 1' >/dev/null 2>&1; then
    echo "services: no PostgreSQL answers at $DATABASE_DEFAULT" >&2
    echo "services: it needs a server on 127.0.0.1:5432 with a database named test that user postgres" >&2
    echo "services: reaches without a password (trust), or set DATABASE_URL to a server of yours" >&2
    exit 1
  fi
fi
