#!/usr/bin/env bash
# `make fuzz`: builds every tests/fuzz/fuzz_<t>.c with clang-14 libFuzzer + ASan + UBSan and runs
# it for FUZZ_SECONDS (default 60) seeded from tests/fuzz/corpus/<t>/ (+ <t>.dict when present).
# New interesting inputs go to build/fuzz/corpus/<t>/; crashes to build/fuzz/crash-<t>-*: turn
# each into a seed and a unit test.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-${FUZZ_SECONDS:-60}}
CC=clang-14
command -v $CC >/dev/null || CC=clang
mkdir -p build/fuzz
status=0
for src in tests/fuzz/fuzz_*.c; do
  t=$(basename "$src" .c); t=${t#fuzz_}
  bin=build/fuzz/fuzz_$t
  $CC -std=gnu11 -g -O1 -D_GNU_SOURCE -Icommon -Iagent -Isandbox -Inetshape -Iorchestrator \
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
      "$src" common/*.c -o "$bin" -ljansson -lmicrohttpd -lwslay -lnettle -lpthread -lm
  mkdir -p "build/fuzz/corpus/$t"
  dict=(); [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  echo "== fuzz $t for ${secs}s"
  if ! "$bin" -max_total_time="$secs" -print_final_stats=1 "${dict[@]}" \
       -artifact_prefix="build/fuzz/crash-$t-" "build/fuzz/corpus/$t" "tests/fuzz/corpus/$t" \
       2>build/fuzz/$t.log; then
    tail -40 build/fuzz/$t.log; status=1
  else
    grep -E 'stat::number_of_executed_units|Done' build/fuzz/$t.log | sed "s/^/  /"
  fi
done
exit $status
