#!/usr/bin/env bash
# The one test command (README quick start, .ci/run): set up, build, check packaging and
# types, install or start the services the tests use, run every package's tests, then print the totals across packages as the last line.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
bash scripts/services.sh || { echo "0 passed, 1 failed"; exit 1; }

# Stale results from an earlier run must not be counted.
rm -f packages/*/test-results.json examples/*/test-results.json

status=0
pnpm turbo run typecheck lint --output-logs=errors-only || status=1
pnpm turbo run test --concurrency=1 || status=1

node scripts/totals.mjs || status=1
exit "$status"
