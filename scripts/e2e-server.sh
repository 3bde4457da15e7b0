#!/usr/bin/env bash
# The server Playwright tests against (end2end/playwright.config.ts starts it): the debug build of
# `surge`, on SURGE_E2E_PORT (3100), with databases and Redis keys of its own that are dropped and
# recreated at every start and seeded with a small demo catalog, so each end-to-end run begins with
# the same data.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary=$CARGO_TARGET_DIR/debug/surge
[ -x "$binary" ] || die "$binary is missing: run 'cargo leptos build' first (make test does)"
export SURGE_HTTP__ADDR=127.0.0.1:${SURGE_E2E_PORT:-3100}
export SURGE_DATABASE__PREFIX=surge_e2e
export SURGE_REDIS__KEY_PREFIX=surge_e2e
export SURGE_SITE__ROOT=$SURGE_ROOT/target/site
# The admin's password comes from playwright.config.ts, fresh for every run.
"$binary" reset --yes
SURGE_ADMIN_PASSWORD=${SURGE_E2E_ADMIN_PASSWORD:?playwright.config.ts sets SURGE_E2E_ADMIN_PASSWORD} \
  "$binary" admin create --username admin --email admin@surge.localhost --phone +10000000000 \
  --display-name "Shop admin"
"$binary" seed --items 240
exec "$binary" serve
