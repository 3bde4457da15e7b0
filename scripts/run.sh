#!/usr/bin/env bash
# What `make run` serves: the release build of `surge` on the local stack, migrated, with the demo
# catalog seeded into an empty shop, and an admin account (username `admin`) whose password is
# created once for this machine in .stack/admin-password (git-ignored); beside it, the sandbox
# payment processor (`surge psp-sandbox`) on port 3900.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary=$CARGO_TARGET_DIR/release/surge
[ -x "$binary" ] || die "$binary is missing: run 'cargo leptos build --release' first (make run does)"
password_file=$SURGE_ROOT/.stack/admin-password
if [ ! -s "$password_file" ]; then
  mkdir -p "$(dirname "$password_file")"
  (umask 077 && head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$password_file")
fi
export SURGE_SITE__ROOT=${SURGE_SITE__ROOT:-$SURGE_ROOT/target/site}
"$binary" migrate
SURGE_ADMIN_PASSWORD=$(cat "$password_file") "$binary" admin create --if-missing \
  --username admin --email admin@surge.localhost --phone +10000000000 --display-name "Shop admin"
"$binary" seed --if-empty
# The sandbox payment processor runs beside the shop, with a merchant API key and a webhook secret
# made once per machine (git-ignored, like the admin password).
secret() {
  [ -s "$1" ] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1")
  cat "$1"
}
SURGE_PSP_SANDBOX__API_KEY=$(secret "$SURGE_ROOT/.stack/psp-api-key")
SURGE_PSP_SANDBOX__WEBHOOK_SECRET=$(secret "$SURGE_ROOT/.stack/psp-webhook-secret")
# The shop pays through the sandbox with the same key, and checks its webhooks with the same secret.
SURGE_PAYMENTS__API_KEY=$SURGE_PSP_SANDBOX__API_KEY
SURGE_PAYMENTS__WEBHOOK_SECRET=$SURGE_PSP_SANDBOX__WEBHOOK_SECRET
SURGE_PAYMENTS__WEBHOOK_URL=${SURGE_PAYMENTS__WEBHOOK_URL:-http://127.0.0.1:3000/api/v1/payments/webhook}
export SURGE_PSP_SANDBOX__API_KEY SURGE_PSP_SANDBOX__WEBHOOK_SECRET SURGE_PAYMENTS__API_KEY \
  SURGE_PAYMENTS__WEBHOOK_SECRET SURGE_PAYMENTS__WEBHOOK_URL
"$binary" psp-sandbox &
sandbox=$!
trap 'kill "$sandbox" 2>/dev/null || true' EXIT
say "the shop: http://127.0.0.1:3000 — admin console: sign in as 'admin', password in $password_file"
say "the sandbox bank: http://127.0.0.1:3900/bank"
"$binary" serve --no-migrate
