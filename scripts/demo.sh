#!/usr/bin/env bash
# The main job: install dependencies, fetch the embedding model, build engram, run the demo
# (SqliteStore + BertEmbedder with all-MiniLM-L6-v2 in front of a simulated slow LLM). When the
# model cannot be fetched the demo says so and runs on HashingEmbedder instead. Extra arguments
# go to the demo (--embedder minilm|hashing, --threshold X, --db PATH, --llm-ms N).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
if ! bash "$root/scripts/fetch-model.sh" all-MiniLM-L6-v2; then
  echo "engram: could not fetch all-MiniLM-L6-v2; the demo falls back to HashingEmbedder" >&2
fi
build="$root/build/release"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DENGRAM_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target engram_demo
"$build/examples/demo/engram_demo" "$@"
