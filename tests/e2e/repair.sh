#!/bin/bash
# repair.sh - 'cairn repair' against each kind of damage, with and without
# a copy target:
#   - flipped byte in a pack, truncated pack, deleted pack: check names the
#     pack and the lost files; repair without a target salvages (the other
#     files of the snapshot restore byte-identical, the lost ones are listed
#     exactly, the store checks clean, exit 3); repair from a folder copy of
#     the store made before the damage heals everything (every snapshot
#     restores byte-identical, check --read-data clean, exit 0)
#   - damaged snapshot object: healed from the copy, else moved aside
#   - damaged key file: healed from the copy (also when no key file opens the
#     store), else moved aside when another key file opens the store
#   - garbled or deleted index: rebuilt at open; repair finds nothing to do
#   - --dry-run changes nothing (listing and hashes of the store's files)
#   - device snapshot: a lost content file is named by domain and path too
# Restore of a snapshot with a damaged chunk exits 3 naming the file (see
# also corruption.sh).
. "$(dirname "$0")/lib.sh" "$@"

MiB=$((1024 * 1024))
SRC=$T/src
BASE=$T/base # the undamaged store, copied back before each case
COPY=$T/copy # a folder copy target: the store folder without its index

reset_store() {
    rm -rf "$STORE"
    cp -a "$BASE" "$STORE"
    snap_invalidate
}

packs() { find "$STORE/packs" -type f | sort; }
largest_pack() {
    for q in $(packs); do echo "$(stat -c %s "$q") $q"; done | sort -n | tail -1 | cut -d' ' -f2
}

# Every file of the store that is not a cache, lock or temporary file, with
# its hash: what --dry-run must leave alone.
store_digest() {
    (cd "$STORE" && find . \( -path ./index -o -path ./tmp \) -prune -o -type f \
        ! -name lock ! -name lock.readers -print0 | sort -z | xargs -0 sha256sum)
}

# What repair listed as lost for one snapshot (short ID): "file /path" and
# "folder /path" (a folder whose own tree is lost, kept empty) lines.
lost_in() {
    local kept='contents lost (.*); kept as an empty folder'
    sed -n -e "s|^snapshot $1: file \(/.*\): lost (.*)\$|file \1|p" \
        -e "s|^snapshot $1: folder \(/.*\): $kept\$|folder \1|p" "$T/out" | sort -u
}

# What check named for one snapshot (short ID) in FILE, in the same form.
named_in() {
    local why='\(damaged chunk\|chunk missing from the store\|chunk in a damaged pack\)'
    # '#' delimits: the alternatives need '|'
    sed -n -e "s#^snapshot $1: file \(/.*\): $why\$#file \1#p" \
        -e "s#^snapshot $1: folder \(/.*\): $why\$#folder \1#p" "$2" | sort -u
}

# The repaired snapshot that replaced ID.
repaired_of() {
    snap_json "[x['id'] for x in s if x['meta'].get('cairn.repaired_from') == '$1'][0]"
}

# restore_without ID STATE LOSTLIST: the snapshot restores everything of
# STATE exactly except what LOSTLIST (lost_in's form) names: lost files are
# absent, lost folders are there and empty.
restore_without() {
    local id=$1 state=$2 lost=$3 dir=$T/r-$RANDOM
    run 0 restore "$id" --to "$dir"
    tree_listing "$state" >"$T/la"
    tree_listing "$dir" >"$T/lb"
    "$PY" - "$state" "$dir" "$lost" "$T/la" "$T/lb" <<'EOF' >"$T/py.err" 2>&1 ||
import filecmp, os, sys
state, rest, lostf, la, lb = sys.argv[1:6]
files, folders = set(), []
for line in open(lostf):
    kind, p = line.rstrip('\n').split(' ', 1)
    (files.add(p.strip('/')) if kind == 'file' else folders.append(p.strip('/')))


def gone(rel):
    return rel in files or any(rel != f and (not f or rel.startswith(f + '/')) for f in folders)


def err(msg):
    print(msg)
    sys.exit(1)


want = [l for l in open(la) if not gone(l.rstrip('\n').split(' ', 5)[5])]
have = open(lb).readlines()
if want != have:
    miss, extra = set(want) - set(have), set(have) - set(want)
    err('items other than the lost ones differ: missing %s, extra %s'
        % (sorted(miss)[:3], sorted(extra)[:3]))
for f in files:
    if os.path.lexists(os.path.join(rest, f)):
        err('lost file %s exists' % f)
for f in folders:
    d = os.path.join(rest, f)
    if not os.path.isdir(d) or os.listdir(d):
        err('lost folder /%s is not there empty' % f)
for root, _, names in os.walk(state):
    for n in names:
        rel = os.path.relpath(os.path.join(root, n), state)
        if not gone(rel) and not filecmp.cmp(os.path.join(state, rel),
                                             os.path.join(rest, rel), False):
            err('%s differs' % rel)
EOF
        fail "restore of $id: $(cat "$T/py.err")"
    rm -rf "$dir"
}

restore_exact() { # ID STATE
    local dir=$T/r-$RANDOM
    run 0 restore "$1" --to "$dir"
    compare_trees "$2" "$dir"
    rm -rf "$dir"
}

# After a heal: exit 0, clean check, both snapshots (same IDs) exact.
expect_healed() { # what
    run 0 check --read-data
    grep -q "no errors" "$T/out" || fail "$1: check after healing is not clean"
    [ "$(snap_json "sorted(x['id'] for x in s)")" = "$(snap_json "sorted(['$ID1', '$ID2'])")" ] ||
        fail "$1: healing changed the snapshots"
    restore_exact "$ID1" "$T/state1"
    restore_exact "$ID2" "$T/state2"
}

# After a salvage: exit 3 was checked by the caller; the lost files of both
# snapshots are those check named (exactly, or with "some" a part of them:
# a truncated pack keeps what precedes the cut), and the rest restores
# exactly.
expect_salvaged() { # what checkfile [some]
    local what=$1 checked=$2 mode=${3:-exact} r1 r2
    lost_in "${ID1:0:8}" >"$T/lost1"
    lost_in "${ID2:0:8}" >"$T/lost2"
    { [ -s "$T/lost1" ] && [ -s "$T/lost2" ]; } || fail "$what: repair lists no loss of a snapshot"
    named_in "${ID1:0:8}" "$checked" >"$T/named1"
    if [ "$mode" = some ]; then
        [ -z "$(comm -13 "$T/named1" "$T/lost1")" ] ||
            fail "$what: repair lost items of ${ID1:0:8} that check did not name"
    else
        diff -u "$T/named1" "$T/lost1" >&2 ||
            fail "$what: repair's losses of ${ID1:0:8} are not those check named"
    fi
    grep -q "^snapshot ${ID1:0:8}: replaced by repaired snapshot " "$T/out" ||
        fail "$what: repair does not say which snapshot replaces ${ID1:0:8}"
    run 0 check --read-data
    grep -q "no errors" "$T/out" || fail "$what: check after salvage is not clean"
    r1=$(repaired_of "$ID1")
    r2=$(repaired_of "$ID2")
    [ "$(snap_json "[x['repaired'] for x in s if x['id'] == '$r1'][0]")" = True ] ||
        fail "$what: the repaired snapshot is not flagged repaired"
    snap_json "[x['meta']['cairn.lost'] for x in s if x['id'] == '$r1'][0]" | sort >"$T/meta1"
    sed -e 's|^file ||' -e 's|^folder \(.*[^/]\)$|\1/|' -e 's|^folder /$|/|' "$T/lost1" |
        sort >"$T/want1"
    diff -u "$T/want1" "$T/meta1" >&2 ||
        fail "$what: the repaired snapshot's cairn.lost is not the lost list"
    [ "$(snap_count)" = 2 ] || fail "$what: expected 2 snapshots after repair, found $(snap_count)"
    restore_without "$r1" "$T/state1" "$T/lost1"
    restore_without "$r2" "$T/state2" "$T/lost2"
}

info "a store with two snapshots over several packs, two key files, a folder copy"
mkdir -p "$SRC/photos" "$SRC/db"
for i in 1 2 3 4 5 6; do gen_random "$SRC/photos/IMG_000$i.HEIC" $((4 * MiB + i * 1000)) img$i; done
gen_text "$SRC/db/notes.txt" $((2 * MiB))
for i in 1 2 3 4 5 6 7 8; do printf 'small %s\n' "$i" >"$SRC/db/small-$i"; done
init_store
# One worker stores each file's chunks together, in walk order, so the first
# half of a pack holds whole files (the truncated-pack case counts on it).
run 0 backup --threads 1 "$SRC"
cp -a "$SRC" "$T/state1"
printf 'added later\n' >"$SRC/db/later.txt"
run 0 backup --threads 1 "$SRC"
cp -a "$SRC" "$T/state2"
ID1=$(snap_id 0)
ID2=$(snap_id 1)
PW2="pw2-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
SECRETS+=("$PW2")
CAIRN_NEW_PASSWORD=$PW2 run 0 --kdf "$STORE_KDF" key add
[ "$(find "$STORE/keys" -type f | wc -l)" = 2 ] || fail "key add made no second key file"
[ "$(packs | wc -l)" -ge 3 ] || fail "expected at least 3 packs, found $(packs | wc -l)"
run 0 repair
grep -q "no damage found" "$T/out" || fail "repair of a sound store does not say so"
cp -a "$STORE" "$BASE"
cp -a "$STORE" "$COPY"
rm -rf "$COPY/index"

info "flipped byte in a pack: detected, restore exits 3, dry run changes nothing"
P=$(largest_pack)
PNAME=$(basename "$P")
size=$(stat -c %s "$P")
for _ in 1 2 3 4 5; do
    flip_byte "$P" $((size / 4 + $(od -An -N4 -tu4 /dev/urandom) % (size / 2)))
    run 9 check --read-data
    if grep -q "^snapshot ${ID1:0:8}: file /.*: damaged chunk\$" "$T/out" &&
        ! grep -q "folder .*damaged chunk" "$T/out"; then break; fi
    reset_store
done
grep -q -F "$PNAME" "$T/out" || fail "check does not name the damaged pack $PNAME"
grep -q "^snapshot ${ID1:0:8}: file /.*: damaged chunk\$" "$T/out" || fail "no file damaged"
cp "$T/out" "$T/check.flip"
damaged=$(sed -n "s|^snapshot ${ID1:0:8}: file /\(.*\): damaged chunk\$|\1|p" "$T/check.flip")
run 3 restore "$ID1" --to "$T/r-damaged"
while IFS= read -r f; do
    grep -q -F "$f" "$T/err" || fail "restore exit 3 but stderr does not name $f"
    [ ! -e "$T/r-damaged/$f" ] || fail "restore left the damaged file $f"
done <<<"$damaged"
rm -rf "$T/r-damaged"
store_digest >"$T/digest.before"
run 9 repair --dry-run
grep -q "^would salvage pack $PNAME" "$T/out" || fail "dry run does not plan to salvage $PNAME"
grep -q "^snapshot ${ID1:0:8}: would be replaced by a repaired snapshot" "$T/out" ||
    fail "dry run does not say the snapshot would be replaced"
run 9 repair --dry-run --from "$COPY"
grep -q "^would heal pack $PNAME from $COPY" "$T/out" ||
    fail "dry run --from does not plan the heal"
store_digest >"$T/digest.after"
diff -u "$T/digest.before" "$T/digest.after" >&2 || fail "repair --dry-run changed the store"
run 9 check --read-data

info "flipped byte: repair without a target salvages"
run 3 repair
grep -q "^salvaged pack $PNAME: " "$T/out" || fail "repair does not report the salvage of $PNAME"
[ ! -e "$P" ] || fail "the damaged pack is still there"
expect_salvaged "flipped byte" "$T/check.flip"

info "flipped byte: repair from the copy heals"
reset_store
flip_byte "$P" $((size / 2))
run 9 check --read-data
run 0 repair --from "$COPY"
grep -q "^healed pack $PNAME from $COPY" "$T/out" || fail "repair does not report the heal"
cmp -s "$P" "$BASE/packs/${PNAME:0:2}/$PNAME" || fail "the healed pack differs from the original"
expect_healed "flipped byte"

info "truncated pack: detected by check (structure)"
reset_store
truncate -s $((size / 2)) "$P"
run 9 check
grep -q -F "$PNAME" "$T/out" || fail "check does not name the truncated pack"
run 9 check --read-data
cp "$T/out" "$T/check.trunc"
run 3 repair
n=$(sed -n "s|^salvaged pack $PNAME: its trailer is damaged; \([0-9]*\) chunk.*|\1|p" "$T/out")
[ "${n:-0}" -gt 0 ] || fail "truncated pack: nothing salvaged from its whole first half"
expect_salvaged "truncated pack" "$T/check.trunc" some
# what the first half held is kept: fewer files lost than the pack held
nfiles=$(named_in "${ID1:0:8}" "$T/check.trunc" | wc -l)
[ "$(wc -l <"$T/lost1")" -lt "$nfiles" ] || [ "$nfiles" -le 1 ] ||
    fail "truncated pack: salvage kept none of the $nfiles items check named"

info "truncated pack: repair from the copy heals"
reset_store
truncate -s $((size / 2)) "$P"
run 0 target add usb "$COPY"
run 0 repair --from-target usb
grep -q "^healed pack $PNAME from $COPY" "$T/out" || fail "truncated pack is not healed"
expect_healed "truncated pack"

info "deleted pack: check names snapshots and files; salvage"
reset_store
rm "$P"
run 9 check
cp "$T/out" "$T/check.del"
grep -q "^snapshot ${ID1:0:8}: file /photos/.*: chunk missing from the store" "$T/check.del" ||
    fail "deleted pack: check does not name the lost files"
run 3 repair
expect_salvaged "deleted pack" "$T/check.del"

info "deleted pack holding trees: lost folders are kept empty and listed"
tp=""
for q in $(cd "$BASE" && find packs -type f | sort); do
    reset_store
    rm "$STORE/$q"
    run 9 check
    if grep -q "^snapshot ${ID1:0:8}: folder /.*: chunk missing from the store\$" "$T/out"; then
        tp=$q
        break
    fi
done
[ -n "$tp" ] || fail "no pack holds a tree of ${ID1:0:8}"
cp "$T/out" "$T/check.tree"
run 3 repair
grep -q "^snapshot ${ID1:0:8}: folder /.*: contents lost (.*); kept as an empty folder\$" \
    "$T/out" || fail "repair does not list the lost folder"
expect_salvaged "deleted pack with trees" "$T/check.tree"

info "deleted pack: repair from the copy fetches it"
reset_store
rm "$P"
run 0 repair --from "$COPY"
grep -q "^fetched pack $PNAME from $COPY" "$T/out" || fail "the deleted pack is not fetched"
expect_healed "deleted pack"

info "damaged snapshot object: detected; moved aside, or healed from the copy"
reset_store
OBJ=$STORE/snapshots/$ID2
flip_byte "$OBJ" $(($(stat -c %s "$OBJ") / 2))
run 9 check
grep -q "^damaged: .*$ID2" "$T/out" || fail "check does not name the damaged snapshot object"
run 3 repair
grep -q "^moved snapshot object $ID2 to damaged/snapshots/$ID2" "$T/out" ||
    fail "repair does not say it set the snapshot object aside"
{ [ -f "$STORE/damaged/snapshots/$ID2" ] && [ ! -e "$OBJ" ]; } ||
    fail "the object was not set aside"
run 0 check --read-data
[ "$(snap_count)" = 1 ] || fail "expected 1 snapshot after setting one aside"
restore_exact "$ID1" "$T/state1"
reset_store
flip_byte "$OBJ" 40
run 0 repair --from "$COPY"
grep -q "^healed snapshot object $ID2 from $COPY" "$T/out" || fail "snapshot object not healed"
cmp -s "$OBJ" "$BASE/snapshots/$ID2" || fail "the healed snapshot object differs"
expect_healed "snapshot object"

info "damaged key file: detected; moved aside, or healed from the copy"
reset_store
KEYS=$(find "$STORE/keys" -type f | sort)
K1=$(echo "$KEYS" | head -1)
flip_byte "$K1" 60
# a password whose key file is intact opens the store: find it
for pw in "$CAIRN_PASSWORD" "$PW2"; do
    CAIRN_PASSWORD=$pw run_rc check
    [ "$RC" = 7 ] || break
done
GOODPW=$pw
[ "$RC" = 9 ] || fail "check with the other key file exited $RC, expected 9"
grep -q "^damaged: .*$(basename "$K1")" "$T/out" || fail "check does not name the damaged key file"
CAIRN_PASSWORD=$GOODPW run 3 repair
{ [ -f "$STORE/damaged/keys/$(basename "$K1")" ] && [ ! -e "$K1" ]; } ||
    fail "key file not set aside"
CAIRN_PASSWORD=$GOODPW run 0 check --read-data
reset_store
flip_byte "$K1" 60
CAIRN_PASSWORD=$GOODPW run 0 repair --from "$COPY"
cmp -s "$K1" "$BASE/keys/$(basename "$K1")" || fail "the healed key file differs"
run 0 check
CAIRN_PASSWORD=$PW2 run 0 check

info "every key file damaged: exit 7; healed from the copy before opening"
reset_store
for k in $KEYS; do flip_byte "$k" 135; done
run 7 check
run 7 repair
run 7 repair --dry-run --from "$COPY"
run 0 repair --from "$COPY"
grep -c "^healed key file " "$T/out" | grep -q '^2$' || fail "not both key files healed"
for k in $KEYS; do cmp -s "$k" "$BASE/keys/$(basename "$k")" || fail "$k not healed"; done
expect_healed "key files"

info "garbled and deleted index: rebuilt at open, repair finds nothing"
reset_store
for f in "$STORE"/index/*; do gen_random "$f" "$(stat -c %s "$f")" garble; done
run 0 check --read-data
grep -q "index was damaged" "$T/err" || fail "the garbled index is not reported"
rm -rf "$STORE/index"
run 0 repair
grep -q "no damage found" "$T/out" || fail "repair after losing the index finds damage"
expect_healed "index"

info "device snapshot: a lost content file is named by domain and path"
GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
DEV=$T/device
"$GEN" device "$DEV" --seed 5 --size-mb 24 >/dev/null || fail "cairn-gen device"
STORE=$T/dstore
init_store
run 0 backup "$DEV"
DID=$(snap_id 0)
cp -a "$STORE" "$T/dbase"
P=$(largest_pack)
size=$(stat -c %s "$P")
for _ in 1 2 3 4 5 6 7 8; do
    flip_byte "$P" $((size / 8 + $(od -An -N4 -tu4 /dev/urandom) % (size * 3 / 4)))
    run 9 check --read-data
    if grep -q "^snapshot ${DID:0:8}: file /[0-9a-f][0-9a-f]/[0-9a-f]*: damaged chunk\$" "$T/out" &&
        ! grep -q "folder .*damaged chunk\|catalog" "$T/out"; then break; fi
    rm -rf "$STORE" && cp -a "$T/dbase" "$STORE"
done
cp "$T/out" "$T/check.dev"
rel=$(sed -n "s|^snapshot ${DID:0:8}: file /\([0-9a-f][0-9a-f]/[0-9a-f]*\): damaged chunk\$|\1|p" \
    "$T/check.dev" | head -1)
[ -n "$rel" ] || fail "no content file of the device snapshot was damaged"
run 3 repair
want=$("$PY" -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
q = "select domain, relativePath from Files where fileID = ?"
d, p = db.execute(q, (sys.argv[2],)).fetchone()
print(d + "/" + p)' "$DEV/Manifest.db" "$(basename "$rel")") || fail "no Manifest.db row for $rel"
grep -q -F "snapshot ${DID:0:8}: file /$rel ($want): lost (damaged chunk)" "$T/out" ||
    fail "repair does not name /$rel as $want"
run 0 check --read-data
named_in "${DID:0:8}" "$T/check.dev" >"$T/dlost"
restore_without "$(repaired_of "$DID")" "$DEV" "$T/dlost"
run 0 ls "$(repaired_of "$DID")"

info "ok"
