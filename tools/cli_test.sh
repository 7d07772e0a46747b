#!/usr/bin/env bash
# CTest smoke test of the engram command-line tool: every command on a fresh file, with the
# exit codes scripts rely on (0 ok, 1 error, 2 usage, 3 miss).
set -u
cli="$1"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
db="$dir/t.db"
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {  # expect CODE PATTERN -- command...
  local code="$1" pattern="$2"; shift 3
  local out rc
  out="$("$@" 2>&1)"; rc=$?
  [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code: $out"
  [[ "$out" == *"$pattern"* ]] || fail "'$*' printed '$out', expected '$pattern'"
}
expect 0 "stored id 1" -- "$cli" put "$db" "How do I reset my password?" "Use the link." --ns support --metadata '{"m":1}'
expect 0 "exact hit" -- "$cli" get "$db" "how do i reset my password?" --ns support
expect 0 "semantic hit" -- "$cli" get "$db" "How can I reset my password" --ns support --threshold 0.7
expect 3 "miss" -- "$cli" get "$db" "How can I reset my password" --ns other --threshold 0.7
expect 0 "quota of \"support\": 5" -- "$cli" quota "$db" support 5
expect 0 "entries: 1" -- "$cli" info "$db"
expect 0 "compact done" -- "$cli" maintain "$db" compact
expect 0 "snapshot written" -- "$cli" snapshot "$db" "$dir/snap.db"
expect 0 "entries: 1" -- "$cli" info "$dir/snap.db"
expect 0 "erased" -- "$cli" erase "$db" "How do I reset my password?" --ns support
expect 0 "entries: 0" -- "$cli" info "$db"
expect 1 "not a JSON object" -- "$cli" put "$db" "q" "r" --metadata "[1]"
expect 1 "not an initialized engram database" -- "$cli" info "$dir/missing.db"
echo "garbage" > "$dir/garbage.db"
expect 1 "engram:" -- "$cli" info "$dir/garbage.db"
expect 2 "usage" -- "$cli" frobnicate "$db"
echo "cli ok"
