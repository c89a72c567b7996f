#!/bin/bash
# device_select.sh - "latest" and --device NAME|UDID (issue 16, item 4).
# With one device in the store, "latest" in extract and ls is that device's
# newest snapshot even when a plain folder was backed up after it.  With two
# devices, extract/ls of "latest" without --device names the devices and
# exits 12 instead of reading the other device's snapshot; --device picks a
# device by UDID (any case), name (any case) or a unique prefix, for info,
# ls, extract, diff and restore --to (restore --device without --to still
# restores onto a device).  Forms without --device keep their meaning.
#
# usage: device_select.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"

UA=00008110-000A1B2C3D4E5F60
UB=00008101-0019283746ABCDEF
saved_id() { sed -n 's/^snapshot \([0-9a-f]*\) saved.*/\1/p' "$T/out"; }

init_store
"$GEN" device "$T/a" --seed 11 --size-mb 2 --udid "$UA" --name "Alice iPhone" >/dev/null ||
    fail "cairn-gen device a"
"$GEN" device "$T/b" --seed 22 --size-mb 2 --udid "$UB" --name "Bob iPad" >/dev/null ||
    fail "cairn-gen device b"
"$GEN" folder "$T/folder" --size-mb 1 >/dev/null || fail "cairn-gen folder"

info "one device, then a plain folder: latest in extract and ls is the device's"
run 0 backup "$T/a"
A1=$(saved_id)
run 0 backup "$T/folder"
run 0 ls latest HomeDomain
# a HomeDomain file of Alice's (regular, non-empty)
PA=$(sed -nE 's/^- [0-7]{6} +[1-9][0-9]*  [0-9-]+ [0-9:]+  (HomeDomain\/[^ ]*)$/\1/p' "$T/out" | head -1)
[ -n "$PA" ] || fail "ls latest HomeDomain shows no file of the only device: $(head -3 "$T/out")"
id=$(printf '%s' "${PA/\//-}" | sha1sum | cut -c1-40)
SRC_A=$T/a/${id:0:2}/$id
[ -f "$SRC_A" ] || fail "no content file for $PA in $T/a"
run 0 extract latest "$PA" --to "$T/x0"
grep -q "^extracted 1 files " "$T/out" || fail "extract latest (one device): $(cat "$T/out")"
cmp -s "$SRC_A" "$T/x0/$PA" || fail "extract latest (one device) wrote other bytes for $PA"
run 0 info latest
grep -q "^source  *$T/folder$" "$T/out" || fail "info latest without --device is not the newest snapshot"

info "a second device backed up last"
run 0 backup "$T/b"
B1=$(saved_id)
run 12 extract latest "$PA" --to "$T/x1"
grep -qFx "cairn: the store has snapshots of 2 devices: name one with --device (Bob iPad ($UB), Alice iPhone ($UA))" "$T/err" ||
    fail "extract latest with two devices: $(cat "$T/err")"
[ ! -e "$T/x1" ] || fail "a refused extract wrote $T/x1"
run 12 ls latest HomeDomain
grep -q "name one with --device" "$T/err" || fail "ls latest with two devices: $(cat "$T/err")"

info "--device by name prefix, name in any case, UDID in any case, UDID prefix"
n=0
for sel in alice "ALICE IPHONE" "${UA,,}" "$UA" 00008110; do
    n=$((n + 1))
    run 0 extract --device "$sel" latest "$PA" --to "$T/x2-$n"
    cmp -s "$SRC_A" "$T/x2-$n/$PA" || fail "extract --device '$sel' latest wrote other bytes for $PA"
done
run 0 ls --device bob latest HomeDomain
run 0 info --device "bob ipad" latest
grep -q "^snapshot  *$B1" "$T/out" || fail "info --device 'bob ipad' latest is not Bob's snapshot"
run 0 info --device Alice latest
grep -q "^snapshot  *$A1" "$T/out" || fail "info --device Alice latest is not Alice's snapshot"
grep -q "^device_name  *Alice iPhone$" "$T/out" || fail "info --device Alice: no device_name line"

info "unknown and ambiguous devices"
run 12 extract --device Carol latest "$PA" --to "$T/x3"
grep -qFx "cairn: no device 'Carol' in this store (devices: Bob iPad ($UB), Alice iPhone ($UA))" "$T/err" ||
    fail "--device Carol: $(cat "$T/err")"
run 12 info --device 0000 latest
grep -qFx "cairn: device '0000' matches more than one device: Bob iPad ($UB), Alice iPhone ($UA)" "$T/err" ||
    fail "--device 0000: $(cat "$T/err")"
run 0 info latest
grep -q "^snapshot  *$B1" "$T/out" || fail "info latest without --device is not the newest snapshot"

info "diff --device: latest and its parent, of that device"
"$GEN" mutate "$T/a" --seed 12 --day 1 >/dev/null || fail "cairn-gen mutate a"
run 0 backup "$T/a"
A2=$(saved_id)
"$GEN" mutate "$T/b" --seed 23 --day 1 >/dev/null || fail "cairn-gen mutate b"
run 0 backup "$T/b"
B2=$(saved_id)
run 0 diff --device alice latest
grep -qx "comparing $A1 with $A2" "$T/out" || fail "diff --device alice latest: $(head -1 "$T/out")"
run 0 diff latest
grep -qx "comparing $B1 with $B2" "$T/out" || fail "diff latest: $(head -1 "$T/out")"

info "restore --device NAME --to DIR: latest of that device, into a folder"
run 0 restore latest --device alice --to "$T/ra"
grep -q "^restored snapshot $A2 to $T/ra: " "$T/out" || fail "restore --device alice --to: $(cat "$T/out")"
compare_trees "$T/a" "$T/ra"
run 0 restore --device "$UB" --to "$T/rb" latest
grep -q "^restored snapshot $B2 to $T/rb: " "$T/out" || fail "restore --device UDID --to: $(cat "$T/out")"
compare_trees "$T/b" "$T/rb"
run 0 restore latest --to "$T/rl"
grep -q "^restored snapshot $B2 to $T/rl: " "$T/out" || fail "restore latest --to: $(cat "$T/out")"
run 2 restore latest --device alice --system --to "$T/rs"
[ ! -e "$T/rs" ] || fail "a refused restore made $T/rs"

echo "PASS device_select"
