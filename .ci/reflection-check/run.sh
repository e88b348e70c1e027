#!/usr/bin/env bash
# Starts a 3-node cluster on 127.0.0.242-244 under a temporary folder, installs the npm reflection
# client there (versions pinned in package.json, no lock file kept), runs check.js against a node,
# and stops exactly the nodes it started, also on failure. Run from the repository root.
set -euo pipefail
root_dir=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ringkv-reflection.XXXXXX")
export RINGKV_RUN_DIR="$work/run" RINGKV_ADDRESS_BASE=241 RINGKV_START_TIMEOUT_SECONDS=180
cleanup() {
  "$root_dir/deploy/local-cluster.sh" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
command -v npm >/dev/null 2>&1 || { echo "reflection-check: npm is not installed" >&2; exit 1; }
cp "$root_dir/.ci/reflection-check/package.json" "$root_dir/.ci/reflection-check/check.js" "$work/"
(cd "$work" && timeout 300 npm install --no-package-lock --no-audit --no-fund --loglevel=error >/dev/null)
timeout 300 "$root_dir/deploy/local-cluster.sh" start 3
timeout 120 node "$work/check.js" 127.0.0.242:7379
