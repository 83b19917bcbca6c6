#!/usr/bin/env bash
# What the tests need beyond Node and npm, installed or started when missing: Chromium for the
# browser test, redis-server/redis-cli for the Redis store (a standalone server at REDIS_URL's
# default address, and the binaries the cluster tests start their own nodes from).
set -euo pipefail

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)

if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "services: installing ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Only the default address is ours to start; a REDIS_URL elsewhere is the caller's server.
if [ -z "${REDIS_URL:-}" ] || [ "${REDIS_URL}" = "redis://127.0.0.1:6379" ]; then
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "services: starting redis-server on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
fi
