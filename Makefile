# Surge's commands. Each one installs and starts what it needs (see scripts/).
#
#   make run    the shop at http://127.0.0.1:3000 on the local stack (release build, demo catalog)
#   make test   every test: unit, integration (real shards and Redis), Playwright end to end
#   make lint   rustfmt and clippy, as CI runs them
#   make stop   stop the local stack
#   make bench-catalog   search and item-page figures at 10,000 and 100,000 items (release build)
#   make bench-checkout  checkouts per second on one hot item and on many (release build)
#   make load-flash-sale 10,000 buyers for 100 units, through payment (release build)
#   make load-black-friday  the capacity plan's mix for 60 s, and bench/black-friday.svg
#   make load-steady-ramp   the same mix, rising in steps until p99 passes its bound
SHELL := /bin/bash
ENV := source scripts/lib.sh &&
# See build-debug: makes the next cargo-leptos build rebuild the workspace's own crates.
FRESH_CRATES := touch app/src/lib.rs frontend/src/lib.rs server/src/main.rs

.PHONY: run test lint stop stack build-debug test-rust test-e2e bench-catalog bench-checkout \
	load-flash-sale load-black-friday load-steady-ramp

run:
	scripts/setup.sh build
	scripts/stack.sh start
	$(FRESH_CRATES)
	$(ENV) cargo leptos build --release --precompress
	scripts/run.sh

# The Rust tests come before the cargo-leptos build: `cargo test` relinks the `surge` binary
# without cargo-leptos' build environment, and the browser tests need the one cargo-leptos built.
test: stack test-rust build-debug test-e2e

stack:
	scripts/setup.sh all
	scripts/stack.sh start

# The build cache is shared by every checkout, and cargo-leptos can then pair a WASM bundle built
# from one checkout with a server built from another (hydration breaks). Touching the workspace's
# own crates makes both come from this checkout; only those three crates rebuild.
build-debug:
	$(FRESH_CRATES)
	$(ENV) cargo leptos build

test-rust:
	$(ENV) cargo test -p app --features ssr
	$(ENV) cargo test -p server
	# The load tests, alone and one at a time (see server/tests/integration/load.rs).
	$(ENV) cargo test -p server --test integration -- --ignored --test-threads=1

test-e2e:
	$(ENV) cd end2end && npx playwright test

lint:
	scripts/setup.sh build
	$(ENV) cargo fmt --all -- --check
	$(ENV) cargo clippy -p app --features ssr --all-targets -- -D warnings
	$(ENV) cargo clippy -p server --all-targets -- -D warnings
	$(ENV) cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

stop:
	scripts/stack.sh stop

bench-catalog:
	scripts/setup.sh build
	scripts/stack.sh start
	$(ENV) cargo build --release -p server --bin surge
	$(ENV) SURGE_LOG__FILTER=warn "$$CARGO_TARGET_DIR/release/surge" bench-catalog --items 10000
	$(ENV) SURGE_LOG__FILTER=warn "$$CARGO_TARGET_DIR/release/surge" bench-catalog --items 100000

bench-checkout:
	scripts/setup.sh build
	scripts/stack.sh start
	$(ENV) cargo build --release -p server --bin surge
	$(ENV) SURGE_LOG__FILTER=warn "$$CARGO_TARGET_DIR/release/surge" bench-checkout

load-flash-sale:
	scripts/setup.sh build
	scripts/stack.sh start
	$(ENV) cargo build --release -p server --bin surge
	$(ENV) SURGE_LOG__FILTER=warn "$$CARGO_TARGET_DIR/release/surge" load flash-sale

load-black-friday:
	scripts/setup.sh build
	scripts/stack.sh start
	$(ENV) cargo build --release -p server --bin surge
	$(ENV) SURGE_LOG__FILTER=warn "$$CARGO_TARGET_DIR/release/surge" load black-friday

load-steady-ramp:
	scripts/setup.sh build
	scripts/stack.sh start
	$(ENV) cargo build --release -p server --bin surge
	$(ENV) SURGE_LOG__FILTER=warn,tantivy=error "$$CARGO_TARGET_DIR/release/surge" load steady-ramp
