#!/usr/bin/env bash
# CI stage: style and static analysis.
#   1. clang-format (.clang-format): every tracked C++ file must already be formatted; the
#      difference is printed and fails the stage.
#   2. clang-tidy (.clang-tidy): every translation unit of the build — which covers every file
#      a submission changes, and every header through the units that include it — must have no
#      finding. (All units, not just changed ones: on 2 cores the whole tree takes minutes, and
#      a header change can break a unit whose own file did not change.)
#      ENGRAM_TIDY_FILES="a.cpp b.cpp" narrows it while working on those files.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v clang-format-14 >/dev/null 2>&1 && ! command -v clang-format >/dev/null 2>&1 ||
   ! command -v clang-tidy >/dev/null 2>&1; then
  bash scripts/install-deps.sh
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang-format clang-tidy
fi

echo "lint: clang-format"
unformatted=0
while IFS= read -r file; do
  if ! clang-format --dry-run -Werror "$file" >/dev/null 2>&1; then
    unformatted=1
    echo "lint: $file is not formatted:"
    clang-format "$file" | diff -u "$file" - || true
  fi
done < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc')
[ "$unformatted" -eq 0 ] || { echo "lint: run clang-format -i on the files above" >&2; exit 1; }

echo "lint: clang-tidy"
build="$root/build/lint"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DENGRAM_BUILD_TESTS=ON -DENGRAM_BUILD_EXAMPLES=ON \
  -DENGRAM_BUILD_TOOLS=ON >/dev/null
files="${ENGRAM_TIDY_FILES:-$(grep -o '"file": "[^"]*"' "$build/compile_commands.json" | cut -d'"' -f4 | sort -u)}"
log="$build/clang-tidy.log"
# Each unit on its own (two at a time); --quiet prints only findings.
if ! printf '%s\n' $files | xargs -P"$(nproc)" -n1 clang-tidy -p "$build" --quiet >"$log" 2>&1; then
  grep -E "(warning|error):" "$log" | sort -u || cat "$log"
  echo "lint: clang-tidy found problems (full output: $log)" >&2
  exit 1
fi
echo "lint: clean"
