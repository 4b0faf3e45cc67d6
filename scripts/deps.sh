#!/usr/bin/env bash
# Installs every Debian package sandpit needs to build, test and run, only those missing.
# Called by `make deps` (and so by `make run` and `make test`). Idempotent; fast when all present.
set -euo pipefail

pkgs=(
  # build
  build-essential pkg-config clang clang-format libclang-rt-14-dev
  libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libseccomp-dev libcmocka-dev
  libpython3.11-dev libpython3-dev python3.11
  # what the sandbox offers its users, and the test runner
  python3-pytest python3-numpy python3-pandas python3-matplotlib python3-scipy python3-plotly
  # the other runtimes the agent offers (issue 5); a missing one is a missing language
  nodejs openjdk-17-jdk-headless golang-go rustc ruby php-cli perl lua5.4 sqlite3
  mono-mcs mono-runtime r-base-core
  # tools the tests use
  curl iproute2 procps python3-yaml libcap2-bin
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# npm ships with NodeSource's nodejs but is a package of its own in Debian's.
command -v npm >/dev/null 2>&1 || missing+=(npm)

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

# TypeScript's compiler, into the project (runtimes/node_modules), pinned by package-lock.json.
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x "$here/runtimes/node_modules/.bin/tsc" ]; then
  echo "deps: installing the TypeScript compiler into runtimes/node_modules"
  (cd "$here/runtimes" && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "deps: npm ci failed: the typescript runtime will be missing (the agent says so)"
fi
