# Shared by the scripts in this folder: where things live, and how to install a Debian package.
# Source it; it defines variables and functions only.

SURGE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# One build cache outside the clone, shared by every checkout on the machine.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/surge/target}
# Tools installed from the registries (wasm-opt from npm) live beside it.
SURGE_TOOLS=${SURGE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/surge/tools}
export PATH="$HOME/.cargo/bin:$SURGE_TOOLS/node_modules/.bin:$PATH"
# Leptos reads this at compile time: every cargo command must agree with cargo-leptos on it, or
# each one rebuilds the whole dependency tree.
export LEPTOS_OUTPUT_NAME=surge

say() { printf '\033[1m[surge]\033[0m %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# as_root CMD...: runs CMD as root (directly, or through sudo).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $*"
  fi
}

APT_UPDATED=
# apt_install PACKAGE...: installs the Debian packages that are missing; apt-get update once.
apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} = 0 ] && return 0
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  say "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
