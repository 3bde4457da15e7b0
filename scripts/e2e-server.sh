#!/usr/bin/env bash
# The server Playwright tests against (end2end/playwright.config.ts starts it): the debug build of
# `surge`, on SURGE_E2E_PORT (3100), with databases and Redis keys of its own that are dropped and
# recreated at every start and seeded with a small demo catalog, so each end-to-end run begins with
# the same data. Beside it, the sandbox payment processor on SURGE_E2E_PSP_PORT (3190), with a
# merchant key and webhook secret new for every run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary=$CARGO_TARGET_DIR/debug/surge
[ -x "$binary" ] || die "$binary is missing: run 'cargo leptos build' first (make test does)"
port=${SURGE_E2E_PORT:-3100}
psp_port=${SURGE_E2E_PSP_PORT:-3190}
export SURGE_HTTP__ADDR=127.0.0.1:$port
export SURGE_DATABASE__PREFIX=surge_e2e
export SURGE_REDIS__KEY_PREFIX=surge_e2e
export SURGE_SITE__ROOT=$SURGE_ROOT/target/site
# Stock is held for 30 seconds, so the unpaid path ends within a test.
export SURGE_CHECKOUT__HOLD_SECONDS=30
random() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
export SURGE_PSP_SANDBOX__ADDR=127.0.0.1:$psp_port
export SURGE_PSP_SANDBOX__API_KEY=$(random)
export SURGE_PSP_SANDBOX__WEBHOOK_SECRET=$(random)
export SURGE_PAYMENTS__PROCESSOR_URL=http://127.0.0.1:$psp_port
export SURGE_PAYMENTS__API_KEY=$SURGE_PSP_SANDBOX__API_KEY
export SURGE_PAYMENTS__WEBHOOK_SECRET=$SURGE_PSP_SANDBOX__WEBHOOK_SECRET
export SURGE_PAYMENTS__WEBHOOK_URL=http://127.0.0.1:$port/api/v1/payments/webhook
# The admin's password comes from playwright.config.ts, fresh for every run.
"$binary" reset --yes
SURGE_ADMIN_PASSWORD=${SURGE_E2E_ADMIN_PASSWORD:?playwright.config.ts sets SURGE_E2E_ADMIN_PASSWORD} \
  "$binary" admin create --username admin --email admin@surge.localhost --phone +10000000000 \
  --display-name "Shop admin"
"$binary" seed --items 240
"$binary" psp-sandbox &
sandbox=$!
"$binary" serve &
server=$!
trap 'kill "$sandbox" "$server" 2>/dev/null || true' EXIT INT TERM
wait "$server"
