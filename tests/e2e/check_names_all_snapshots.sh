#!/bin/bash
# check_names_all_snapshots.sh - when a lost pack holds data of a folder
# that two snapshots share, 'check' must name BOTH snapshots (check.h:
# "Damage is reported with the pack, and with the snapshots and files it
# affects"), not only the first one it walks.
#
# Layout: snapshot 1 = { sub/big.bin }, snapshot 2 = { sub/big.bin (same),
# new.txt }.  The largest pack holds only big.bin's chunks; it is deleted.
. "$(dirname "$0")/lib.sh" "$@"

MiB=$((1024 * 1024))
mkdir -p "$T/src/sub"
gen_random "$T/src/sub/big.bin" $((20 * MiB)) shared
init_store
run 0 backup "$T/src"
printf 'new\n' >"$T/src/new.txt"
run 0 backup "$T/src"
ID1=$(snap_id 0)
ID2=$(snap_id 1)
p=$(find "$STORE/packs" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
rm -f "$p"
run 9 check
grep -q "^snapshot ${ID1:0:8}: .*big.bin" "$T/out" || fail "snapshot ${ID1:0:8} (oldest) not named"
grep -q "^snapshot ${ID2:0:8}: " "$T/out" ||
    fail "snapshot ${ID2:0:8} also lost sub/big.bin but check does not name it"
info "ok"
