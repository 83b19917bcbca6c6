#!/usr/bin/env bash
# The one test command (README quick start, .ci/run): set up, build, check format, types,
# packaging and the API docs, check the services the tests use (scripts/services.sh: it installs
# missing system packages only with CI=true or SESS_INSTALL_SYSTEM_PACKAGES=1), run every
# package's tests, then print the skipped tests and, as the very last line, the totals across
# packages.
set -uo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/pnpm-path.sh
source scripts/pnpm-path.sh
sess_use_pnpm || { echo "0 passed, 1 failed"; exit 1; }
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

# Stale results from an earlier run must not be counted.
rm -f packages/*/test-results*.json examples/*/test-results*.json docs/test-results*.json

status=0
# Checks that are not unit tests, each counted as one check in the totals.
checks_passed=0
checks_failed=0
check() {
  if "$@"; then checks_passed=$((checks_passed + 1)); else checks_failed=$((checks_failed + 1)); echo "check failed: $*"; fi
}
# The services the tests use. When one is missing the check fails and says how to install it;
# the tests still run, and those that need it are skipped (listed before the totals) or fail.
check bash scripts/services.sh
# Format and lint (Biome), then types, packaging and each package's own lint.
check pnpm exec biome ci .
check pnpm turbo run typecheck lint --output-logs=errors-only
# The public API against its committed reports (packages/*/api/*.api.md).
check node scripts/api-report.mjs
# The API reference (TypeDoc into docs/api): a broken {@link} or any warning fails it.
check pnpm run docs
# The packages' tests, everything built above (`--only`). The core's suite is the longest and
# needs no service (the lifecycle machine's exhaustive walks, on one core), so it runs beside the
# others, which take turns: they share Redis and PostgreSQL.
pnpm turbo run test --only --filter=@sess/core &
core_tests=$!
pnpm turbo run test --only --filter='!@sess/core' --concurrency=1 --continue || status=1
wait "$core_tests" || status=1

# A short soak of every adapter (memory store and Redis: no errors, no lost writes) and the benchmark harness in
# quick mode (it fails only if the harness breaks, never on a missed ratio).
check pnpm --filter @sess/adapter-test soak -- --duration 3 --clients 20
check pnpm bench --quick

node scripts/totals.mjs --checks-passed "$checks_passed" --checks-failed "$checks_failed" || status=1
exit "$status"
