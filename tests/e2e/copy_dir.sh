#!/usr/bin/env bash
# copy_dir.sh - 3-2-1 copies to folder targets (external drives):
#   - a store with several snapshots copies to a folder; the copy holds the
#     store's objects byte for byte (and no index, lock or temporary file),
#     opens as a store with the password alone, checks clean with
#     --read-data and restores byte-identical (restore --from-target);
#   - a second copy after one new backup sends exactly the new packs and
#     the new snapshot object (bytes counted against their file sizes);
#   - forget + prune, then copy: the deletions are mirrored, the target's
#     objects equal the store's, and it checks clean;
#   - a target written by another store is refused (exit 13), unchanged;
#   - kill -9 in the middle of a copy of a big new backup: the target still
#     opens, checks clean and has its earlier snapshots (the new one is not
#     visible), and the next copy sends exactly what had not arrived whole;
#   - status reports 3-2-1 correctly as targets are added, copied to and
#     removed (exit 0 whether the rule is met or not);
#   - usage errors (exit 2) and unknown targets (exit 12).
#   copy_dir.sh CAIRN CAIRN_GEN
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 cairn cairn-gen}
export XDG_CACHE_HOME=$T/cache
MiB=$((1024 * 1024))
START=$(date +%s)

sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
# the files a copy carries, relative to a store folder, with sizes
objects() { (cd "$1" 2>/dev/null && find config keys packs snapshots chains -type f -printf '%p %s\n' 2>/dev/null | sort); }
# "COUNT BYTES" of the objects of store $1 that target $2 lacks (or holds
# with another size): what a copy must send
missing() {
    "$PY" - "$1" "$2" <<'EOF'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
n = b = 0
for top in ("config", "keys", "packs", "snapshots", "chains"):
    p = os.path.join(src, top)
    walk = [(src, [], ["config"])] if top == "config" else os.walk(p)
    for root, _, files in walk:
        for f in files:
            s = os.path.join(root, f)
            if not os.path.isfile(s):
                continue
            rel = os.path.relpath(s, src)
            d = os.path.join(dst, rel)
            size = os.path.getsize(s)
            if not os.path.isfile(d) or os.path.getsize(d) != size:
                n += 1
                b += size
print(n, b)
EOF
}
# json_field EXPR: evaluates EXPR over j = the JSON in $T/out
json_field() {
    "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/out" "$1" ||
        fail "bad JSON or no $1 in: $(head -c 500 "$T/out")"
}
sent_bytes() { sed -n 's/.*: sent [0-9]* objects, \([0-9]*\) bytes.*/\1/p' "$T/out"; }
status_json() { run 0 status --json; json_field "$1"; }

init_store
"$GEN" folder "$T/src" --seed 7 --size-mb 24 >/dev/null || fail "cairn-gen folder"
for day in 0 1 2; do
    [ "$day" = 0 ] || "$GEN" edit "$T/src" --seed "$day" >/dev/null || fail "cairn-gen edit"
    echo "day $day" >"$T/src/marker-$day.txt"
    sums "$T/src" >"$T/day$day.sums"
    run 0 backup "$T/src"
done
[ "$(snap_count)" = 3 ] || fail "expected 3 snapshots"

info "status without targets: only the store, 3-2-1 not met (exit 0)"
run 0 status
grep -q '^3-2-1: not met: need 2 more current copies, a copy on a second kind of media, an offsite copy$' "$T/out" ||
    fail "status without targets: wrong verdict"
[ "$(status_json 'j["copies"]')" = 1 ] || fail "status --json: copies should be 1"

info "target add / list / usage errors"
run 0 target add usb "$T/usb"
run 0 target add nas "$T/nas" --media nas
run 0 target add cloud "$T/cloud" --media cloud --offsite
run 13 target add usb "$T/elsewhere"
run 2 target add "bad/name" "$T/x"
run 2 target add tape "$T/tape" --media tape
run 2 target add inside "$STORE/sub"
run 2 target add
run 0 target list --json
[ "$(json_field '[(t["name"], t["media"], t["offsite"]) for t in j]')" = \
    "[('usb', 'disk', False), ('nas', 'nas', False), ('cloud', 'cloud', True)]" ] ||
    fail "target list --json: $(cat "$T/out")"
[ "$(stat -c %a "$STORE/targets")" = 600 ] || fail "the targets file is not 0600"
run 2 copy
run 2 copy --target usb --all
run 2 copy --target usb "$(snap_id 0)"
run 12 copy --target nosuch
run 12 check --target nosuch
[ "$(status_json 'j["copies"]')" = 1 ] || fail "targets never copied to count as copies"
info "a drive that is not mounted is unreachable (exit 14), never created"
run 0 target add gone "$T/not-mounted/cairn"
run 14 copy --target gone
grep -q "target gone: .*mounted" "$T/err" || fail "unmounted drive: $(cat "$T/err")"
[ ! -e "$T/not-mounted" ] || fail "the copy created the missing drive's folder"
run 0 target remove gone

info "first copy to usb: every object, byte for byte"
read -r want_n want_b < <(missing "$STORE" "$T/usb")
run 0 copy --target usb
cat "$T/out"
grep -q "^target usb: sent $want_n objects, $want_b bytes" "$T/out" ||
    fail "first copy should send $want_n objects, $want_b bytes"
[ "$(objects "$STORE")" = "$(objects "$T/usb")" ] || fail "usb does not hold the store's objects"
while read -r f _; do
    cmp -s "$STORE/$f" "$T/usb/$f" || fail "$f differs on usb"
done < <(objects "$STORE")
for f in index lock lock.readers lock.targets targets; do
    [ ! -e "$T/usb/$f" ] || fail "the copy carried $f"
done
[ -z "$(ls -A "$T/usb/tmp")" ] || fail "temporary files left on usb: $(ls "$T/usb/tmp")"
[ "$(stat -c %a "$T/usb/snapshots")" = 700 ] || fail "target folders are not 0700"
[ -z "$(find "$T/usb" -type f ! -perm 600)" ] || fail "target files are not 0600"
[ "$(status_json 'j["copies"]')" = 2 ] || fail "after one copy, copies should be 2"
[ "$(json_field '[t["current"] for t in j["targets"]]')" = "[True, False, False]" ] ||
    fail "only usb should be current"

info "the target checks clean and restores byte-identical"
run 0 check --target usb --read-data
grep -q "no errors were found" "$T/out" || fail "check --target: no verdict"
for i in 0 2; do
    run 0 restore --from-target usb "$(snap_id "$i")" --to "$T/r$i"
    sums "$T/r$i" | cmp -s - "$T/day$i.sums" || fail "snapshot $i restores differently from usb"
done
compare_trees "$T/src" "$T/r2"
rm -rf "$T/r0" "$T/r2"
info "...and opens on its own, with the password alone"
STORE=$T/usb run 0 snapshots
grep -q "^3 snapshot(s)" "$T/out" || fail "usb opened as a store does not list 3 snapshots"
run 0 restore --from-target "$T/usb" latest --to "$T/r3"
compare_trees "$T/src" "$T/r3"
rm -rf "$T/r3"
[ "$(objects "$STORE")" = "$(objects "$T/usb")" ] || fail "opening usb changed its objects"

info "a second copy after one new backup sends only the new packs and snapshot"
"$GEN" edit "$T/src" --seed 3 >/dev/null || fail "cairn-gen edit"
echo "day 3" >"$T/src/marker-3.txt"
objects "$STORE" >"$T/before"
run 0 backup "$T/src"
objects "$STORE" >"$T/after"
new=$(comm -13 "$T/before" "$T/after")
new_n=$(echo "$new" | wc -l)
new_b=$(echo "$new" | awk '{s += $2} END {print s}')
new_packs=$(echo "$new" | grep -c '^packs/')
echo "   new in the store: $new_n objects ($new_packs packs), $new_b bytes"
[ "$new_packs" -ge 1 ] || fail "the new backup added no pack"
run 0 copy --target usb --json
[ "$(json_field 'j[0]["bytes"]')" = "$new_b" ] ||
    fail "incremental copy sent $(json_field 'j[0]["bytes"]') bytes, the new objects are $new_b"
[ "$(json_field '(j[0]["objects"], j[0]["packs"], j[0]["snapshots"])')" = "($new_n, $new_packs, 1)" ] ||
    fail "incremental copy: wrong counts: $(cat "$T/out")"
echo "   incremental copy sent $new_b bytes"
run 0 copy --target usb
grep -q "sent 0 objects, 0 bytes" "$T/out" || fail "a copy with nothing new sent something"

info "copy --all; 3-2-1 met; removing the offsite target breaks it"
run 0 copy --all --allow-deletes
[ "$(grep -c '^target ' "$T/out")" = 3 ] || fail "copy --all did not report 3 targets"
run 0 status
cat "$T/out"
grep -q '^3-2-1: met$' "$T/out" || fail "three current targets (disk, nas, offsite cloud): not met?"
[ "$(status_json '(j["copies"], j["media_kinds"], j["offsite_copies"], j["met"])')" = \
    "(4, ['disk', 'nas', 'cloud'], 1, True)" ] || fail "status --json when met: $(cat "$T/out")"
run 0 target remove cloud
[ -f "$T/cloud/config" ] || fail "target remove deleted the target's data"
run 0 status
grep -q '^3-2-1: not met: need an offsite copy$' "$T/out" || fail "without cloud: wrong verdict"
run 0 target add cloud "$T/cloud" --media cloud --offsite
run 0 status
grep -q '^3-2-1: not met' "$T/out" || fail "a re-added target counts before any copy"
run 0 copy --target cloud
grep -q "sent 0 objects" "$T/out" || fail "cloud already held everything"
run 0 status
grep -q '^3-2-1: met$' "$T/out" || fail "after copying to cloud again: not met"

info "a new backup puts every target behind"
echo "day 4" >"$T/src/marker-4.txt"
run 0 backup "$T/src"
run 0 status
grep -q 'behind: 1 missing' "$T/out" || fail "status does not say the targets miss a snapshot"
grep -q "missing: $(snap_id -1 | cut -c1-8)" "$T/out" || fail "status does not name the missing snapshot"
grep -q '^3-2-1: not met: need 2 more current copies, a copy on a second kind of media, an offsite copy$' "$T/out" ||
    fail "behind targets still count"
[ "$(status_json '[len(t["missing"]) for t in j["targets"]]')" = "[1, 1, 1]" ] ||
    fail "status --json: missing"
info "copy --snapshots: only the chosen snapshot and the packs it needs travel"
run 0 target add part "$T/part"
run 0 copy --target part --snapshots "$(snap_id 0)"
grep -q "it holds 1 snapshot(s)" "$T/out" || fail "copy --snapshots: $(cat "$T/out")"
[ "$(objects "$T/part" | grep -c '^packs/')" -lt "$(objects "$STORE" | grep -c '^packs/')" ] ||
    fail "copy --snapshots of the first snapshot sent every pack"
run 0 check --target part --read-data
run 0 restore --from-target part "$(snap_id 0)" --to "$T/rpart"
sums "$T/rpart" | cmp -s - "$T/day0.sums" || fail "the first snapshot restores differently from part"
rm -rf "$T/rpart"
run 0 copy --target part --snapshots "$(snap_id 1)"
grep -q "it holds 2 snapshot(s)" "$T/out" || fail "a second copy --snapshots lost the first: $(cat "$T/out")"
run 0 status --json
[ "$(json_field '[len(t["missing"]) for t in j["targets"] if t["name"] == "part"]')" = "[3]" ] ||
    fail "status: part should miss 3 of 5 snapshots"
run 0 target remove part
run 0 copy --all --allow-deletes

info "forget + prune, then copy: refused over the cap on deletions, mirrored with --allow-deletes"
run 0 forget --keep-last 2
run 0 prune --max-unused 0
objects "$T/usb" >"$T/usb-before"
run 15 copy --target usb
grep -q "^cairn: target usb: .*: this copy would delete [0-9]* of its [0-9]* snapshot(s) .*more than 50%; nothing was changed there .*--allow-deletes" "$T/err" ||
    fail "copy over the cap on deletions does not say why it stopped"
objects "$T/usb" >"$T/usb-after"; cmp -s "$T/usb-before" "$T/usb-after" || fail "a refused copy changed the target"
# a higher cap still refuses; the cap is judged on snapshots and on pack bytes
run 15 copy --target usb --max-delete-percent 20
objects "$T/usb" >"$T/usb-after"; cmp -s "$T/usb-before" "$T/usb-after" || fail "a refused copy changed the target"
run 0 copy --target usb --json --allow-deletes
[ "$(json_field 'j[0]["deleted"]')" -gt 3 ] || fail "copy after prune deleted $(json_field 'j[0]["deleted"]') objects"
[ "$(objects "$STORE")" = "$(objects "$T/usb")" ] || fail "usb differs from the pruned store"
run 0 check --target usb --read-data
STORE=$T/usb run 0 snapshots
grep -q "^2 snapshot(s)" "$T/out" || fail "usb does not have the 2 kept snapshots"
run 0 status --json
[ "$(json_field '[t["current"] for t in j["targets"]]')" = "[True, True, True]" ] ||
    fail "targets with forgotten snapshots still present should be current"
run 0 copy --all --allow-deletes

info "a target written by another store is refused"
objects "$T/usb" >"$T/usb.before"
OTHER=$T/other
STORE=$OTHER init_store
STORE=$OTHER run 0 backup "$T/src"
STORE=$OTHER run 0 target add usb "$T/usb"
STORE=$OTHER run 13 copy --target usb
grep -q "another store" "$T/err" || fail "refusal does not say why: $(cat "$T/err")"
grep -q "target usb" "$T/err" || fail "refusal does not name the target"
[ "$(objects "$T/usb")" = "$(cat "$T/usb.before")" ] || fail "the refused copy changed usb"

info "kill -9 in the middle of a copy of a big new backup, then resume"
mkdir -p "$T/src/big"
for i in 1 2 3 4 5; do gen_random "$T/src/big/b$i.bin" $((32 * MiB)) "big$i"; done
run 0 backup "$T/src"
snaps_before=$(ls "$T/usb/snapshots" | wc -l)
packs_before=$(objects "$T/usb" | grep -c '^packs/')
killed=0
for attempt in 1 2 3; do
    "$CAIRN" --store "$STORE" copy --target usb >"$T/kill.out" 2>&1 &
    pid=$!
    bg_track "$pid"
    # glob (no fork) until three new packs have arrived, then kill at once
    while kill -0 "$pid" 2>/dev/null; do
        shopt -s nullglob
        p=("$T"/usb/packs/*/*)
        shopt -u nullglob
        [ "${#p[@]}" -ge $((packs_before + 3)) ] && break
    done
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        killed=1
        break
    fi
    wait "$pid"
    echo "   attempt $attempt: the copy finished before the kill; undoing it"
    objects "$T/usb" | comm -13 "$T/usb.before" - | while read -r f _; do rm -f "$T/usb/$f"; done
done
[ "$killed" = 1 ] || fail "could not kill the copy in the middle (too fast?)"
packs_now=$(objects "$T/usb" | grep -c '^packs/')
echo "   killed with $((packs_now - packs_before)) new packs on usb"
[ "$(ls "$T/usb/snapshots" | wc -l)" = "$snaps_before" ] ||
    fail "the new snapshot is visible on usb before all its packs"
STORE=$T/usb run 0 snapshots
grep -q "^2 snapshot(s)" "$T/out" || fail "usb after the kill: not the 2 earlier snapshots"
run 0 check --target usb --read-data
read -r want_n want_b < <(missing "$STORE" "$T/usb")
echo "   still missing: $want_n objects, $want_b bytes"
run 0 copy --target usb --json
[ "$(json_field '(j[0]["objects"], j[0]["bytes"])')" = "($want_n, $want_b)" ] ||
    fail "the resumed copy sent $(json_field '(j[0]["objects"], j[0]["bytes"])'), expected ($want_n, $want_b)"
[ -z "$(ls -A "$T/usb/tmp")" ] || fail "the killed copy's temporary file was not cleaned"
[ "$(objects "$STORE")" = "$(objects "$T/usb")" ] || fail "usb differs from the store after resuming"
run 0 check --target usb --read-data
run 0 restore --from-target usb latest --to "$T/rbig"
compare_trees "$T/src" "$T/rbig"

info "a target that got only its keys and config (a copy killed early) opens and checks clean"
mkdir "$T/early"
cp -a "$STORE/keys" "$STORE/config" "$T/early/"
STORE=$T/early run 0 check --read-data
STORE=$T/early run 0 snapshots
grep -q "^0 snapshot(s)" "$T/out" || fail "an early target does not list 0 snapshots"
info "ok ($(($(date +%s) - START)) s)"
