#!/usr/bin/env bash
# The main job: install dependencies, build engram, run the demo (SqliteStore + HashingEmbedder
# in front of a simulated slow LLM). Extra arguments go to the demo (see --help).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
build="$root/build/release"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DENGRAM_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target engram_demo
"$build/examples/demo/engram_demo" "$@"
