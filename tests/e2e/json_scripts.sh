#!/bin/bash
# json_scripts.sh - --json for every command whose output a script parses
# (issue 16, item 6: forget, info, ls, chains; prune's is in
# progress_prune_copy.sh): each prints JSON that parses and holds exactly
# the values of the store; and info of a device backup stored with
# --allow-incomplete counts the content files that were missing (item 10),
# in its text and its --json.
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
UDID=00008120-00C0FFEE12345678
SRC=$T/dev
"$GEN" device "$SRC" --seed 11 --size-mb 2 --udid "$UDID" --name "Kim iPad" >/dev/null ||
    fail "cairn-gen device"
init_store
run 0 backup "$SRC"
FULL=$(snap_json "s[0]['id']")

info "info --json: the snapshot's fields and metadata"
run 0 info --json latest
$PY - "$T/out" "$FULL" "$UDID" <<'PY' || fail "info --json: $(cat "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["id"] == sys.argv[2] and j["short_id"] == sys.argv[2][:8], j
assert j["chain"] == "device:%s/unencrypted" % sys.argv[3], j
assert j["meta"]["device.udid"] == sys.argv[3] and j["meta"]["device.device_name"] == "Kim iPad", j
assert j["incomplete"] is False and j["partial"] is False and j["missing_files"] == 0, j
PY
[ "$($PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["files"], j["bytes"])' "$T/out")" = \
  "$(snap_json "'%d %d' % (s[0]['files'], s[0]['bytes'])")" ] || fail "info --json: files and bytes differ from snapshots --json"

info "ls --json: every catalog row, as the text listing"
run 0 ls latest
grep -v '^$' "$T/out" | wc -l >"$T/nrows"
cp "$T/out" "$T/ls.txt"
run 0 ls --json latest
$PY - "$T/out" "$T/ls.txt" "$SRC/Manifest.db" <<'PY' || fail "ls --json: $(head -c 600 "$T/out")"
import json, sqlite3, sys
rows = json.load(open(sys.argv[1]))
text = [l for l in open(sys.argv[2]).read().splitlines() if l]
assert len(rows) == len(text) > 10, (len(rows), len(text))
db = sqlite3.connect(sys.argv[3])
want = {(d, p): f for d, p, f in db.execute("select domain, relativePath, flags from Files")}
kinds = {1: "file", 2: "dir", 4: "symlink"}
for r in rows:
    assert want[(r["domain"], r["path"])] in kinds and kinds[want[(r["domain"], r["path"])]] == r["type"], r
    assert (r["target"] is None) == (r["type"] != "symlink"), r
# the text line of each row names the same size and path
for r, t in zip(rows, text):
    f = t.split()
    assert int(f[2]) == r["size"] and t.endswith(r["domain"] + "/" + r["path"]) or " -> " in t, (r, t)
PY

info "chains --json"
run 0 chains --json
$PY - "$T/out" "$UDID" <<'PY' || fail "chains --json: $(cat "$T/out")"
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 1, a
c = a[0]
assert c["chain"] == "device:%s/unencrypted" % sys.argv[2] and c["state"] == "active", c
assert c["count"] == 1 and c["device"] == "Kim iPad" and c["archived_reason"] is None, c
assert c["first"] == c["last"] and c["added_bytes"] > 0, c
PY

info "a device backup missing 2 content files, stored with --allow-incomplete: info counts them"
mapfile -t FIDS < <(sqlite3 "$SRC/Manifest.db" "select fileID from Files where flags=1 order by fileID limit 2")
[ "${#FIDS[@]}" = 2 ] || fail "no 2 files in the generated backup"
for f in "${FIDS[@]}"; do rm "$SRC/${f:0:2}/$f" || fail "could not remove $f"; done
run 0 backup --allow-incomplete "$SRC"
run 0 info latest
grep -q -x 'missing      2 file(s) listed in Manifest.db were not in the backup (stored with --allow-incomplete)' "$T/out" ||
    fail "info does not count the missing files: $(cat "$T/out")"
run 0 info --json latest
$PY -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["incomplete"] is True and j["missing_files"] == 2, j
assert j["meta"]["cairn.missing_count"] == "2", j
' "$T/out" || fail "info --json does not count the missing files: $(cat "$T/out")"
run 0 info --json "${FULL:0:8}"
$PY -c 'import json,sys; assert json.load(open(sys.argv[1]))["missing_files"] == 0' "$T/out" ||
    fail "the complete snapshot counts missing files"

info "forget --json: each snapshot kept or removed, with the counts"
run 0 forget --keep-last 1 --dry-run --json
$PY - "$T/out" "$FULL" <<'PY' || fail "forget --dry-run --json: $(cat "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["dry_run"] is True and j["kept"] == 1 and j["removed"] == 1, j
keep = [x for x in j["snapshots"] if x["keep"]]
gone = [x for x in j["snapshots"] if not x["keep"]]
assert gone[0]["id"] == sys.argv[2] and gone[0]["reason"] is None, j
assert keep[0]["reason"] == "last" and keep[0]["id"] != sys.argv[2], j
PY
snap_invalidate
[ "$(snap_count)" = 2 ] || fail "forget --dry-run removed a snapshot"
run 0 forget --keep-last 1 --json
$PY -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["dry_run"] is False and (j["kept"], j["removed"]) == (1, 1), j
' "$T/out" || fail "forget --json: $(cat "$T/out")"
snap_invalidate
[ "$(snap_count)" = 1 ] || fail "forget --json removed $((2 - $(snap_count))) snapshots, expected 1"
[ "$(snap_json "s[0]['id']")" != "$FULL" ] || fail "forget removed the wrong snapshot"
echo "PASS"
