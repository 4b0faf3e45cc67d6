#!/usr/bin/env bash
# Installs every Debian package sandpit needs to build, test and run, only those missing.
# Called by `make deps` (and so by `make run` and `make test`). Idempotent; fast when all present.
set -euo pipefail

pkgs=(
  # build
  build-essential pkg-config clang clang-format libclang-rt-14-dev
  libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libseccomp-dev libcmocka-dev
  libpython3.11-dev libpython3-dev python3.11 libwslay-dev libsqlite3-dev nettle-dev
  # what the sandbox offers its users, and the test runner
  python3-pytest python3-numpy python3-pandas python3-matplotlib python3-scipy python3-plotly
  # the other runtimes the agent offers (issue 5); a missing one is a missing language
  nodejs node-typescript openjdk-17-jdk-headless golang-go rustc ruby php-cli perl lua5.4 sqlite3
  mono-mcs mono-runtime r-base-core
  # tools the tests use
  curl iproute2 procps python3-yaml libcap2-bin
  python3-websocket python3-jupyter-client python3-prometheus-client python3-pip
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# TypeScript comes from Debian (node-typescript: /usr/bin/tsc; Debian's nodejs ships the
# @types/node it needs in /usr/share/nodejs/@types), where the sandbox user reaches it wherever
# the checkout lives. No npm: only a nodejs that is not Debian's (NodeSource's, which brings its
# own npm) lacks those types, and gets them below.
types_dir=/usr/share/nodejs/@types/node

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} packages present"
else
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || echo "deps: apt-get update failed, trying the install with the cached lists"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# NodeSource's nodejs: no @types/node from Debian, so the pinned npm copy (runtimes/package*.json)
# goes into /usr/local/lib/sandpit/runtimes, outside the checkout: executions run as the sandbox
# user, who cannot traverse a 0700 /root or mktemp directory holding a clone.
here="$(cd "$(dirname "$0")/.." && pwd)"
sys_rt=/usr/local/lib/sandpit/runtimes
if [ ! -e "$types_dir/index.d.ts" ] && [ ! -e "$sys_rt/node_modules/@types/node/index.d.ts" ] &&
  command -v npm >/dev/null 2>&1; then
  echo "deps: nodejs is not Debian's: installing @types/node into $sys_rt (npm)"
  $SUDO mkdir -p "$sys_rt" && $SUDO chmod 0755 /usr/local/lib/sandpit "$sys_rt" &&
    $SUDO cp "$here/runtimes/package.json" "$here/runtimes/package-lock.json" "$sys_rt/" &&
    (cd "$sys_rt" && umask 022 && $SUDO npm ci --no-audit --no-fund --loglevel=error) ||
    echo "deps: npm ci failed: the typescript runtime will be missing (the agent says so)"
fi
