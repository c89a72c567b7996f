#!/bin/bash
# diskfull.sh - a backup into a store on a full file system exits 11, says
# so, and leaves the store as it was: 'check --read-data' exits 0, the
# earlier snapshot restores exactly, no temporary pack is left, and once
# there is room again the next backup succeeds.  The same for a prune that
# must repack on a full file system.  The same for a device backup whose
# only new data is its catalog, which a thread of its own stores during the
# walk: its failure, not the walk's, ends the backup.
#
# The store lives on a 48 MiB tmpfs mounted in a private mount namespace
# (unshare -m), so nothing is left mounted if the test dies.  Needs root
# (or the right to unshare); otherwise the test is skipped (exit 77).
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
MiB=$((1024 * 1024))
SMALL=$T/small
mkdir -p "$SMALL"
mount -t tmpfs -o size=48m tmpfs "$SMALL" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
cleanup_hook() { umount -l "$SMALL" 2>/dev/null; }
STORE=$SMALL/store
SRC=$T/src
mkdir -p "$SRC"
gen_random "$SRC/first.bin" $((20 * MiB)) first
gen_text "$SRC/notes.txt" 100000
cp -a "$SRC" "$T/state1"
init_store
run 0 backup "$SRC"
ID1=$(snap_id 0)

info "backup of 40 MiB more into ~27 MiB of free space"
gen_random "$SRC/second.bin" $((40 * MiB)) second
run_rc --threads 2 backup "$SRC"
echo "   exit $RC: $(head -c 300 "$T/err")"
[ "$RC" = 11 ] || fail "backup onto a full disk exited $RC, expected 11"
grep -q -i -e 'space' -e 'full' "$T/err" || fail "the message does not say the disk is full"
[ -z "$(ls -A "$STORE/tmp" 2>/dev/null)" ] || echo "   note: left in tmp/: $(ls "$STORE/tmp")"

info "the store is as it was"
run 0 snapshots
grep -q "1 snapshot(s)" "$T/out" || fail "the failed backup changed the snapshot list"
run 0 check --read-data
run 0 restore "$ID1" --to "$T/r1"
compare_trees "$T/state1" "$T/r1"

info "room again: the next backup succeeds (and cleans tmp/)"
rm -f "$SRC/second.bin"
gen_random "$SRC/second.bin" $((5 * MiB)) small-second
run 0 backup "$SRC"
[ -z "$(ls -A "$STORE/tmp")" ] || fail "tmp/ not empty after a successful backup: $(ls "$STORE/tmp")"
run 0 check --read-data
run 0 restore latest --to "$T/r2"
compare_trees "$SRC" "$T/r2"

info "prune that must repack, on a full file system"
mount -o remount,size=96m "$SMALL" || fail "cannot grow the tmpfs"
# a.bin and b.bin share a pack; once b.bin is forgotten, prune must copy
# a.bin's chunks into a new pack before it can delete the old one
rm -f "$SRC/second.bin" "$SRC/first.bin"
gen_random "$SRC/a.bin" $((3 * MiB)) a
gen_random "$SRC/b.bin" $((3 * MiB)) b
run 0 backup "$SRC"
rm "$SRC/b.bin"
run 0 backup "$SRC"
cp -a "$SRC" "$T/state3"
ID3=$(snap_id 3)
run 0 forget --keep-last 1
run 0 prune --max-unused 0 --dry-run
grep -q -i "repack" "$T/out" || fail "prune plans no repack: $(cat "$T/out")"
dd if=/dev/zero of="$SMALL/filler" bs=1M 2>/dev/null
run_rc prune --max-unused 0
echo "   exit $RC: $(head -c 300 "$T/err")"
[ "$RC" = 11 ] || fail "prune on a full disk exited $RC, expected 11"
rm -f "$SMALL/filler"
run 0 check --read-data
run 0 restore "$ID3" --to "$T/r3"
compare_trees "$T/state3" "$T/r3"
run 0 prune --max-unused 0
run 0 check --read-data
rm -rf "$T/r3"
run 0 restore "$ID3" --to "$T/r3"
compare_trees "$T/state3" "$T/r3"

info "device backup on a full disk, its catalog the only new data"
# stored first as a plain folder, every file and folder of the device backup
# is in the store: the device backup's walk adds nothing, its catalog is new
STORE=$SMALL/store2
DEV=$T/dev
"$GEN" device "$DEV" --size-mb 2 >/dev/null || fail "cairn-gen device failed"
init_store
run 0 backup --as-folder "$DEV"
dd if=/dev/zero of="$SMALL/filler" bs=64k 2>/dev/null
run_rc backup "$DEV"
echo "   exit $RC: $(head -c 300 "$T/err")"
[ "$RC" = 11 ] || fail "device backup on a full disk exited $RC, expected 11"
grep -q -i -e 'space' -e 'full' "$T/err" || fail "the message does not say the disk is full"
run 0 snapshots
grep -q "1 snapshot(s)" "$T/out" || fail "the failed device backup changed the snapshot list"
rm -f "$SMALL/filler"
run 0 check --read-data
run 0 backup "$DEV"
grep -q "^device backup: " "$T/out" "$T/err" || fail "the second try was not a device backup"
[ "$(snap_count)" = 2 ] || fail "expected 2 snapshots after the second try, found $(snap_count)"
run 0 restore latest --to "$T/r4"
compare_trees "$DEV" "$T/r4"
info "ok"
