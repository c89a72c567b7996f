#!/bin/bash
# copy_diskfull.sh - a copy onto a folder target whose file system fills up
# exits 11 with a message naming the target and saying it is full, and
# leaves the target consistent: every object on it is whole (byte-equal to
# the store's), no temporary file is left, the new snapshot is not visible,
# and the target checks clean with --read-data.  Once there is room again
# the next copy completes, and the target restores byte-identical.
#
# The target lives on a 24 MiB tmpfs mounted in a private mount namespace
# (unshare -m), so nothing stays mounted if the test dies.  Needs root (or
# the right to unshare and mount); otherwise the test is skipped (exit 77).
#   copy_diskfull.sh CAIRN
if [ -z "${CAIRN_E2E_IN_NS:-}" ]; then
    if unshare -m --propagation private true 2>/dev/null; then
        CAIRN_E2E_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
    fi
    echo "SKIP: cannot make a private mount namespace (unshare -m)"
    exit 77
fi
. "$(dirname "$0")/lib.sh" "$@"
export XDG_CACHE_HOME=$T/cache
MiB=$((1024 * 1024))

SMALL=$T/small
mkdir -p "$SMALL"
mount -t tmpfs -o size=24m,mode=0700 tmpfs "$SMALL" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
cleanup_hook() { umount -l "$SMALL" 2>/dev/null; }
objects() { (cd "$1" 2>/dev/null && find config keys packs snapshots chains -type f -printf '%p %s\n' 2>/dev/null | sort); }

SRC=$T/src
mkdir -p "$SRC"
gen_random "$SRC/first.bin" $((8 * MiB)) first
gen_text "$SRC/notes.txt" 100000
init_store
run 0 backup "$SRC"
run 0 target add small "$SMALL/t"
run 0 copy --target small
sums1=$(cd "$SRC" && sha256sum first.bin notes.txt)

info "a new backup of 30 MiB more does not fit on the 24 MiB target"
gen_random "$SRC/second.bin" $((30 * MiB)) second
run 0 backup "$SRC"
run_rc copy --target small
echo "   exit $RC: $(head -c 300 "$T/err")"
[ "$RC" = 11 ] || fail "copy onto a full target exited $RC, expected 11"
grep -q "target small" "$T/err" || fail "the message does not name the target"
grep -q -i "full" "$T/err" || fail "the message does not say the target is full"
[ "$(wc -l <"$T/err")" = 1 ] || fail "the error is not one line"

info "the target is consistent: whole objects only, the new snapshot not visible"
[ -z "$(ls -A "$SMALL/t/tmp")" ] || fail "a temporary file is left on the target: $(ls "$SMALL/t/tmp")"
while read -r f _; do
    cmp -s "$STORE/$f" "$SMALL/t/$f" || fail "$f on the target is not the store's"
done < <(objects "$SMALL/t")
[ "$(ls "$SMALL/t/snapshots" | wc -l)" = 1 ] || fail "the new snapshot is visible on the full target"
run 0 status
grep -q "behind: 1 missing" "$T/out" || fail "status does not show the target behind"
grep -q "last copy failed .*full" "$T/out" || fail "status does not show the failed copy"

info "room again: the target checks clean, the copy completes"
mount -o remount,size=96m "$SMALL" || fail "cannot grow the tmpfs"
run 0 check --target small --read-data
grep -q "1 snapshots" "$T/out" || fail "the target does not hold its earlier snapshot"
run 0 restore --from-target small "$(snap_id 0)" --to "$T/r1"
[ "$(cd "$T/r1" && sha256sum first.bin notes.txt)" = "$sums1" ] ||
    fail "the earlier snapshot restores differently from the target"
run 0 copy --target small
[ "$(objects "$STORE")" = "$(objects "$SMALL/t")" ] || fail "the target does not hold the store"
run 0 check --target small --read-data
run 0 restore --from-target small latest --to "$T/r2"
compare_trees "$SRC" "$T/r2"
run 0 status
grep -q "current" "$T/out" || fail "status: the target is not current after the copy"
info "ok"
