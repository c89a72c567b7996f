#!/usr/bin/env bash
# Keys: several passwords open one store; passwd rewraps the master key
# only; the key in use and the last key cannot be removed.  Chains: a
# device whose backup encryption changes gets its chain archived, and the
# archived chain stays listable, diffable and restorable, untouched by
# forget unless named; deduplication goes on across the new chain.
#   keys_chains.sh CAIRN CAIRN_GEN
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 cairn cairn-gen}

init_store
"$GEN" device "$T/dev" --seed 21 --size-mb 12 --udid 00008120-0011223344556677 \
    --name "Keyed iPhone" >/dev/null || fail "cairn-gen device"
cp -a "$T/dev" "$T/day0"
run 0 backup "$T/dev"

info "key add / list"
export CAIRN_NEW_PASSWORD="second-pw-$RANDOM$RANDOM"
SECRETS+=("$CAIRN_NEW_PASSWORD")
run 0 --kdf "$STORE_KDF" key add
added=$(sed -n 's/^added key \([0-9a-f]*\)$/\1/p' "$T/out")
[ -n "$added" ] || fail "key add printed no key ID"
run 0 key list
[ "$(grep -c '[0-9a-f]\{16\}' "$T/out")" = 2 ] || fail "key list does not show 2 keys"
in_use=$(sed -n 's/^\* \([0-9a-f]*\) .*/\1/p' "$T/out")
[ -n "$in_use" ] || fail "key list marks no key in use"
[ "$(stat -c %a "$STORE/keys/$added")" = 600 ] || fail "new key file is not 0600"

info "the second password opens the store"
first_pw=$CAIRN_PASSWORD
CAIRN_PASSWORD=$CAIRN_NEW_PASSWORD run 0 snapshots
grep -q "1 snapshot(s)" "$T/out" || fail "second password does not see the snapshot"

info "removing the key in use is refused"
run 2 key remove "$in_use"
[ -f "$STORE/keys/$in_use" ] || fail "the key in use was removed"

info "key passwd: new password works, old one does not, data untouched"
packs_before=$(find "$STORE/packs" -type f | sort | xargs sha256sum)
export CAIRN_NEW_PASSWORD="third-pw-$RANDOM$RANDOM"
SECRETS+=("$CAIRN_NEW_PASSWORD")
run 0 --kdf "$STORE_KDF" key passwd
[ ! -f "$STORE/keys/$in_use" ] || fail "passwd left the old key file"
run 4 snapshots
CAIRN_PASSWORD=$CAIRN_NEW_PASSWORD run 0 restore latest --to "$T/r0"
compare_trees "$T/day0" "$T/r0"
[ "$packs_before" = "$(find "$STORE/packs" -type f | sort | xargs sha256sum)" ] ||
    fail "passwd changed pack files"
export CAIRN_PASSWORD=$CAIRN_NEW_PASSWORD
run 0 key list
current=$(sed -n 's/^\* \([0-9a-f]*\) .*/\1/p' "$T/out")
run 0 key remove "$added"
run 2 key remove "$current"
[ "$(ls "$STORE/keys" | wc -l)" = 1 ] || fail "expected exactly one key left"
unset first_pw

info "encryption turned on: the unencrypted chain is archived, a new one starts"
"$GEN" mutate "$T/dev" --seed 21 --day 1 >/dev/null || fail "cairn-gen mutate"
"$PY" - "$T/dev/Manifest.plist" <<'PY' || fail "cannot edit Manifest.plist"
import plistlib, sys
p = sys.argv[1]
d = plistlib.load(open(p, 'rb'))
d['IsEncrypted'] = True
d['BackupKeyBag'] = b'VERS\x00\x00\x00\x04\x00\x00\x00\x05' + bytes(range(64))
plistlib.dump(d, open(p, 'wb'), fmt=plistlib.FMT_BINARY)
PY
cp -a "$T/dev" "$T/day1"
run 0 backup "$T/dev"
grep -q "device:00008120-0011223344556677/unencrypted archived: backup encryption was turned on" "$T/out" ||
    fail "backup does not say the chain was archived"
new_bytes=$(snap_json 's[-1]["new_raw"]')
total=$(snap_json 's[-1]["bytes"]')
# the new chain has no parent, so every file is read: but only what the
# day changed is new (a day of the generator changes well under half)
[ "$new_bytes" -lt $((total / 2)) ] || fail "no dedup across the new chain: $new_bytes of $total new"
run 0 chains
grep -qE "^archived .*device:00008120-0011223344556677/unencrypted$" "$T/out" || fail "chains: old chain not archived"
grep -qE "^active .*device:00008120-0011223344556677/keybag-[0-9a-f]{16}$" "$T/out" || fail "chains: no new active chain"

info "password changed: the first encrypted chain is archived too"
"$PY" - "$T/dev/Manifest.plist" <<'PY' || fail "cannot edit Manifest.plist"
import plistlib, sys
p = sys.argv[1]
d = plistlib.load(open(p, 'rb'))
d['BackupKeyBag'] = b'VERS\x00\x00\x00\x04\x00\x00\x00\x05' + bytes(range(1, 65))
plistlib.dump(d, open(p, 'wb'), fmt=plistlib.FMT_BINARY)
PY
run 0 backup "$T/dev"
grep -q "archived: the backup password changed" "$T/out" || fail "password change did not archive"
run 0 chains
[ "$(grep -c '^archived ' "$T/out")" = 2 ] || fail "expected 2 archived chains"

info "forget leaves archived chains alone unless named"
run 0 forget --keep-last 1
[ "$(snap_count)" = 3 ] || fail "forget touched an archived chain"

info "archived snapshots stay restorable and diffable"
run 0 restore "$(snap_id 0)" --to "$T/r-arch"
compare_trees "$T/day0" "$T/r-arch"
run 0 diff "$(snap_id 0)" "$(snap_id 1)"
grep -q "modified" "$T/out" || fail "diff across chains printed no summary"

info "an active chain cannot be deleted; an archived one can, explicitly"
active=$(snap_json 's[-1]["chain"]')
run 2 chain delete "$active"
run 0 chain delete "device:00008120-0011223344556677/unencrypted"
[ "$(snap_count)" = 2 ] || fail "chain delete did not remove the archived snapshot"
run 0 prune --max-unused 0
run 0 check --read-data
run 0 chain archive "$active"
run 0 chains
[ "$(grep -c '^archived ' "$T/out")" = 2 ] || fail "chain archive by hand did not archive"
info "ok"

info "a real password change (generator's encrypted backups): archived, new chain, both restorable"
"$GEN" device "$T/enc" --seed 31 --size-mb 8 --udid 00008120-00AABBCCDDEEFF00 \
    --name "Secret iPhone" --encrypt "old-device-pw" >/dev/null || fail "cairn-gen device --encrypt"
cp -a "$T/enc" "$T/enc0"
run 0 backup "$T/enc"
"$GEN" changepw "$T/enc" --old "old-device-pw" --new "new-device-pw" >/dev/null ||
    fail "cairn-gen changepw"
"$GEN" mutate "$T/enc" --seed 31 --day 1 --encrypt "new-device-pw" >/dev/null ||
    fail "cairn-gen mutate --encrypt"
cp -a "$T/enc" "$T/enc1"
run 0 backup "$T/enc"
grep -q "device:00008120-00AABBCCDDEEFF00/keybag-[0-9a-f]* archived: the backup password changed" \
    "$T/out" || fail "a password change on the device did not archive the chain"
run 0 restore "$(snap_json "[x['id'] for x in s if x['chain'].startswith('device:00008120-00AABBCCDDEEFF00')][0]")" --to "$T/re0"
compare_trees "$T/enc0" "$T/re0"
run 0 restore latest --to "$T/re1"
compare_trees "$T/enc1" "$T/re1"
info "ok"
