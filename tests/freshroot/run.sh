#!/usr/bin/env bash
# `make freshroot`: the README's two commands on a fresh Debian 12 root (issue 17, item 10).
#
# debootstraps a minimal bookworm once (reused after), copies it into a run root, clones this
# repository's HEAD into <root>/root/project with /root at 0700 (as on a new Debian server),
# enters it with chroot (/ is then NOT a mount point, as in many CI and build systems), and runs
# `make test` and `make run` there (curl /execute print(1+1) on :6000, then stop). Not part of
# `make test`: it installs every package into the root and runs the whole suite (an hour).
#
# Needs root, debootstrap, and Debian's archive. Everything lives under FRESHROOT_DIR
# (default /var/tmp/sandpit-freshroot): base/ the debootstrapped root, apt-cache/ the packages
# downloaded (kept between runs), run/ the root of the last run (replaced each run unless
# FRESHROOT_KEEP=1), logs in run-*.log. The mounts are undone on exit, whatever happens.
#
#   FRESHROOT_TESTS="tests/e2e/test_runtimes.py"  a pytest subset instead of the whole make test
#   FRESHROOT_TIMEOUT=5400                         bound of the whole run, seconds
set -euo pipefail

here="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${FRESHROOT_DIR:-/var/tmp/sandpit-freshroot}"
base="$dir/base"
root="$dir/run"
cache="$dir/apt-cache"
mirror="${FRESHROOT_MIRROR:-http://deb.debian.org/debian}"
bound="${FRESHROOT_TIMEOUT:-5400}"
port="${SANDPIT_PORT:-6000}"
mounts=(proc sys dev var/cache/apt/archives)

[ "$(id -u)" -eq 0 ] || { echo "freshroot: needs root (debootstrap, chroot, mount)"; exit 2; }
command -v debootstrap >/dev/null || apt-get install -y -qq --no-install-recommends debootstrap
mkdir -p "$dir" "$cache"

# Every process whose root is the run root: started by this script, ended by pid.
chroot_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
  done
  return 0
}

cleanup() {
  local pids m
  pids=$(chroot_pids)
  [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
  sleep 1
  for m in "${mounts[@]}"; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -R "$root/$m" 2>/dev/null
    mountpoint -q "$root/$m" 2>/dev/null && umount -R -l "$root/$m"
  done
  if findmnt -rn -o TARGET | grep -q "^$root/"; then
    echo "freshroot: mounts left under $root:"; findmnt -rn -o TARGET | grep "^$root/"
  fi
  return 0
}
trap cleanup EXIT INT TERM

# Never remove a root with a live mount inside.
remove_root() {
  cleanup
  if findmnt -rn -o TARGET | grep -q "^$root"; then
    echo "freshroot: $root still has mounts, not removing it"; exit 1
  fi
  rm -rf --one-file-system "$root"
}

if [ ! -x "$base/usr/bin/make" ]; then
  echo "freshroot: debootstrap bookworm into $base"
  rm -rf --one-file-system "$base"
  debootstrap --variant=minbase --include=ca-certificates,git,make bookworm "$base" "$mirror"
fi

if [ "${FRESHROOT_KEEP:-0}" = 1 ] && [ -d "$root/root/project" ]; then
  echo "freshroot: reusing $root (FRESHROOT_KEEP=1), updating the clone"
  git -C "$root/root/project" fetch -q "$here" HEAD
  git -C "$root/root/project" checkout -q -f FETCH_HEAD
else
  [ -d "$root" ] && remove_root
  echo "freshroot: copying the base into $root"
  cp -a "$base" "$root"
  git clone -q "$here" "$root/root/project"
  git -C "$root/root/project" checkout -q -f "$(git -C "$here" rev-parse HEAD)"
fi
chmod 0700 "$root/root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# What the Debian installer writes and debootstrap does not: without it "localhost" goes to DNS.
[ -e "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
  >"$root/etc/hosts"

# /proc, /sys with the cgroup hierarchies under it, /dev with pts and shm, the package cache.
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"
mkdir -p "$root/var/cache/apt/archives"
mount --bind "$cache" "$root/var/cache/apt/archives"

in_root() {
  timeout -k 10 "$bound" chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /root/project && $1"
}

stamp=$(date +%Y%m%d-%H%M%S)
log="$dir/run-$stamp.log"
echo "freshroot: log in $log"
rc=0
if [ -n "${FRESHROOT_TESTS:-}" ]; then
  in_root "make deps && make -j2 all && /usr/bin/python3 -m pytest -q -p no:cacheprovider $FRESHROOT_TESTS" \
    2>&1 | tee "$log" || rc=1
else
  in_root "make test" 2>&1 | tee "$log" || rc=1
fi
test_line=$(grep -E '^[a-z]*:? ?[0-9]+ passed' "$log" | tail -1 || true)

# make run: the orchestrator on :$port, one execution, then stop it.
echo "freshroot: make run"
in_root "SANDPIT_PORT=$port exec make run" >"$dir/run-$stamp.make-run.log" 2>&1 &
out=""
for _ in $(seq 1 120); do
  out=$(curl -s -m 20 "127.0.0.1:$port/execute" \
    -d '{"generated_code": "print(1+1)", "timeout": 5, "language": "python"}' || true)
  case "$out" in *'"stdout"'*) break ;; esac
  sleep 1
done
echo "freshroot: make run answered: $out"
pids=$(chroot_pids)
[ -n "$pids" ] && kill -TERM $pids 2>/dev/null
wait || true
case "$out" in *'"stdout":"2\n"'*) run_ok=1 ;; *) run_ok=0; rc=1 ;; esac
grep -E 'self-test|isolation layer|refus' "$dir/run-$stamp.make-run.log" | head -20 || true

echo "freshroot: make test closing line: ${test_line:-none}"
echo "freshroot: make run $([ "$run_ok" = 1 ] && echo answered 2 || echo FAILED)"
exit $rc
