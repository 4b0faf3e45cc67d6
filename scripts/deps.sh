#!/usr/bin/env bash
# Installs every Debian package sandpit needs to build, test and run, only those missing.
# Called by `make deps` (and so by `make run` and `make test`). Idempotent; fast when all present.
set -euo pipefail

pkgs=(
  # build
  build-essential pkg-config clang clang-format libclang-rt-14-dev
  libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev uuid-dev libseccomp-dev libcmocka-dev
  libpython3.11-dev python3.11
  # what the sandbox offers its users, and the test runner
  python3-pytest python3-numpy python3-pandas python3-matplotlib python3-scipy python3-plotly
  # tools the tests use
  curl iproute2 procps
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "deps: apt-get update failed, trying the install with the cached lists"
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
