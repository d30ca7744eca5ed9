#!/usr/bin/env bash
# Every check and test Switchboard has, as CI runs them. Safe to run again and
# again: it installs and starts only what is missing.
#
#   - PostgreSQL on 127.0.0.1:5432 (database `test`) for the store suite on PostgreSQL
#   - the test peers pinned under tests/peers (aiosmtpd, mcp and schemathesis from PyPI; oidc-provider,
#     the signing libraries, axe-core and the MCP SDK from npm)
#   - Chromium and chromedriver (Debian `chromium`, `chromium-driver`) for the browser tests
#   - formatting, clippy (warnings are errors), the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

ensure_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then return; fi
  log "starting PostgreSQL"
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 60); do
    pg_isready -h 127.0.0.1 -p 5432 -q && break
    sleep 0.5
  done
  pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
  psql -h 127.0.0.1 -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
}

ensure_browser() {
  # A real headless Chromium for the UI tests (tests/it/support/chrome.rs), driven by chromedriver.
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then return; fi
  log "installing Chromium and chromedriver"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  local bin
  for bin in /usr/bin/chromium /usr/bin/chromedriver; do
    [ -x "$bin" ] || { echo "$bin is still missing after installing chromium chromium-driver" >&2; exit 1; }
  done
}

drop_old_test_schemas() {
  # Each test makes its own schema (sbt_…); clear those of earlier runs.
  local drops
  drops=$(psql "$SWITCHBOARD_TEST_POSTGRES_URL" -Atc \
    "SELECT string_agg(format('DROP SCHEMA %I CASCADE', nspname), '; ') FROM pg_namespace WHERE nspname LIKE 'sbt\_%' OR nspname LIKE 'bench\_%'")
  if [ -n "$drops" ]; then psql "$SWITCHBOARD_TEST_POSTGRES_URL" -q -c "$drops" >/dev/null; fi
}

ensure_python_peers() {
  # A real SMTP server (aiosmtpd), the MCP client SDK and Schemathesis, pinned with hashes in
  # tests/peers/requirements.txt.
  local venv=tests/peers/.venv want
  want=$(sha256sum tests/peers/requirements.txt | cut -d' ' -f1)
  if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
    log "installing Python test peers"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r tests/peers/requirements.txt
    echo "$want" > "$venv/.installed"
  fi
}

ensure_node_peers() {
  # A real OAuth 2.0 / OpenID Connect server (oidc-provider) and the providers' signing
  # libraries, pinned in tests/peers/package-lock.json.
  local want
  want=$(sha256sum tests/peers/package-lock.json | cut -d' ' -f1)
  if [ "$(cat tests/peers/node_modules/.installed 2>/dev/null)" != "$want" ]; then
    log "installing Node test peers (npm ci)"
    (cd tests/peers && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > tests/peers/node_modules/.installed
  fi
}

ensure_js_sdk() {
  # The browser SDK's build tools (typescript, openapi-typescript), pinned in clients/js/package-lock.json.
  local want
  want=$(sha256sum clients/js/package-lock.json | cut -d' ' -f1)
  if [ "$(cat clients/js/node_modules/.installed 2>/dev/null)" != "$want" ]; then
    log "installing the JS SDK's build tools (npm ci)"
    (cd clients/js && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > clients/js/node_modules/.installed
  fi
}

ensure_postgres
ensure_browser
ensure_python_peers
ensure_node_peers
ensure_js_sdk
export SWITCHBOARD_TEST_POSTGRES_URL="${SWITCHBOARD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
drop_old_test_schemas

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "JS SDK: schema check, type check, build, unit tests (clients/js)"
(cd clients/js && npm run check && npm run build && npm test)

log "cargo test (SQLite and PostgreSQL)"
cargo test --workspace --locked

log "all checks passed"
