#!/bin/bash
# chunk_reuse.sh - chunk-level change detection through the CLI: a SQLite
# database (fixed page-aligned chunks) with one page edited in place is
# backed up as exactly one new chunk, every other chunk kept by its
# fingerprint (backup --json: reused_chunks); --force hashes everything
# again; a real SQLite update and a grown file restore byte-identical; every
# snapshot restores to its own state and check --read-data passes.
. "$(dirname "$0")/lib.sh" "$@"

SRC=$T/src
DB=$SRC/app.sqlite
mkdir -p "$SRC"
# summary FIELD: a field of the last backup --json summary
summary() { "$PY" -c 'import json, sys
print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$T/out" "$1"; }

info "a 1.5 MiB SQLite database in 16 KiB page-aligned chunks"
gen_random "$T/blobs" $((1500 * 1000)) blobs
"$PY" - "$T/blobs" "$DB" <<'EOF' || fail "could not build the SQLite file"
import sqlite3, sys
blobs = open(sys.argv[1], 'rb')
db = sqlite3.connect(sys.argv[2])
db.execute('PRAGMA page_size = 4096')
db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)')
for i in range(1500):
    db.execute('INSERT INTO t VALUES (?, ?)', (i, blobs.read(1000)))
db.commit()
db.close()
EOF
SIZE=$(stat -c %s "$DB")
[ $((SIZE % 16384)) = 0 ] || truncate -s $(((SIZE / 16384 + 1) * 16384)) "$DB" # whole chunks
SIZE=$(stat -c %s "$DB")
NCH=$((SIZE / 16384))
cp -a "$SRC" "$T/state1"

run 0 --kdf "$STORE_KDF" init --sqlite-fixed
run 0 backup "$SRC" --json
[ "$(summary new_chunks)" = $((NCH + 1)) ] || fail "first backup: $(summary new_chunks) chunks, not $NCH and a tree"
[ "$(summary reused_chunks)" = 0 ] || fail "first backup reused $(summary reused_chunks) chunks"

info "one page edited in the middle: one new chunk, $((NCH - 1)) kept by fingerprint"
sleep 0.01
gen_random "$T/patch" 200 patch
dd if="$T/patch" of="$DB" bs=1 seek=$((SIZE / 2 + 3000)) conv=notrunc status=none || fail "dd"
cp -a "$SRC" "$T/state2"
run 0 backup "$SRC" --json
[ "$(summary reused_chunks)" = $((NCH - 1)) ] ||
    fail "second backup reused $(summary reused_chunks) chunks, not $((NCH - 1))"
[ "$(summary reused_bytes)" = $((SIZE - 16384)) ] || fail "reused_bytes $(summary reused_bytes)"
[ "$(summary new_chunks)" = 2 ] || fail "second backup stored $(summary new_chunks) chunks, not the edited one and a tree"

info "--force hashes every chunk again (nothing new, nothing kept by fingerprint)"
run 0 backup "$SRC" --json --force
[ "$(summary reused_chunks)" = 0 ] || fail "--force reused $(summary reused_chunks) chunks by fingerprint"
[ "$(summary new_chunks)" = 0 ] || fail "--force of an unchanged folder stored $(summary new_chunks) chunks"

info "a real update and rows added (the file grows)"
cat "$T/state1/app.sqlite" >"$DB" # the page edit undone (it was no valid SQLite)
"$PY" - "$DB" <<'EOF' || fail "could not update the SQLite file"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE t SET b = zeroblob(1000) WHERE id = 700")
db.executemany('INSERT INTO t VALUES (?, ?)', [(2000 + i, bytes([i]) * 900) for i in range(40)])
db.commit()
db.close()
EOF
cp -a "$SRC" "$T/state3"
run 0 backup "$SRC" --json
R3=$(summary reused_chunks)
info "update: $R3 of $(($(stat -c %s "$DB") / 16384)) chunks kept by fingerprint"
[ "$R3" -ge $((NCH - 5)) ] || fail "after a one-row update only $R3 chunks were kept by fingerprint"

info "every snapshot restores to its own state"
for i in 0 1 3; do
    id=$(snap_id $i)
    run 0 restore "$id" --to "$T/r$i"
    state=$T/state$((i == 3 ? 3 : i + 1))
    cmp -s "$T/r$i/app.sqlite" "$state/app.sqlite" || fail "snapshot $i does not restore byte-identical"
done
"$PY" -c 'import sqlite3, sys
assert sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0] == "ok"' \
    "$T/r3/app.sqlite" || fail "the restored database is not sound"
run 0 check --read-data
info "ok"
