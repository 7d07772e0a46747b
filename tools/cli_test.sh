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
expect 1 "no engram store" -- "$cli" info "$dir/missing.db"
[ ! -e "$dir/missing.db" ] || fail "info created $dir/missing.db"
expect 1 "no engram store" -- "$cli" get "$dir/typo.db" hello
[ ! -e "$dir/typo.db" ] || fail "get created $dir/typo.db"
# Every number is checked: exit 2 naming the text.
expect 2 "'abc'" -- "$cli" quota "$db" support abc
expect 2 "'5O'" -- "$cli" quota "$db" support 5O
expect 2 "'-1'" -- "$cli" quota "$db" support -1
expect 2 "'O.9'" -- "$cli" get "$db" hello --threshold O.9
expect 2 "'10s'" -- "$cli" put "$db" q r --ttl-ms 10s
expect 2 "unknown scheme" -- "$cli" info "ftp://x"
expect 0 "quota of \"support\": 5" -- "$cli" quota "$db" support
# Moving data: export / import / migrate / verify, JSON output, Prometheus.
expect 0 "stored id" -- "$cli" put "$db" "What is engram?" "A semantic cache." --ns docs --ttl-ms 600000
expect 0 "exported 1 entries" -- "$cli" export "$db" "$dir/e.jsonl" --quiet
expect 0 "imported 1 entries" -- "$cli" import "$dir/e.jsonl" "sqlite:$dir/i.db" --quiet
expect 0 "identical" -- "$cli" verify "$db" "$dir/i.db"
expect 0 "migrated 1 entries" -- "$cli" migrate "$db" "$dir/m.db" --quiet
expect 0 "identical" -- "$cli" verify "$db" "$dir/m.db" --json
expect 0 "engram_entries{namespace=\"docs\"} 1" -- "$cli" stats "$db" --prometheus
expect 0 "\"entries\":1" -- "$cli" info "$db" --json
expect 0 "next page" -- "$cli" inspect "$db" --after-id 0 --limit 5
expect 0 "erased" -- "$cli" erase "$dir/m.db" "What is engram?" --ns docs
expect 3 "missing_in_destination: 1" -- "$cli" verify "$db" "$dir/m.db"
head -n1 "$dir/e.jsonl" > "$dir/bad.jsonl"; echo '{"ns":"x"}' >> "$dir/bad.jsonl"
expect 1 "line 2: missing field" -- "$cli" import "$dir/bad.jsonl" "$dir/b.db" --quiet
expect 0 "Usage" -- "$cli" migrate --help
echo "garbage" > "$dir/garbage.db"
expect 1 "engram:" -- "$cli" info "$dir/garbage.db"
expect 2 "subcommand" -- "$cli" frobnicate "$db"
echo "cli ok"
