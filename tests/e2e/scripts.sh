#!/bin/bash
# scripts.sh - what a script reads from cairn (issue 16, item 6): the
# documented exit codes for a missing --password-file (2), a store path that
# is a file (5) and a missing store with no terminal (5, said before any
# password is asked for); 'backup --json' and 'check --json' print one JSON
# object a script can parse.
. "$(dirname "$0")/lib.sh" "$@"

SRC=$T/src
mkdir -p "$SRC/d"
gen_random "$SRC/a.bin" 300000 a
printf 'hello\n' >"$SRC/d/hello.txt"
init_store

info "exit 2: --password-file names a file that does not exist"
(unset CAIRN_PASSWORD && "$CAIRN" --store "$STORE" --password-file "$T/nosuch.pw" snapshots) \
    >"$T/out" 2>"$T/err" </dev/null
rc=$?
[ "$rc" = 2 ] || fail "missing --password-file exited $rc, expected 2"
grep -q -x "cairn: $T/nosuch.pw: cannot read the password file: No such file or directory" \
    "$T/err" || fail "missing --password-file: message: $(cat "$T/err")"

info "exit 5: the store path is a file"
printf 'x' >"$T/afile"
(unset CAIRN_PASSWORD && "$CAIRN" --store "$T/afile" snapshots) >"$T/out" 2>"$T/err" </dev/null
rc=$?
[ "$rc" = 5 ] || fail "a store path that is a file exited $rc, expected 5"
grep -q -x "cairn: $T/afile: not a cairn store (not a folder)" "$T/err" ||
    fail "store path is a file: message: $(cat "$T/err")"

info "exit 5: a missing store with no password and no terminal says the store is missing"
(unset CAIRN_PASSWORD && setsid "$CAIRN" --store "$T/nostore" snapshots) \
    >"$T/out" 2>"$T/err" </dev/null
rc=$?
[ "$rc" = 5 ] || fail "missing store without a password exited $rc, expected 5"
grep -q -x "cairn: $T/nostore: no store here (run 'cairn init' first)" "$T/err" ||
    fail "missing store: message: $(cat "$T/err")"

info "backup --json: progress lines, then the new snapshot as one summary object"
run 0 backup "$SRC" --json
$PY - "$T/out" <<'PY' || fail "backup --json is not progress lines and a summary"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert all(l["type"] == "progress" for l in lines[:-1]) and lines[-1]["type"] == "summary"
s = lines[-1]
assert s["files"] == 2 and s["dirs"] == 1 and s["bytes"] == 300006 and s["parent"] is None, s
PY
SUMMARY_ID=$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["id"])' "$T/out")
[ "$SUMMARY_ID" = "$(snap_id 0)" ] || fail "backup --json ID $SUMMARY_ID is not the snapshot's"

info "check --json: a sound store, then a damaged pack named in the problems (exit 9)"
run 0 check --json --read-data
$PY - "$T/out" <<'PY' || fail "check --json of a sound store is wrong"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])][-1]
assert s["type"] == "summary" and s["ok"] is True and s["error"] is None, s
assert s["packs"] >= 1 and s["snapshots"] == 1 and s["problems"] == [] and s["chunks_read"] >= 2, s
PY
PACK=$(find "$STORE/packs" -type f | head -1)
printf 'XXXX' | dd of="$PACK" bs=1 seek=100 conv=notrunc 2>/dev/null
run 9 check --json --read-data
$PY - "$T/out" "$PACK" <<'PY' || fail "check --json of a damaged store is wrong: $(cat "$T/out")"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])][-1]
assert s["type"] == "summary" and s["ok"] is False and "damaged" in s["error"], s
assert s["packs_damaged"] == 1 and s["chunks_damaged"] >= 1, s
assert any(p.startswith("damaged: pack " + sys.argv[2] + ": chunk ") for p in s["problems"]), s
PY
grep -q '^cairn: the store is damaged' "$T/err" || fail "check --json: no error line on stderr"
echo PASS
