#!/bin/bash
# incremental.sh - a second backup reads only the changed files and stores
# only the chunks around the edits; a third backup of an unchanged folder
# reads nothing and adds nothing; every snapshot restores to the folder as
# it was when it was taken.
. "$(dirname "$0")/lib.sh" "$@"

MiB=$((1024 * 1024))
SRC=$T/src
mkdir -p "$SRC/sub"

info "state 1: 40 MiB random file, ~30 MiB SQLite database, small files"
gen_random "$SRC/big.bin" $((40 * MiB)) big
# A real SQLite file with deterministic contents: 7500 rows of 4000-byte
# incompressible blobs (the same bytes on every run, so the chunk
# boundaries, and the amount of new data, are reproducible).
gen_random "$T/blobs" $((7500 * 4000)) blobs
"$PY" - "$T/blobs" "$SRC/sub/Manifest.db" <<'EOF' || fail "could not build the SQLite file"
import sqlite3, sys
blobs = open(sys.argv[1], 'rb')
db = sqlite3.connect(sys.argv[2])
db.execute('CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, file BLOB)')
for i in range(7500):
    db.execute('INSERT INTO Files VALUES (?, ?, ?)',
               ('%040x' % (i * 2654435761), 'HomeDomain', blobs.read(4000)))
db.commit()
db.close()
EOF
rm -f "$T/blobs"
for i in 1 2 3 4 5; do gen_text "$SRC/sub/small-$i.txt" $((i * 1000)); done
DB_SIZE=$(stat -c %s "$SRC/sub/Manifest.db")
[ "$DB_SIZE" -gt $((29 * MiB)) ] || fail "SQLite file is only $DB_SIZE bytes"
NFILES=$(find "$SRC" -type f | wc -l)
cp -a "$SRC" "$T/state1"

init_store
run 0 --threads 2 backup "$SRC"
[ "$(files_read)" = "$NFILES" ] || fail "first backup read $(files_read) files, not $NFILES"
NEW1=$(snap_json "s[0]['new_bytes']")
[ "$NEW1" -gt $((60 * MiB)) ] || fail "first backup stored only $NEW1 bytes"

info "state 2: 4 KiB overwritten in place, 1000 bytes inserted"
sleep 0.01 # mtimes must move even on coarse clocks
gen_random "$T/patch" 4096 patch
dd if="$T/patch" of="$SRC/big.bin" bs=4096 seek=$((20 * MiB / 4096)) conv=notrunc status=none ||
    fail "dd"
cmp -s "$SRC/big.bin" "$T/state1/big.bin" && fail "dd did not change big.bin"
[ "$(stat -c %s "$SRC/big.bin")" = $((40 * MiB)) ] || fail "dd changed the size"
gen_random "$T/insert" 1000 insert
DB=$SRC/sub/Manifest.db
{ head -c $((13 * MiB + 777)) "$DB"; cat "$T/insert"; tail -c +$((13 * MiB + 778)) "$DB"; } >"$T/db.new"
cat "$T/db.new" >"$DB" # in place: same inode, new size
rm -f "$T/db.new"
[ "$(stat -c %s "$DB")" = $((DB_SIZE + 1000)) ] || fail "insert did not add 1000 bytes"
cp -a "$SRC" "$T/state2"

run 0 --threads 2 backup "$SRC"
[ "$(files_read)" = 2 ] || fail "second backup read $(files_read) files, expected the 2 changed"
grep -q "($((2)) read, $((NFILES - 2)) unchanged)" "$T/out" ||
    fail "second backup summary does not say 2 read, $((NFILES - 2)) unchanged"
NEW2=$(snap_json "s[1]['new_bytes']")
CH2=$(snap_json "s[1]['new_chunks']")
info "second backup added $NEW2 bytes in $CH2 chunks"
[ "$NEW2" -gt 0 ] || fail "second backup added no data although two files changed"
[ "$NEW2" -lt $((10 * MiB)) ] || fail "second backup added $NEW2 bytes (>= 10 MiB) for two small edits"
[ "$(snap_json "s[1]['parent'] == s[0]['id']")" = True ] || fail "snapshot 2's parent is not snapshot 1"

info "state 3: nothing changed"
run 0 --threads 2 backup "$SRC"
[ "$(files_read)" = 0 ] || fail "third backup read $(files_read) files of an unchanged folder"
[ "$(snap_json "s[2]['new_bytes']")" = 0 ] ||
    fail "third backup of an unchanged folder added $(snap_json "s[2]['new_bytes']") bytes"
[ "$(snap_json "s[2]['new_chunks']")" = 0 ] || fail "third backup added chunks"
[ "$(snap_json "s[2]['files']")" = "$NFILES" ] || fail "third snapshot does not list all files"

info "each snapshot restores to its own state"
for i in 0 1 2; do
    id=$(snap_id $i)
    state=$T/state$((i < 2 ? i + 1 : 2))
    run 0 --threads 2 restore "$id" --to "$T/r$i"
    compare_trees "$state" "$T/r$i"
    rm -rf "$T/r$i"
done
info "ok"
