#!/usr/bin/env bash
# The dashboard's CI: Chromium from Debian if missing, npm packages from the lock file, unit
# tests, the production build, then the end-to-end run (with its perf step) in headless Chromium
# against the given binaries. For .ci/run:
#   AGENTSTACK_BIN=target/debug/agentstack QUICKSTART_BIN=target/debug/examples/quickstart \
#     agentstack-server/dashboard/ci.sh
# Extra env: E2E_REQUIRE_LIVE=1, E2E_REQUIRE_ALERTS=1, E2E_REQUIRE_COSTS=1 (see README.md).
set -euo pipefail
: "${AGENTSTACK_BIN:?set AGENTSTACK_BIN to the agentstack binary}"
: "${QUICKSTART_BIN:?set QUICKSTART_BIN to the quickstart example binary}"
# Relative paths are the caller's: resolve them before moving into the dashboard directory.
AGENTSTACK_BIN="$(realpath "$AGENTSTACK_BIN")"
QUICKSTART_BIN="$(realpath "$QUICKSTART_BIN")"
export AGENTSTACK_BIN QUICKSTART_BIN
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM_BIN:-}" ]; then
  apt-get install -y chromium
fi
npm ci --no-audit --no-fund
npm test
npm run build
npm run e2e
