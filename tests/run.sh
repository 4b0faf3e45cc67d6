#!/usr/bin/env bash
# Runs every suite `make test` covers and prints one closing line "N passed, N failed".
# Each suite's own summary is printed as it runs; a suite that cannot start counts as failed.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
PY=/usr/bin/python3

add() { passed=$((passed + $1)); failed=$((failed + $2)); }

# cmocka binaries: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:"
run_cmocka() {
  local bin=$1 out p f
  out=$("$bin" 2>&1); local rc=$?
  echo "$out" | grep -E '^\[ *(PASSED|FAILED) *\]|^\[ *FAILED *\] *[a-z]' | sed "s|^|  $(basename "$bin"): |"
  p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "$out" | tail -20
    f=1
  fi
  add "$p" "$f"
}

# pytest: the last line holds "N passed", "N failed", "N error".
run_pytest() {
  local name=$1; shift
  local out last p f e
  echo "== $name"
  out=$($PY -m pytest -q -p no:cacheprovider "$@" 2>&1); local rc=$?
  last=$(echo "$out" | grep -E '[0-9]+ (passed|failed|error)' | tail -1)
  if [ "$rc" -ne 0 ]; then echo "$out" | tail -60; else echo "  $last"; fi
  # The runtimes' table with versions, printed by tests/e2e/test_runtimes.py (issue 5).
  echo "$out" | sed -n '/^== sandpit-agent runtimes/,/^== end of runtimes/p' | sed 's/^/  /'

  p=$(echo "$last" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); p=${p:-0}
  f=$(echo "$last" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+'); f=${f:-0}
  e=$(echo "$last" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+'); e=${e:-0}
  f=$((f + e))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  add "$p" "$f"
}

# The C sources as clang-format 14 writes them (STYLE §11): one check, named files on failure.
echo "== clang-format"
if out=$(clang-format --dry-run --Werror $(git ls-files '*.[ch]') 2>&1); then
  echo "  every tracked C file is formatted"; add 1 0
else
  echo "$out" | grep -oE '^[^:]+\.[ch]' | sort -u | sed 's/^/  not formatted: /'
  echo "  (run: make format)"; add 0 1
fi
echo "== C unit tests"
for t in build/tests/test_*; do [ -x "$t" ] && [ "${t%.d}" = "$t" ] && run_cmocka "$t"; done
echo "== C unit tests under ASan+UBSan"
for t in build/san/tests/test_*; do
  [ -x "$t" ] && [ "${t%.d}" = "$t" ] && ASAN_OPTIONS=detect_leaks=1 run_cmocka "$t"
done
echo "== fuzz corpus replay"
for r in build/tests/replay_fuzz_*; do
  [ -x "$r" ] && [ "${r%.d}" = "$r" ] || continue
  name=${r##*/replay_fuzz_}
  if out=$("$r" tests/fuzz/corpus/"$name" 2>&1); then
    echo "  $name: $out"; add 1 0
  else
    echo "$out" | tail -20; add 0 1
  fi
done
[ -d tests/harness ] && run_pytest "harness (Python, in-process)" tests/harness
[ -d tests/e2e ] && run_pytest "end-to-end (real binaries on loopback)" tests/e2e
# The same agent tests against the ASan+UBSan build: LeakSanitizer judges the agent when each
# test stops it, and the fixture fails on any exit code but 0 (STYLE §9).
if [ -d tests/e2e ] && [ -x build/san/sandpit-agent ]; then
  SANDPIT_BUILD_DIR="$PWD/build/san" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    # The newest C code first (live output, files, kernels, keys, metrics, drain); the older
    # paths (outbox, routing, scenarios, Nadoo, session files) ran under it in earlier waves and
    # keep their place in the plain e2e run.
    run_pytest "end-to-end under ASan+UBSan (agent, orchestrator, sessions, kernels, streams, files, keys)" \
    tests/e2e/test_agent_basic.py tests/e2e/test_agent_api.py tests/e2e/test_orch_api.py \
    tests/e2e/test_sessions.py tests/e2e/test_kernels.py tests/e2e/test_kernels_ws.py \
    tests/e2e/test_orch_kernels.py tests/e2e/test_sse.py tests/e2e/test_orch_sse.py \
    tests/e2e/test_files_io.py tests/e2e/test_orch_keys.py tests/e2e/test_metrics.py \
    tests/e2e/test_drain.py
  # The exec runtimes, the scenarios and the proxy inside the agent, under the sanitizers too
  # (functional checks only: timing is not asserted against a sanitized build).
  SANDPIT_BUILD_DIR="$PWD/build/san" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    run_pytest "scenarios and proxy under ASan+UBSan (agent)" tests/e2e/test_scenarios.py \
    -k "invalid or echo or cap_warns or crash_after_the_code or pids or disk or no_network or proxy_environment or through_proxy or denies or upstream_failure or limit_data"
fi
[ -d tests/security ] && run_pytest "security corpus (hostile programs through the agent)" tests/security
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
