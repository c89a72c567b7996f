#!/bin/bash
# encrypted.sh - encrypted device backups: without the backup password the
# backup is stored as the device wrote it (and ls says the password is
# needed); a wrong password stores nothing; with the password, ls lists the
# decrypted Manifest.db, extract gives the generator's plaintext, restore is
# byte-identical to the encrypted folder, the next day's diff is exactly the
# generator's change list, plaintext deduplicates against an unencrypted twin
# of the same phone; a password change archives the chain, and restore
# --reencrypt makes a backup the new password opens.
#
# usage: encrypted.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"

DEV=$T/device
SEED=71
# cheap key derivation: the scheme is the same, the test is fast
KDF=(--kdf-iter 10 --kdf-dpic 100)
BPW="bpw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
BPW2="bpw2-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
SECRETS=("$BPW" "$BPW2")
printf '%s\n' "$BPW" >"$T/bpw"
printf '%s\n' "$BPW2" >"$T/bpw2"
printf 'wrong-password\n' >"$T/bad"

new_id() { sed -n 's/^snapshot \([0-9a-f]*\) saved.*/\1/p' "$T/out"; }

# plain DIR OUT: the generator's own decryption of a backup folder
plain() { "$GEN" decrypt "$1" --to "$2" --password "$3" >/dev/null || fail "cairn-gen decrypt $1"; }

# same_tree A B: equal contents (symlinks compared as links)
same_tree() { diff -r --no-dereference "$1" "$2" >"$T/cmp" 2>&1 || { head -20 "$T/cmp" >&2; fail "$3"; }; }

init_store
"$GEN" device "$DEV" --seed $SEED --size-mb 12 --encrypt "$BPW" "${KDF[@]}" >/dev/null ||
    fail "cairn-gen device --encrypt"

info "no backup password: stored as the device wrote it"
# setsid: no controlling terminal, as in CI, so cairn cannot prompt
RUN_AS=(setsid -w)
run 0 backup "$DEV"
RUN_AS=()
grep -q "stored as the device wrote it" "$T/out" || fail "backup does not say it stores ciphertext"
OPAQUE=$(new_id)
run 2 ls "$OPAQUE"
grep -q "password" "$T/err" || fail "ls of an encrypted snapshot does not say the password is needed"
run 0 restore "$OPAQUE" --to "$T/r-opaque"
same_tree "$DEV" "$T/r-opaque" "the opaque snapshot does not restore byte-identical"

info "a wrong backup password stores nothing"
(cd "$STORE" && find . -path ./index -prune -o -type f -print | sort) >"$T/files-before"
run 4 --backup-password-file "$T/bad" backup "$DEV"
[ "$(wc -l <"$T/err")" = 1 ] || fail "a wrong backup password gives more than one line"
grep -q "^cairn: Manifest.plist: backup password is wrong" "$T/err" ||
    fail "the wrong-password message does not name Manifest.plist"
(cd "$STORE" && find . -path ./index -prune -o -type f -print | sort) >"$T/files-after"
cmp -s "$T/files-before" "$T/files-after" || fail "a wrong backup password changed the store"

info "with the password: stored decrypted"
run 0 --backup-password-file "$T/bpw" backup "$DEV"
grep -q "stored decrypted" "$T/out" || fail "backup does not say it decrypts"
S1=$(new_id)
plain "$DEV" "$T/plain1" "$BPW"
run 0 extract "$S1" HomeDomain CameraRollDomain AppDomain-com.example.chat --to "$T/x1"
for d in HomeDomain CameraRollDomain AppDomain-com.example.chat; do
    same_tree "$T/plain1/$d" "$T/x1/$d" "extract of $d is not the plaintext"
done
# ls lists every row of the decrypted Manifest.db
run 0 ls "$S1"
nls=$(wc -l <"$T/out")
nplain=$(cd "$T/plain1" && find . -mindepth 2 \( -type f -o -type l -o -type d \) | wc -l)
[ "$nls" -ge "$nplain" ] || fail "ls lists $nls entries, the plaintext has $nplain"

info "restore re-encrypts byte-identical (needs the backup password)"
RUN_AS=(setsid -w)
run 2 restore "$S1" --to "$T/r-none"
RUN_AS=()
grep -q "password" "$T/err" || fail "restore without the backup password does not ask for it"
[ ! -e "$T/r-none/Manifest.plist" ] || fail "restore without the password wrote files"
run 4 --backup-password-file "$T/bad" restore "$S1" --to "$T/r-bad"
run 0 --backup-password-file "$T/bpw" restore "$S1" --to "$T/r1"
same_tree "$DEV" "$T/r1" "the decrypted snapshot does not restore byte-identical"
compare_trees "$DEV" "$T/r1" --no-top

info "plaintext deduplicates against an unencrypted twin of the phone"
"$GEN" device "$T/twin" --seed $SEED --size-mb 12 --udid 00008120-0000000000000001 >/dev/null || fail "cairn-gen device twin"
run 0 backup "$T/twin"
added=$(snap_json "[x['new_raw'] for x in s if x['id'].startswith('$(new_id)')][0]")
total=$(snap_json "[x['bytes'] for x in s if x['id'].startswith('$(new_id)')][0]")
# an eighth: the twin's catalog is new as a whole (its rows' MBFile records lack the
# EncryptionKey, so their row digests differ), the contents must not be
[ "$added" -lt $((total / 8)) ] ||
    fail "the unencrypted twin added $added of $total bytes: plaintext did not deduplicate"

info "day 2: the diff is exactly the generator's change list"
cp -a "$DEV" "$T/day1"
"$GEN" mutate "$DEV" --seed $SEED --day 1 --encrypt "$BPW" --changes "$T/c1" >/dev/null ||
    fail "cairn-gen mutate --encrypt"
[ "$(wc -l <"$T/c1")" -gt 5 ] || fail "mutate made too few changes"
run 0 --backup-password-file "$T/bpw" backup "$DEV"
S2=$(new_id)
grep -q "^snapshot $S2 saved (parent $S1)$" "$T/out" || fail "day 2 is not a child of day 1"
run 0 diff --json "$S1" "$S2"
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["changes"]:
    print("%s\t%s\t%s\t%d" % (c["status"], c["domain"], c["path"], 0 if c["status"] == "D" else c["new_size"]))
' "$T/out" | LC_ALL=C sort >"$T/got1"
LC_ALL=C sort "$T/c1" >"$T/want1"
diff -u "$T/want1" "$T/got1" >"$T/cmp" || { head -20 "$T/cmp" >&2; fail "diff of day 2 is not the change list"; }
run 0 --backup-password-file "$T/bpw" restore "$S2" --to "$T/r2"
same_tree "$DEV" "$T/r2" "day 2 does not restore byte-identical"

info "password change: new chain, old one archived and restorable"
cp -a "$DEV" "$T/day2"
"$GEN" changepw "$DEV" --old "$BPW" --new "$BPW2" "${KDF[@]}" >/dev/null || fail "cairn-gen changepw"
run 4 --backup-password-file "$T/bpw" backup "$DEV"
run 0 --backup-password-file "$T/bpw2" backup "$DEV"
grep -q "archived" "$T/out" || fail "a password change did not archive the chain"
S3=$(new_id)
run 0 --backup-password-file "$T/bpw2" restore "$S3" --to "$T/r3"
same_tree "$DEV" "$T/r3" "the snapshot after the password change does not restore byte-identical"
run 0 --backup-password-file "$T/bpw" restore "$S2" --to "$T/r2b"
same_tree "$T/day2" "$T/r2b" "the archived chain's snapshot does not restore byte-identical"

info "restore --reencrypt: the archived snapshot under a new password"
run 0 --backup-password-file "$T/bpw" --new-backup-password-file "$T/bpw2" \
    restore "$S2" --to "$T/re" --reencrypt
cmp -s "$T/day2/Manifest.plist" "$T/re/Manifest.plist" && fail "--reencrypt left the keybag as it was"
for f in Manifest.db Info.plist Status.plist; do
    cmp -s "$T/day2/$f" "$T/re/$f" || fail "--reencrypt changed $f"
done
plain "$T/re" "$T/plain-re" "$BPW2"
plain "$T/day2" "$T/plain2" "$BPW"
same_tree "$T/plain2" "$T/plain-re" "the re-encrypted backup does not decrypt to the same files"
if "$GEN" decrypt "$T/re" --to "$T/plain-old" --password "$BPW" >/dev/null 2>&1; then
    fail "the old password still opens the re-encrypted backup"
fi
# and cairn itself backs it up with the new password
run 0 --backup-password-file "$T/bpw2" backup "$T/re"
grep -q "stored decrypted" "$T/out" || fail "the re-encrypted backup does not unlock with the new password"
info "ok"
