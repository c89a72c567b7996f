#!/bin/bash
# corruption.sh - damage is found and named, and a restore saves what it
# can:
#   - one flipped byte in any pack (random offset, and the header/footer of
#     one pack): 'check --read-data' exits 9 and names the pack
#   - a truncated pack: 'check' (structure only) exits 9
#   - a deleted pack: 'check' exits 9 and names the affected snapshots
#   - a damaged chunk: restore exits 3, names the damaged file on stderr and
#     restores every other file exactly
#   - a damaged snapshot object: 'check' exits 9
#   - packs gone: 'prune' exits 9, deletes nothing and says which snapshot
#     it cannot read and why, in one ungarbled line
#   - a deleted or garbled index: commands still work, 'index rebuild'
#     counts the packs
. "$(dirname "$0")/lib.sh" "$@"

MiB=$((1024 * 1024))
SRC=$T/src

rand_below() { echo $(($(od -An -N4 -tu4 /dev/urandom) % $1)); }

packs() { find "$STORE/packs" -type f | sort; }

info "a store with two snapshots over several packs"
mkdir -p "$SRC/photos" "$SRC/db"
for i in 1 2 3 4 5; do gen_random "$SRC/photos/IMG_000$i.HEIC" $((4 * MiB + i * 1000)) img$i; done
gen_text "$SRC/db/notes.txt" $((2 * MiB))
for i in 1 2 3 4 5 6 7 8; do printf 'small %s\n' "$i" >"$SRC/db/small-$i"; done
init_store
run 0 backup "$SRC"
ID1=$(snap_id 0)
cp -a "$SRC" "$T/state1"
printf 'added later\n' >"$SRC/db/later.txt"
run 0 backup "$SRC"
ID2=$(snap_id 1)
echo "   snapshots: $ID1 $ID2"
NPACKS=$(packs | wc -l)
[ "$NPACKS" -ge 3 ] || fail "expected at least 3 packs, found $NPACKS"

info "clean store: check exits 0"
run 0 check --read-data
grep -q "no errors" "$T/out" || fail "clean check does not say 'no errors'"
grep -q "checked $NPACKS packs, 2 snapshots" "$T/out" || fail "check does not count $NPACKS packs"
run 0 check

info "one flipped byte per pack, random offset"
expect_damaged_pack() { # pack-path what
    run 9 check --read-data
    grep -q -F "$(basename "$1")" "$T/out" "$T/err" ||
        fail "check exit 9 but does not name pack $(basename "$1") ($2)"
}
for p in $(packs); do
    size=$(stat -c %s "$p")
    off=$(rand_below "$size")
    echo "   $(basename "$p") ($size bytes): flipping offset $off"
    cp "$p" "$T/pack.orig"
    flip_byte "$p" "$off"
    expect_damaged_pack "$p" "offset $off of $size"
    cp "$T/pack.orig" "$p"
done
run 0 check --read-data

info "flipped bytes in a pack's header and footer"
p=$(packs | head -1)
size=$(stat -c %s "$p")
cp "$p" "$T/pack.orig"
for off in 0 7 $((size - 16)) $((size - 1)); do
    echo "   $(basename "$p") ($size bytes): flipping offset $off"
    flip_byte "$p" "$off"
    expect_damaged_pack "$p" "offset $off of $size"
    cp "$T/pack.orig" "$p"
done
run 0 check --read-data

info "truncated pack: check without --read-data exits 9"
p=$(packs | head -1)
size=$(stat -c %s "$p")
cp "$p" "$T/pack.orig"
for newsize in $((size - 1)) $((size / 2)) 0; do
    truncate -s "$newsize" "$p"
    run 9 check
    grep -q -F "$(basename "$p")" "$T/out" "$T/err" ||
        fail "truncated pack $(basename "$p") ($size -> $newsize) is not named"
    cp "$T/pack.orig" "$p"
done
run 0 check

info "deleted pack: check exits 9 and names the snapshots"
# the largest pack holds file data that both snapshots share
p=$(for q in $(packs); do echo "$(stat -c %s "$q") $q"; done | sort -n | tail -1 | cut -d' ' -f2)
mv "$p" "$T/pack.orig"
run 9 check
# Both snapshots need the pack.  The oldest is walked first and must be
# named with the lost files; that every affected snapshot is named (also
# when the damage is in a folder it shares with an older one) is the
# separate test check_names_all_snapshots.sh.
grep -q "^snapshot ${ID1:0:8}: file /photos/IMG_000[0-9].HEIC: " "$T/out" ||
    fail "deleted pack: snapshot ${ID1:0:8} and its lost files are not named"
grep -q "2 snapshot(s)" "$T/err" || fail "deleted pack: summary does not count 2 snapshots"
run 9 check --read-data
mv "$T/pack.orig" "$p"
run 0 check --read-data

info "packs gone: prune exits 9 with the exact reason and deletes nothing"
mkdir "$T/packs.orig"
for q in $(packs); do mv "$q" "$T/packs.orig"/; done
ls "$STORE/snapshots" | sort >"$T/snaps.before"
run 9 prune --max-unused 0
# the oldest snapshot is read first; the inner message is kept whole (it
# used to come out garbled: "snapshot X cannot be read (snapshot X cannot
# be read (from the store)")
grep -q -x -E "cairn: snapshot ${ID1:0:8} cannot be read \(chunk [0-9a-f]{16} is missing from the store\): nothing was deleted" "$T/err" ||
    fail "prune over missing packs: not the expected message"
[ "$(wc -l <"$T/err")" = 1 ] || fail "prune over missing packs: more than one line on stderr"
ls "$STORE/snapshots" | sort | cmp -s - "$T/snaps.before" || fail "a failed prune changed the snapshots"
for q in "$T/packs.orig"/*; do
    n=$(basename "$q")
    mv "$q" "$STORE/packs/${n:0:2}/$n"
done
rmdir "$T/packs.orig"
run 0 check --read-data

info "damaged chunk: restore exits 3, names the file, restores the rest"
# flip a byte in the middle of the largest pack; check tells which files
# it hit (a tree chunk is possible but unlikely: then try another offset)
size=$(stat -c %s "$p")
cp "$p" "$T/pack.orig"
damaged=""
for _ in 1 2 3 4 5; do
    off=$((size / 4 + $(rand_below $((size / 2)))))
    flip_byte "$p" "$off"
    run 9 check --read-data
    damaged=$(sed -n "s|^snapshot ${ID1:0:8}: file /\(.*\): damaged chunk\$|\1|p" "$T/out" | sort -u)
    if [ -n "$damaged" ] && ! grep -q "folder .*damaged chunk" "$T/out"; then break; fi
    damaged=""
    cp "$T/pack.orig" "$p"
done
[ -n "$damaged" ] || fail "check --read-data never named a damaged file of snapshot ${ID1:0:8}"
echo "   offset $off damages: $damaged"
run 3 restore "$ID1" --to "$T/r-damaged"
while IFS= read -r f; do
    grep -q -F "$f" "$T/err" || fail "restore exit 3 but stderr does not name $f"
    if [ -f "$T/r-damaged/$f" ] && cmp -s "$T/r-damaged/$f" "$T/state1/$f"; then
        fail "$f restored intact although its chunk is damaged"
    fi
done <<<"$damaged"
# everything else must be exact: compare listings without the damaged files
# and contents file by file
tree_listing "$T/state1" >"$T/l1"
tree_listing "$T/r-damaged" >"$T/l2"
for l in "$T/l1" "$T/l2"; do
    while IFS= read -r f; do
        awk -v f=" $f" 'substr($0, length($0) - length(f) + 1) != f' "$l" >"$l.tmp" && mv "$l.tmp" "$l"
    done <<<"$damaged"
done
diff -u "$T/l1" "$T/l2" || fail "restore with a damaged chunk: the other items differ"
while IFS= read -r -d '' f; do
    grep -q -x -F "${f#./}" <<<"$damaged" && continue
    cmp -s "$T/state1/$f" "$T/r-damaged/$f" || fail "restore with a damaged chunk: $f differs"
done < <(cd "$T/state1" && find . -type f -print0)
cp "$T/pack.orig" "$p"
run 0 check --read-data

info "damaged snapshot object: check exits 9"
snapfile=$STORE/snapshots/$ID2
[ -f "$snapfile" ] || fail "no snapshot object at $snapfile"
cp "$snapfile" "$T/snap.orig"
flip_byte "$snapfile" $(($(stat -c %s "$snapfile") / 2))
run 9 check
run_rc restore "$ID2" --to "$T/r-badsnap"
[ "$RC" != 0 ] || fail "restore of a damaged snapshot object exited 0"
run 0 restore "$ID1" --to "$T/r-goodsnap" # the other snapshot still restores
compare_trees "$T/state1" "$T/r-goodsnap"
cp "$T/snap.orig" "$snapfile"
run 0 check

info "deleted index: commands still work, index rebuild counts packs"
rm -rf "$STORE/index"
run 0 snapshots
grep -q "2 snapshot(s)" "$T/out" || fail "snapshots without an index does not list 2 snapshots"
run 0 restore latest --to "$T/r-noindex"
compare_trees "$SRC" "$T/r-noindex"
run 0 check --read-data
rm -rf "$STORE/index"
run 0 index rebuild
grep -q "index rebuilt from $NPACKS packs" "$T/out" ||
    fail "index rebuild does not report $NPACKS packs: $(cat "$T/out")"
# an index that lost its contents must not make a backup store everything
# again
rm -rf "$STORE/index"
run 0 backup --force "$SRC"
[ "$(snap_json "s[-1]['new_bytes']")" -lt $((64 * 1024)) ] ||
    fail "backup after losing the index stored $(snap_json "s[-1]['new_bytes']") bytes again"

info "garbled index: commands still work"
for f in "$STORE"/index/*; do
    [ -f "$f" ] && gen_random "$f" "$(stat -c %s "$f")" garble
done
run 0 restore "$ID1" --to "$T/r-garbled"
compare_trees "$T/state1" "$T/r-garbled"
run 0 check --read-data
info "ok"
