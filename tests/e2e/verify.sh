#!/bin/bash
# verify.sh - cairn verify, the restore drill: a good device snapshot
# verifies (every item ok, the iOS version named, --json); an encrypted one
# verifies with its password (stored decrypted: every file key unwraps;
# stored as ciphertext: every file decrypts to valid padding and the
# databases are checked decrypted), is skipped without it and fails with a
# wrong one (exit 4); a corrupt sms.db fails its sqlite item, a missing catalog
# file the catalog item, a flipped byte in a pack the data item (exit 9);
# device password-test checks the password of each chain, offline.
#
# usage: verify.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"

KDF=(--kdf-iter 10 --kdf-dpic 100)
BPW="bpw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
BPW2="bpw2-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
SECRETS=("$BPW" "$BPW2")
printf '%s\n' "$BPW" >"$T/bpw"
printf '%s\n' "$BPW2" >"$T/bpw2"
printf 'wrong-password\n' >"$T/bad"

new_id() { sed -n 's/^snapshot \([0-9a-f]*\) saved.*/\1/p' "$T/out"; }
# verdict ITEM: the verdict 'verify --json' (in $T/out) gave the item
verdict() {
    "$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("type") == "item" and o["item"] == sys.argv[2]:
        print(o["verdict"])' "$T/out" "$1"
}
want() { [ "$(verdict "$1")" = "$2" ] || fail "verify: item '$1' is '$(verdict "$1")', expected $2"; }
# the content file of DOMAIN-PATH in backup folder DIR
content() { local h; h=$(printf '%s' "$2" | sha1sum | cut -c1-40) && echo "$1/${h:0:2}/$h"; }

init_store
"$GEN" device "$T/dev" --seed 19 --size-mb 3 >/dev/null || fail "cairn-gen device"

info "a good device snapshot verifies"
run 0 backup "$T/dev"
GOOD=$(new_id)
run 0 verify "$GOOD"
grep -q "^snapshot $GOOD would restore" "$T/out" || fail "verify does not say the snapshot would restore"
grep -q "^ios .* ok .*iOS [0-9.]* or later" "$T/out" || fail "verify does not name the iOS version"
run 0 verify latest --json
for i in data complete catalog "sqlite Manifest.db" "sqlite sms.db" "sqlite Photos.sqlite" \
    "sqlite AddressBook.sqlitedb" "sqlite CallHistory.storedata" ios; do
    want "$i" ok
done
tail -1 "$T/out" | grep -q '"type":"summary".*"ok":true.*"failed":0' || fail "verify --json summary"

info "a folder snapshot: its data and completeness"
mkdir -p "$T/folder"
gen_random "$T/folder/a.bin" 100000 folder
run 0 backup "$T/folder"
run 0 verify latest --json
want data ok
want complete ok
[ "$(grep -c '"type":"item"' "$T/out")" = 2 ] || fail "verify of a folder snapshot judges other items"

info "a corrupt sms.db fails its integrity check"
cp -a "$T/dev" "$T/dev-sms"
"$PY" - "$(content "$T/dev-sms" HomeDomain-Library/SMS/sms.db)" <<'EOF' || fail "corrupting sms.db"
import sys
with open(sys.argv[1], 'r+b') as f:
    page = int.from_bytes(f.read(18)[16:18], 'big')
    f.seek(page + 8)
    f.write(b'\x5a' * (page - 8))  # page 2 garbage, the size unchanged
EOF
run 0 backup "$T/dev-sms"
SMS=$(new_id)
run 9 verify "$SMS" --json
want "sqlite sms.db" failed
want "sqlite Manifest.db" ok
want catalog ok
want data ok
grep -q '"ok":false' "$T/out" || fail "verify --json of a corrupt sms.db says ok"
run 9 verify "$SMS"
grep -q "^cairn: snapshot $SMS would not restore: 1 of 9 item(s) failed" "$T/err" ||
    fail "verify does not end with the overall verdict"

info "a missing catalog file fails the catalog item"
cp -a "$T/dev" "$T/dev-miss"
rm "$(content "$T/dev-miss" CameraRollDomain-Media/PhotoData/Photos.sqlite)"
run 0 backup --allow-incomplete "$T/dev-miss"
MISS=$(new_id)
run 9 verify "$MISS" --json
want catalog failed
want data ok
grep -q "Media/PhotoData/Photos.sqlite: content file [0-9a-f/]* is missing" "$T/out" ||
    fail "verify does not name the missing file"

info "an encrypted snapshot: the password unlocks its keybag and every file key"
# the same phone as before, now encrypted: its unencrypted chain is archived
UDID=$(snap_json "s[0]['meta']['device.udid']")
"$GEN" device "$T/enc" --seed 20 --size-mb 2 --udid "$UDID" --encrypt "$BPW" "${KDF[@]}" >/dev/null ||
    fail "cairn-gen device --encrypt"
run 0 --backup-password-file "$T/bpw" backup "$T/enc"
ENC=$(new_id)
run 0 verify "$ENC" --backup-password-file "$T/bpw" --json
want password ok
want "sqlite sms.db" ok
RUN_AS=(setsid -w)
run 0 verify "$ENC" --json
RUN_AS=()
want password skipped
run 4 verify "$ENC" --backup-password-file "$T/bad" --json
want password failed
want data ok

info "stored as the device's ciphertext: the password decrypts every file to valid padding"
RUN_AS=(setsid -w)
run 0 backup "$T/enc"
OPAQUE=$(new_id)
run 0 verify "$OPAQUE" --json
RUN_AS=()
want catalog skipped
want password skipped
want sqlite skipped
run 0 verify "$OPAQUE" --backup-password-file "$T/bpw" --json
want password ok
grep -q '"detail":"the keybag unlocks and all [1-9][0-9]* encrypted file(s) decrypt with valid padding"' "$T/out" ||
    fail "verify does not say every encrypted file decrypts"
want "sqlite Manifest.db" ok
want "sqlite sms.db" ok
want "sqlite Photos.sqlite" ok
run 4 verify "$OPAQUE" --backup-password-file "$T/bad" --json
want password failed

info "device password-test: the password against each chain, offline"
run 0 device password-test --backup-password-file "$T/bpw"
grep -qE "^current +ok +device:.*/keybag-[0-9a-f]+ \(snapshot $OPAQUE," "$T/out" ||
    fail "password-test does not say the current chain opens"
grep -qE "^archived +not-encrypted +device:.*/unencrypted " "$T/out" ||
    fail "password-test does not list the unencrypted chain"
run 4 device password-test --backup-password-file "$T/bad"
grep -qE "^current +wrong " "$T/out" || fail "password-test does not say the password is wrong"
grep -q "^cairn: the password is wrong for 1 of 1 encrypted chain" "$T/err" || fail "password-test: no summary"
# the device's password changes: the old chain is archived, each password opens one chain
"$GEN" changepw "$T/enc" --old "$BPW" --new "$BPW2" >/dev/null || fail "cairn-gen changepw"
"$GEN" mutate "$T/enc" --seed 20 --day 1 --encrypt "$BPW2" >/dev/null || fail "cairn-gen mutate"
run 0 --backup-password-file "$T/bpw2" backup "$T/enc"
ENC2=$(new_id)
run 4 device password-test --backup-password-file "$T/bpw"
grep -qE "^archived +ok +device:.* \(snapshot $OPAQUE," "$T/out" || fail "old password: archived chain"
grep -qE "^current +wrong +device:.* \(snapshot $ENC2," "$T/out" || fail "old password: current chain"
CAIRN_BACKUP_PASSWORD=$BPW2 run 4 device password-test --device "$UDID"
grep -qE "^archived +wrong .* \(snapshot $OPAQUE," "$T/out" || fail "new password: archived chain"
grep -qE "^current +ok .* \(snapshot $ENC2," "$T/out" || fail "new password: current chain"
run 12 device password-test --device no-such-phone --backup-password-file "$T/bpw"

info "a flipped byte in a pack fails the data item"
# a byte flipped in the middle of every pack: whatever pack holds its data
for pack in $(find "$STORE/packs" -type f); do
    size=$(stat -c %s "$pack")
    flip_byte "$pack" $((size / 3))
done
run 9 verify "$GOOD" --json
want data failed
grep -q '"type":"problem"' "$T/out" || fail "verify names no damaged chunk"

echo PASS
