#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine with Node 20: dependencies, services, then every test
# (unit, integration against both the embedded PGlite catalog and PostgreSQL, end-to-end in Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir="${npm_config_nodedir:-/usr}" NEXT_TELEMETRY_DISABLED=1
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
eval "$(bash scripts/test-services.sh)"
# The whole suite also type-checks and lints (13 s here): a type error or a lint finding fails it as a
# failing test would. (Before this, neither ran in CI, and a lint error stayed on main for a session.)
if [ $# -eq 0 ]; then
  npx tsc --noEmit -p .
  npx eslint .
fi
# Build the console once, first: the browser tests then start their consoles without waiting on a build.
node bin/build-console.mjs
exec npx vitest run "$@"
