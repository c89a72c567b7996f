#!/bin/bash
# wrong_folder.sh - the wrong folder is never stored silently (issue 16,
# item 3).  MobileSync's Backup/ folder (one subfolder per device) becomes
# one snapshot per device, each in its own chain and reported; a folder that
# looks like a device backup (Info.plist or Manifest.db) but lacks a required
# file is refused with exit 10 naming what is missing, and nothing is stored;
# --as-folder stores either as a plain folder.
#
# usage: wrong_folder.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"

UA=00008110-000A1B2C3D4E5F60
UB=00008101-0019283746ABCDEF
P=$T/MobileSync/Backup
mkdir -p "$P"
"$GEN" device "$P/$UA" --seed 11 --size-mb 2 --udid "$UA" --name "Alice iPhone" --product iPhone15,2 \
    --ios 17.5 >/dev/null || fail "cairn-gen device a"
"$GEN" device "$P/$UB" --seed 22 --size-mb 2 --udid "$UB" --name "Bob iPad" --product iPad13,1 \
    --ios 16.6 >/dev/null || fail "cairn-gen device b"
echo "not a backup" >"$P/notes.txt"
init_store

info "the Backup/ folder: each device into its own chain, each reported"
run 0 backup "$P"
grep -qFx "device backup: Bob iPad (iPad13,1, iOS 16.6), UDID $UB" "$T/out" || fail "Bob's backup not reported: $(cat "$T/out")"
grep -qFx "device backup: Alice iPhone (iPhone15,2, iOS 17.5), UDID $UA" "$T/out" || fail "Alice's backup not reported"
[ "$(grep -c '^snapshot [0-9a-f]\{8\} saved$' "$T/out")" = 2 ] || fail "not two 'snapshot ... saved' lines: $(cat "$T/out")"
tail -1 "$T/out" | grep -qFx "2 device backup(s) in $P: 2 saved" || fail "no summary line: $(tail -1 "$T/out")"
grep -qFx "cairn: warning: $P/notes.txt: not a device backup: left out" "$T/err" ||
    fail "notes.txt not warned about: $(cat "$T/err")"
[ "$(snap_count)" = 2 ] || fail "expected 2 snapshots, got $(snap_count)"
[ "$(snap_json "sorted(x['chain'] for x in s)")" = "['device:$UB/unencrypted', 'device:$UA/unencrypted']" ] ||
    fail "chains: $(snap_json "sorted(x['chain'] for x in s)")"
[ "$(snap_json "sorted(x['source'] for x in s)")" = "['$P/$UB', '$P/$UA']" ] ||
    fail "sources: $(snap_json "sorted(x['source'] for x in s)")"

info "every device snapshot restores byte-identical to its backup folder"
for u in "$UA" "$UB"; do
    id=$(snap_json "[x['id'] for x in s if x['chain'] == 'device:$u/unencrypted'][0]")
    run 0 restore "$id" --to "$T/r-$u"
    compare_trees "$P/$u" "$T/r-$u"
done

info "the next run: each device's snapshot has its parent"
"$GEN" mutate "$P/$UA" --seed 12 --day 1 >/dev/null || fail "cairn-gen mutate"
run 0 backup "$P"
[ "$(grep -c '^snapshot [0-9a-f]\{8\} saved (parent [0-9a-f]\{8\})$' "$T/out")" = 2 ] ||
    fail "second run: not two snapshots with parents: $(cat "$T/out")"
[ "$(snap_count)" = 4 ] || fail "expected 4 snapshots, got $(snap_count)"

info "a device backup without Status.plist is refused, nothing stored"
cp -a "$P/$UB" "$T/nostatus"
rm "$T/nostatus/Status.plist"
run 10 backup "$T/nostatus"
[ "$(cat "$T/err")" = "cairn: $T/nostatus: looks like a device backup but Status.plist is missing; nothing stored (--as-folder stores it as a plain folder)" ] ||
    fail "missing Status.plist: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "a refused backup printed: $(cat "$T/out")"
[ "$(snap_count)" = 4 ] || fail "a refused backup stored a snapshot"

info "without Manifest.plist and Status.plist; with only Manifest.db"
cp -a "$P/$UB" "$T/two"
rm "$T/two/Status.plist" "$T/two/Manifest.plist"
run 10 backup "$T/two"
grep -qFx "cairn: $T/two: looks like a device backup but Manifest.plist, Status.plist are missing; nothing stored (--as-folder stores it as a plain folder)" "$T/err" ||
    fail "missing two plists: $(cat "$T/err")"
mkdir "$T/dbonly"
cp "$P/$UB/Manifest.db" "$T/dbonly/"
run 10 backup "$T/dbonly"
grep -qF "cairn: $T/dbonly: looks like a device backup but Info.plist, Manifest.plist, Status.plist are missing" "$T/err" ||
    fail "Manifest.db alone: $(cat "$T/err")"
[ "$(snap_count)" = 4 ] || fail "a refused backup stored a snapshot"

info "--as-folder stores it as a plain folder"
run 0 backup --as-folder "$T/nostatus"
grep -q "device backup" "$T/out" && fail "--as-folder took it for a device backup"
grep -q '^snapshot [0-9a-f]\{8\} saved$' "$T/out" || fail "--as-folder: $(cat "$T/out")"
[ "$(snap_json "s[-1]['chain']")" = "path:$T/nostatus" ] || fail "--as-folder chain: $(snap_json "s[-1]['chain']")"

info "a Backup/ folder with a broken device backup: the good one is saved, exit 10"
cp -a "$T/nostatus" "$P/0000BROKEN"
run 10 backup "$P"
grep -qFx "cairn: $P/0000BROKEN: looks like a device backup but Status.plist is missing; nothing stored (--as-folder stores it as a plain folder)" "$T/err" ||
    fail "broken one inside: $(cat "$T/err")"
tail -1 "$T/err" | grep -qFx "cairn: 1 of 3 device backups in $P were not saved" || fail "last error line: $(tail -1 "$T/err")"
tail -1 "$T/out" | grep -qFx "3 device backup(s) in $P: 2 saved, 1 not saved" || fail "summary: $(tail -1 "$T/out")"
[ "$(snap_count)" = 7 ] || fail "expected 7 snapshots, got $(snap_count)"

info "--as-folder on Backup/: one plain snapshot"
run 0 backup --as-folder "$P"
grep -c "device backup" "$T/out" >/dev/null && fail "--as-folder on Backup/ announced device backups"
[ "$(grep -c '^snapshot [0-9a-f]\{8\} saved$' "$T/out")" = 1 ] || fail "--as-folder on Backup/: $(cat "$T/out")"
[ "$(snap_json "s[-1]['chain']")" = "path:$P" ] || fail "--as-folder chain: $(snap_json "s[-1]['chain']")"
run 2 backup --device --as-folder
grep -qF "backup --device does not take --as-folder" "$T/err" || fail "backup --device --as-folder: $(cat "$T/err")"

info "a plain folder whose subfolder holds a Manifest.db stays a plain folder"
mkdir -p "$T/plain/sub"
cp "$P/$UA/Manifest.db" "$T/plain/sub/"
echo hello >"$T/plain/readme.txt"
run 0 backup "$T/plain"
grep -q "device backup" "$T/out" && fail "a plain folder was taken for device backups"
[ ! -s "$T/err" ] && [ "$(snap_json "s[-1]['chain']")" = "path:$T/plain" ] || fail "plain folder: $(cat "$T/err")"

echo "PASS wrong_folder"
