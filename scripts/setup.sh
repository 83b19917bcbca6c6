#!/usr/bin/env bash
# Brings a fresh machine with only Node 20 and npm to a built workspace: the pnpm version that
# package.json names (see pnpm-path.sh: a global pnpm is never replaced), the frozen lockfile,
# every package built. Arguments, if any, are a command run afterwards with that pnpm on PATH
# (`npm run demo` starts the demo this way).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/pnpm-path.sh
source scripts/pnpm-path.sh
sess_use_pnpm

pnpm install --frozen-lockfile
pnpm turbo run build --output-logs=errors-only

if [ "$#" -gt 0 ]; then exec "$@"; fi
