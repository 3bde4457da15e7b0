#!/usr/bin/env bash
# Installs the build and test tools Surge needs, each only when missing (idempotent):
#
#   scripts/setup.sh build   the WASM target, cargo-leptos, the wasm-bindgen CLI, wasm-opt
#   scripts/setup.sh e2e     Debian's Chromium and end2end/'s npm packages
#
# Everything comes from the package registries (Debian, crates, npm). Nothing downloads a browser
# or a prebuilt binary from elsewhere: cargo-leptos is built with `no_downloads` and finds
# wasm-bindgen and wasm-opt on PATH.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# 0.3.11 needs a newer rustc than this toolchain (1.95); 0.3.10's lockfile builds.
CARGO_LEPTOS_VERSION=0.3.10
# The npm build of binaryen: Debian's (108) produces a bundle that does not hydrate.
BINARYEN_VERSION=132.0.0

build_tools() {
  command -v cargo >/dev/null || die "Rust is required (rustup, https://rustup.rs)"
  apt_install pkg-config gcc
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    say "building cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes on 2 cores, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
  fi
  # The CLI must be exactly the wasm-bindgen version of Cargo.lock.
  local wasm_bindgen
  wasm_bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$SURGE_ROOT/Cargo.lock")
  [ -n "$wasm_bindgen" ] || die "no wasm-bindgen in Cargo.lock"
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $wasm_bindgen\$"; then
    say "building wasm-bindgen-cli $wasm_bindgen"
    # Without --locked: its own lockfile pins a prerelease that does not build here.
    cargo install wasm-bindgen-cli --version "$wasm_bindgen" --force
  fi
  if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
    command -v npm >/dev/null || die "Node.js and npm are required"
    say "installing wasm-opt (npm binaryen $BINARYEN_VERSION) into $SURGE_TOOLS"
    mkdir -p "$SURGE_TOOLS"
    npm install --prefix "$SURGE_TOOLS" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
  fi
}

e2e_tools() {
  apt_install chromium
  command -v npm >/dev/null || die "Node.js and npm are required"
  local lock=$SURGE_ROOT/end2end/package-lock.json stamp=$SURGE_ROOT/end2end/node_modules/.surge-installed
  if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    say "installing end2end/'s npm packages"
    # The browser comes from Debian: never let Playwright download one.
    (cd "$SURGE_ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
    touch "$stamp"
  fi
}

case "${1:-all}" in
  build) build_tools ;;
  e2e) e2e_tools ;;
  all) build_tools; e2e_tools ;;
  *) echo "usage: $0 [build|e2e|all]" >&2; exit 2 ;;
esac
