#!/usr/bin/env bash
# Install dependencies, fetch the embedding model (scripts/fetch-model.sh), build everything and
# run every test (the Redis tests start their own redis-server on a free loopback port, the HTTP
# tests their own embedding server).
#   scripts/test.sh                 RelWithDebInfo build in build/test
#   ENGRAM_SANITIZE=address,undefined scripts/test.sh    sanitizer build in build/asan
#   ENGRAM_SANITIZE=thread ENGRAM_TEST_FILTER=Concurrency \
#     ENGRAM_BUILD_TARGETS="cache_test concurrency_checker_test engram_index_concurrency_tests" scripts/test.sh  (TSan subset)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/fetch-model.sh" all-MiniLM-L6-v2  # the BERT parity tests run the real model

sanitize="${ENGRAM_SANITIZE:-}"
case "$sanitize" in
  "") build="$root/build/test" ;;
  thread) build="$root/build/tsan" ;;
  *) build="$root/build/asan" ;;
esac
# The plain build also compiles the benchmarks (not run here: bench/run does), so a change
# that breaks one fails this command instead of the next person's measurement.
bench=OFF
[ -z "$sanitize" ] && bench=ON
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENGRAM_SANITIZE="$sanitize" \
  -DENGRAM_BUILD_TESTS=ON -DENGRAM_BUILD_EXAMPLES=ON -DENGRAM_BUILD_BENCH="$bench" >/dev/null
targets=()
for t in ${ENGRAM_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j"$(nproc)" "${targets[@]}"

filter=()
[ -n "${ENGRAM_TEST_FILTER:-}" ] && filter=(-R "$ENGRAM_TEST_FILTER")
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
cd "$build"
ctest --output-on-failure --timeout 900 -j"$(nproc)" "${filter[@]}"
