#!/usr/bin/env bash
# CI stage: engram as an installed package. Builds the libraries, installs them with
# `cmake --install` into a scratch prefix, then builds and runs tests/packaging/consumer (a
# project outside the tree) twice: through find_package(engram) and through pkg-config's
# engram.pc. Either failing to configure, build, link or run fails the stage.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/engram-packaging.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
prefix="$scratch/prefix"

cmake -S "$root" -B "$scratch/build" -DCMAKE_BUILD_TYPE=Release -DENGRAM_BUILD_TESTS=OFF \
  -DENGRAM_BUILD_EXAMPLES=OFF -DENGRAM_BUILD_TOOLS=OFF >/dev/null
cmake --build "$scratch/build" -j"$(nproc)"
cmake --install "$scratch/build" --prefix "$prefix" >/dev/null

for via in cmake pkgconfig; do
  echo "packaging: consumer through $via"
  build="$scratch/consumer-$via"
  PKG_CONFIG_PATH="$(dirname "$(find "$prefix" -name engram.pc)")" \
    cmake -S "$root/tests/packaging/consumer" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DENGRAM_CONSUMER_VIA="$via" >/dev/null
  cmake --build "$build" -j"$(nproc)"
  mkdir -p "$build/run"
  "$build/consumer" "$build/run"
done
# And without CMake, as a Makefile user would: the compiler line pkg-config gives.
echo "packaging: consumer through a plain g++ command line"
pc_dir="$(dirname "$(find "$prefix" -name engram.pc)")"
# shellcheck disable=SC2046  # the flags must split into words
g++ -std=c++20 -o "$scratch/consumer-plain" "$root/tests/packaging/consumer/main.cpp" \
  $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs engram)
mkdir -p "$scratch/plain-run"
"$scratch/consumer-plain" "$scratch/plain-run"
echo "packaging: find_package, pkg-config and plain-compiler consumers built and ran"
