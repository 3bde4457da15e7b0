#!/usr/bin/env bash
# What `make run` serves: the release build of `surge` on the local stack, migrated, with the demo
# catalog seeded into an empty shop, and an admin token of this machine's own (.stack/admin-token,
# git-ignored, created once) for the admin API.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary=$CARGO_TARGET_DIR/release/surge
[ -x "$binary" ] || die "$binary is missing: run 'cargo leptos build --release' first (make run does)"
token_file=$SURGE_ROOT/.stack/admin-token
if [ ! -s "$token_file" ]; then
  mkdir -p "$(dirname "$token_file")"
  (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token_file")
fi
export SURGE_ADMIN__TOKEN=${SURGE_ADMIN__TOKEN:-$(cat "$token_file")}
export SURGE_SITE__ROOT=${SURGE_SITE__ROOT:-$SURGE_ROOT/target/site}
"$binary" migrate
"$binary" seed --if-empty
say "the shop: http://127.0.0.1:3000 — admin API token in $token_file"
exec "$binary" serve --no-migrate
