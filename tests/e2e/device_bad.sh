#!/bin/bash
# device_bad.sh - damaged or incomplete MobileSync backups: each is refused
# with exit 10 and a one-line message naming the file and the problem, and
# leaves the store exactly as it was; --allow-incomplete keeps an unfinished
# backup marked incomplete; without Manifest.plist the folder is refused as a
# device backup lacking a required file, and --as-folder stores it as a plain
# folder.
#
# The messages cairn gives (checked below by their key words):
#   uploading:     cairn: Status.plist: SnapshotState is 'uploading', backup is incomplete;
#                  refusing to store it (use --allow-incomplete to keep it anyway, marked incomplete)
#   missing file:  cairn: 1f/1f...: content file is missing for DOMAIN/PATH (1 of N files
#                  missing); refusing to store it (use --allow-incomplete ...)
#   truncated db:  cairn: Manifest.db: database disk image is malformed
#   garbage db:    cairn: Manifest.db: file is not a database
#   bad Info.plist cairn: Info.plist: not a valid property list
#   no Manifest.plist cairn: DIR: looks like a device backup but Manifest.plist is missing;
#                  nothing stored (--as-folder stores it as a plain folder)
#
# usage: device_bad.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"

UDID=00008120-00A1B2C3D4E5F607
BASE=$T/base
"$GEN" device "$BASE" --seed 7 --size-mb 6 --udid "$UDID" --name "Dana iPhone" >/dev/null ||
    fail "cairn-gen device"

# Everything in the store, with the bytes of every file.
store_state() {
    (cd "$STORE" && find . -type f ! -name lock ! -name lock.mdb -printf '%P\n' | sort |
        while IFS= read -r f; do printf '%s %s\n' "$(sha256sum <"$f" | cut -c1-64)" "$f"; done)
}

# fresh NAME: a pristine copy of the base backup in $T/NAME.
fresh() {
    rm -rf "${T:?}/$1"
    cp -a "$BASE" "$T/$1"
    SRC=$T/$1
}

# set_state FILE STATE FORMAT: rewrites a Status.plist with another
# SnapshotState, keeping every other key, as binary or xml.
set_state() {
    "$PY" - "$1" "$2" "$3" <<'EOF' || fail "could not rewrite $1"
import plistlib, sys
path, state, fmt = sys.argv[1:]
with open(path, 'rb') as f:
    p = plistlib.load(f)
before = dict(p)
p['SnapshotState'] = state
with open(path, 'wb') as f:
    plistlib.dump(p, f, fmt=plistlib.FMT_BINARY if fmt == 'binary' else plistlib.FMT_XML)
with open(path, 'rb') as f:
    q = plistlib.load(f)
assert q['SnapshotState'] == state
assert {k: v for k, v in q.items() if k != 'SnapshotState'} == \
       {k: v for k, v in before.items() if k != 'SnapshotState'}
EOF
}

# refused NAME WORDS...: backing up $SRC fails with exit 10, a single line
# on stderr holding every word, and the store unchanged.
refused() {
    local what=$1 w
    shift
    store_state >"$T/state.before"
    [ "$(wc -l <"$T/state.before")" -gt 3 ] || fail "$what: could not list the store"
    run 10 backup "$SRC"
    [ "$(wc -l <"$T/err")" = 1 ] || fail "$what: the error is not one line"
    grep -q '^cairn: ' "$T/err" || fail "$what: the error does not start with 'cairn: '"
    for w in "$@"; do
        grep -qF -- "$w" "$T/err" || fail "$what: the error does not mention '$w'"
    done
    grep -q '^snapshot .* saved' "$T/out" && fail "$what: backup says a snapshot was saved"
    store_state >"$T/state.after"
    cmp -s "$T/state.before" "$T/state.after" || fail "$what: the store changed"
    snap_invalidate
    [ "$(snap_count)" = "$NSNAP" ] || fail "$what: $(snap_count) snapshots, expected $NSNAP"
    info "$what: $(cat "$T/err")"
}

init_store
info "a good backup first, so the store is not empty"
run 0 backup "$BASE"
grep -q "device backup: Dana iPhone" "$T/out" || fail "the base backup is not seen as a device"
NSNAP=1

info "Status.plist SnapshotState 'uploading' (binary plist)"
fresh up
set_state "$SRC/Status.plist" uploading binary
refused "uploading" "Status.plist" "uploading" "incomplete" "--allow-incomplete"

info "a content file listed in Manifest.db is missing"
fresh missing
read -r FID DOM REL < <(sqlite3 -separator ' ' "$SRC/Manifest.db" \
    "select fileID, domain, relativePath from Files where flags=1 and domain='HomeDomain'
     and relativePath like '%.plist' and relativePath not like '% %' order by fileID limit 1")
[ -n "${REL:-}" ] || fail "no HomeDomain plist in the base backup"
rm "$SRC/${FID:0:2}/$FID" || fail "could not remove the content file"
refused "missing content" "$FID" "$DOM/$REL" "missing"

info "Manifest.db truncated to half"
fresh trunc
DBSIZE=$(stat -c %s "$SRC/Manifest.db")
truncate -s $((DBSIZE / 2)) "$SRC/Manifest.db"
refused "truncated Manifest.db" "Manifest.db"
grep -qE "malformed|truncated|not a database|damaged|corrupt" "$T/err" ||
    fail "truncated Manifest.db: the error does not say what is wrong"

info "Manifest.db replaced by garbage"
fresh garbage
gen_random "$SRC/Manifest.db" "$DBSIZE" garbage-db
refused "garbage Manifest.db" "Manifest.db" "not a database"

info "Info.plist replaced by garbage"
fresh info
gen_random "$SRC/Info.plist" 3000 garbage-info
refused "garbage Info.plist" "Info.plist" "not a valid property list"

info "check --read-data: the refusals left nothing behind"
run 0 check --read-data
grep -q "^no errors were found$" "$T/out" || fail "check did not say 'no errors were found'"

info "--allow-incomplete keeps an 'uploading' backup (xml plist) marked incomplete"
fresh upkeep
set_state "$SRC/Status.plist" uploading xml
run 0 backup --allow-incomplete "$SRC"
[ "$(wc -l <"$T/err")" = 1 ] || fail "--allow-incomplete: the warning is not one line"
for w in "warning" "Status.plist" "uploading" "incomplete"; do
    grep -qF "$w" "$T/err" || fail "--allow-incomplete: the warning does not mention '$w'"
done
ID=$(sed -n 's/^snapshot \([0-9a-f]*\) saved.*/\1/p' "$T/out")
[ -n "$ID" ] || fail "--allow-incomplete: no snapshot saved"
NSNAP=2
snap_invalidate
[ "$(snap_count)" = 2 ] || fail "--allow-incomplete: $(snap_count) snapshots, expected 2"
[ "$(snap_json "[x['incomplete'] for x in s if x['id'].startswith('$ID')][0]")" = True ] ||
    fail "snapshots --json does not mark $ID incomplete"
[ "$(snap_json "[x['incomplete'] for x in s if not x['id'].startswith('$ID')][0]")" = False ] ||
    fail "snapshots --json marks the good snapshot incomplete"
[ "$(snap_json "[x['chain'] for x in s if x['id'].startswith('$ID')][0]")" = "device:$UDID/unencrypted" ] ||
    fail "the incomplete snapshot is not in the device's chain"
[ "$(snap_json "[x['meta']['device.snapshot_state'] for x in s if x['id'].startswith('$ID')][0]")" = uploading ] ||
    fail "the incomplete snapshot does not record SnapshotState 'uploading'"
run 0 snapshots
grep -qE "^$ID .*Dana iPhone .*\(incomplete\)$" "$T/out" ||
    fail "the snapshots table does not show $ID as (incomplete)"
[ "$(grep -c '(incomplete)' "$T/out")" = 1 ] || fail "the table shows more than one incomplete snapshot"
run 0 info "$ID"
grep -qE "^state +incomplete$" "$T/out" || fail "info $ID does not show the state incomplete"
run 0 --threads 2 restore "$ID" --to "$T/r-upkeep"
compare_trees "$SRC" "$T/r-upkeep"
rm -rf "$T/r-upkeep"

info "Manifest.plist missing: refused (issue 16 item 3); with --as-folder stored as a plain folder"
fresh nomanifest
rm "$SRC/Manifest.plist"
run 10 backup "$SRC"
[ "$(cat "$T/err")" = "cairn: $SRC: looks like a device backup but Manifest.plist is missing; nothing stored (--as-folder stores it as a plain folder)" ] ||
    fail "a folder without Manifest.plist: $(cat "$T/err")"
snap_invalidate
[ "$(snap_count)" = 2 ] || fail "a refused folder without Manifest.plist stored a snapshot"
run 0 backup --as-folder "$SRC"
grep -q "device backup" "$T/out" && fail "a folder without Manifest.plist was taken for a device backup"
[ -s "$T/err" ] && fail "backup of a folder without Manifest.plist wrote to stderr"
ID=$(sed -n 's/^snapshot \([0-9a-f]*\) saved.*/\1/p' "$T/out")
[ -n "$ID" ] || fail "no snapshot of the folder without Manifest.plist"
snap_invalidate
[ "$(snap_count)" = 3 ] || fail "$(snap_count) snapshots, expected 3"
[ "$(snap_json "[x['chain'] for x in s if x['id'].startswith('$ID')][0]")" = "path:$SRC" ] ||
    fail "the folder without Manifest.plist is not in chain path:$SRC"
[ "$(snap_json "[k for x in s if x['id'].startswith('$ID') for k in x['meta'] if k.startswith('device.')]")" = "[]" ] ||
    fail "the plain-folder snapshot has device details"
run 2 ls "$ID"
grep -qF "is not a device backup" "$T/err" || fail "ls of the plain-folder snapshot: unexpected message"
run 0 --threads 2 restore "$ID" --to "$T/r-nomanifest"
compare_trees "$SRC" "$T/r-nomanifest"
rm -rf "$T/r-nomanifest"

info "a content file gone after a backup, Manifest.db unchanged (its catalog is reused): refused"
fresh reused
run 0 backup "$SRC"
victim=$(cd "$SRC" && find . -mindepth 2 -type f -name '[0-9a-f]*' | sort | head -1)
victim=${victim#./}
[ -n "$victim" ] || fail "no content file to delete"
rm "$SRC/$victim"
run 10 backup "$SRC"
grep -qF "$victim: content file is missing" "$T/err" ||
    fail "a content file deleted under an unchanged Manifest.db was not noticed"
run 0 --allow-incomplete backup "$SRC"
grep -q "storing it marked incomplete" "$T/err" || fail "--allow-incomplete did not mark it"

run 0 check --read-data
info "ok"
