#!/usr/bin/env bash
# A store on a read-only medium (a write-protected backup drive, a read-only
# bind mount) must be readable: snapshots, info, ls, extract, diff, restore
# and check all work there, while a command that would write says so in one
# line and changes nothing.  The read-only view is a bind mount in a private
# mount namespace (unshare -m), so nothing stays mounted if the test dies;
# without the right to make one the test is skipped (exit 77).
# usage: readonly_store.sh CAIRN CAIRN-GEN
if [ -z "${CAIRN_E2E_IN_NS:-}" ]; then
    if unshare -m --propagation private true 2>/dev/null; then
        CAIRN_E2E_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
    fi
    echo "SKIP: cannot make a private mount namespace (unshare -m)"
    exit 77
fi
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"

info "two device snapshots in a writable store"
"$GEN" device "$T/dev" --seed 7 --size-mb 8 >/dev/null || fail "cairn-gen device"
init_store
run 0 backup "$T/dev"
"$GEN" mutate "$T/dev" --seed 8 --day 1 >/dev/null || fail "cairn-gen mutate"
run 0 backup "$T/dev"
run 0 check
first=$(snap_id 0)
last=$(snap_id 1)

info "the same store, mounted read-only"
RO=$T/ro
mkdir -p "$RO"
mount --bind "$STORE" "$RO" || { echo "SKIP: cannot bind-mount"; exit 77; }
mount -o remount,bind,ro "$RO" || { echo "SKIP: cannot remount read-only"; exit 77; }
touch "$RO/probe" 2>/dev/null && fail "the bind mount is writable"
before=$(cd "$STORE" && find . -path ./index -prune -o -type f -printf '%p %s %T@\n' | sort | sha256sum)
export XDG_CACHE_HOME=$T/cache
STORE=$RO

run 0 snapshots
grep -q "2 snapshot(s)" "$T/out" || fail "snapshots on a read-only store: $(cat "$T/out")"
run 0 info latest
run 0 ls latest HomeDomain
[ -s "$T/out" ] || fail "ls on a read-only store printed nothing"
run 0 diff "$first" "$last"
run 0 restore "$first" --to "$T/r0"
run 0 check --read-data
grep -q "no errors were found" "$T/out" || fail "check --read-data on a read-only store"

info "restore from the read-only store is byte-identical to a restore from the writable one"
STORE=$T/store
run 0 restore "$first" --to "$T/r1"
diff -r "$T/r0" "$T/r1" >/dev/null || fail "restore from the read-only store differs"
STORE=$RO

info "a command that writes refuses with one line and changes nothing"
run 1 backup "$T/dev"
grep -q "read-only file system" "$T/err" || fail "backup on a read-only store: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "more than one line of error: $(cat "$T/err")"
run 1 prune
grep -q "read-only file system" "$T/err" || fail "prune on a read-only store: $(cat "$T/err")"
after=$(cd "$T/store" && find . -path ./index -prune -o -type f -printf '%p %s %T@\n' | sort | sha256sum)
[ "$before" = "$after" ] || fail "the store changed"
echo "PASS"
