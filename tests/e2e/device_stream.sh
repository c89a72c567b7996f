#!/bin/bash
# device_stream.sh - backups straight from the device (cairn's own host side
# of mobilebackup2, libimobiledevice) against the device stand-in
# (tests/standin/standin.py):
#   - "cairn devices" lists the stand-in;
#   - device backups of several generated days form one chain (with a folder
#     backup of the same device in between), each later day incremental,
#     and "cairn diff --json" of each day is the generator's change list;
#   - every snapshot restores byte-identical to the folder Debian's
#     idevicebackup2 writes against the same stand-in state (Info.plist: the
#     host's own keys aside, as in standin_idevicebackup2.sh);
#   - "restore --device" delivers the snapshot's files to the device, with
#     the options asked for and the apps to reinstall; one the device ends
#     with an error removes /iTunesRestore/ from the device;
#   - a connection dropped mid-upload saves nothing, leaves the store clean
#     (check --read-data) and the next backup works; a file the device
#     cannot read gives exit 3 and a partial snapshot, healed by the next;
#   - encryption on, changepw (which archives the chain) and off through
#     the stand-in, and encrypted backups stored as the device sent them;
#     a device asking for its passcode is mentioned, a purge request refused.
#
# usage: device_stream.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"
STANDIN=$(cd "$(dirname "$0")/../standin" && pwd)/standin.py
[ -f "$STANDIN" ] || fail "no $STANDIN"
if ! command -v idevicebackup2 >/dev/null 2>&1; then
    echo "SKIP: idevicebackup2 (libimobiledevice-utils) is not installed" >&2
    exit 77
fi
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 7))' || fail "$PY is older than 3.7"

U=00008110-000A1B2C3D4E5F60
NAME="Stream Test iPhone"
SEED=31
DEV=$T/dev
KDF=(--kdf-iter 10 --kdf-dpic 100)
BPW="bpw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
BPW2="bpw2-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
SECRETS=("$BPW" "$BPW2")
"$GEN" device "$DEV" --seed $SEED --size-mb 6 --udid "$U" --name "$NAME" >/dev/null ||
    fail "cairn-gen device"

# start_standin NAME ARGS...: a stand-in on $T/NAME.sock; cairn and
# idevicebackup2 then talk to it
start_standin() {
    local name=$1 _
    shift
    "$PY" "$STANDIN" --socket "$T/$name.sock" --serve "$DEV" --state "$T/pairing" \
        --log "$T/$name.log" "$@" 2>"$T/$name.err" &
    bg_track $!
    for _ in $(seq 100); do
        [ -S "$T/$name.sock" ] && break
        sleep 0.1
    done
    [ -S "$T/$name.sock" ] || { cat "$T/$name.err" >&2; fail "stand-in $name did not start"; }
    export USBMUXD_SOCKET_ADDRESS=UNIX:$T/$name.sock
}

# ib2 ARGS...: idevicebackup2 against the current stand-in
ib2() {
    timeout 120 idevicebackup2 -u "$U" "$@" </dev/null >"$T/ib2.out" 2>&1 ||
        { tr '\r' '\n' <"$T/ib2.out" | grep -v '^\[' | tail -5 >&2; fail "idevicebackup2 $*"; }
}

# same_info A B: two Info.plists describe the same device (the host's own
# keys aside; both hosts asked the same stand-in, so the apps agree too)
same_info() {
    "$PY" - "$1" "$2" <<'EOF' || fail "Info.plist $1 differs from $2"
import plistlib, sys
a, b = (plistlib.load(open(p, 'rb')) for p in sys.argv[1:3])
own = {'GUID', 'Last Backup Date', 'iTunes Version', 'Applications', 'Product Name'}
bad = sorted(k for k in set(a) | set(b) if k not in own and a.get(k) != b.get(k))
if bad:
    sys.exit('keys differ: %s' % ', '.join('%s (%r != %r)' % (k, a.get(k), b.get(k)) for k in bad))
if a.get('Applications') != b.get('Applications'):
    sys.exit('Applications differ')
EOF
}

# same_folder GOT WANT: byte-identical backup folders, Info.plist as above
same_folder() {
    diff -r -x Info.plist "$1" "$2" >"$T/diff" 2>&1 ||
        { head -20 "$T/diff" >&2; fail "$1 differs from $2"; }
    same_info "$1/Info.plist" "$2/Info.plist"
}

new_id() { sed -n 's/^snapshot \([0-9a-f]*\) saved.*/\1/p' "$T/out"; }
received() { sed -n 's/^  files: .* (\([0-9]*\) received, .*/\1/p' "$T/out"; }

# diff_lines SNAP: "cairn diff --json SNAP" as the generator's change lines
diff_lines() {
    run 0 diff --json "$1"
    "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["added"], d["removed"], d["modified"]) == tuple(
    sum(1 for c in d["changes"] if c["status"] == s) for s in "ADM"), "counts"
for c in d["changes"]:
    print("%s\t%s\t%s\t%d" % (c["status"], c["domain"], c["path"],
                              0 if c["status"] == "D" else c["new_size"]))
' "$T/out" | LC_ALL=C sort
}

init_store
start_standin main --restore-dir "$T/restored"

info "devices lists the stand-in"
run 0 devices
grep -qE "^$U +$NAME +iPhone15,2 +17\.5 +usb +yes +off$" "$T/out" ||
    fail "devices does not list the stand-in: $(cat "$T/out")"
grep -q '^1 device(s)$' "$T/out" || fail "devices does not count one device"
run 0 devices --json
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 1 and d[0]["udid"] == sys.argv[2] and d[0]["paired"] is True, d
assert d[0]["encryption"] is False and d[0]["connection"] == "usb", d' "$T/out" "$U" ||
    fail "devices --json"

info "day 1: full backup from the device = idevicebackup2's folder"
nfiles=$(find "$DEV" -type f ! -name Info.plist | wc -l)
start=$(date +%s%N)
run 0 --threads 2 backup --device
t_cairn=$((($(date +%s%N) - start) / 1000000))
grep -q "^device: $NAME (iPhone15,2, iOS 17.5), UDID $U$" "$T/out" || fail "backup does not name the device"
grep -q "(parent" "$T/out" && fail "the first device backup has a parent"
# every file once, Status.plist twice (uploading, then finished)
[ "$(received)" = $((nfiles + 1)) ] || fail "day 1 received $(received) files, expected $((nfiles + 1))"
declare -a S
S[1]=$(new_id)
mkdir "$T/ib2"
start=$(date +%s%N)
ib2 backup --full "$T/ib2"
t_ib2=$((($(date +%s%N) - start) / 1000000))
info "full backup of $nfiles files: cairn ${t_cairn} ms, idevicebackup2 to a folder ${t_ib2} ms"
run 0 restore "${S[1]}" --to "$T/r1"
same_folder "$T/r1" "$T/ib2/$U"
[ "$(snap_json "s[-1]['chain']")" = "device:$U/unencrypted" ] || fail "day 1 is not in the device's chain"
[ "$(snap_json "s[-1]['source']")" = "mobilebackup2://$U" ] || fail "day 1: source"
[ "$(snap_json "s[-1]['meta']['device.device_name']")" = "$NAME" ] || fail "day 1: device metadata"
run 0 ls "${S[1]}" HomeDomain
[ -s "$T/out" ] || fail "ls of the device snapshot lists nothing (no catalog)"

for day in 2 3; do
    info "day $day: incremental, its diff is the generator's change list"
    "$GEN" mutate "$DEV" --seed $SEED --day $day --changes "$T/c$day" >/dev/null ||
        fail "cairn-gen mutate day $day"
    changed=$(grep -c '^[AM]' "$T/c$day")
    if [ "$day" = 3 ]; then
        # a folder backup of the device (idevicebackup2's folder of day 2)
        # joins the same chain, and the device then sees it as its last backup
        run 0 --threads 2 backup "$T/ib2/$U"
        F=$(new_id)
        grep -q "^snapshot $F saved (parent ${S[2]})$" "$T/out" ||
            fail "the folder backup did not join the device's chain after ${S[2]}"
        S[2]=$F
    fi
    run 0 --threads 2 backup --device "$U"
    S[day]=$(new_id)
    grep -q "^snapshot ${S[day]} saved (parent ${S[day - 1]})$" "$T/out" ||
        fail "day $day is not a child of ${S[day - 1]}: $(head -5 "$T/out")"
    # the changed files, Manifest.db and .plist, Status.plist twice
    [ "$(received)" = $((changed + 4)) ] ||
        fail "day $day received $(received) files, expected $((changed + 4)) (not incremental?)"
    diff_lines "${S[day]}" >"$T/got$day"
    LC_ALL=C sort "$T/c$day" >"$T/want$day"
    diff -u "$T/want$day" "$T/got$day" >"$T/cmp" ||
        { head -20 "$T/cmp" >&2; fail "diff of day $day is not the generator's change list"; }
    ib2 backup "$T/ib2"
    run 0 restore "${S[day]}" --to "$T/r$day"
    same_folder "$T/r$day" "$T/ib2/$U"
done
[ "$(snap_json "len(set(x['chain'] for x in s))")" = 1 ] || fail "the days are not one chain"

info "restore to the device"
run 0 restore "${S[3]}" --device "$U" --system --no-reboot
grep -q "^restored snapshot ${S[3]} to device $U: $(find "$T/r3" -type f | wc -l) files" "$T/out" ||
    fail "restore --device: $(cat "$T/out")"
# the device records files only (a folder left empty is not sent)
files_of() { (cd "$1" && find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2); }
files_of "$T/r3" >"$T/want"
files_of "$T/restored/$U" >"$T/got"
diff -u "$T/want" "$T/got" >"$T/diff" 2>&1 ||
    { head -20 "$T/diff" >&2; fail "the device did not receive the snapshot's files"; }
"$PY" - "$T/restored/restore-request.plist" "$T/restored/afc/iTunesRestore/RestoreApplications.plist" \
    "$T/r3/Info.plist" <<'EOF' || fail "restore --device: request or RestoreApplications.plist"
import plistlib, sys
req, apps, info = (plistlib.load(open(p, 'rb')) for p in sys.argv[1:4])
o = req['Options']
assert o['RestoreSystemFiles'] is True and o['RestoreShouldReboot'] is False, o
assert o['RestorePreserveSettings'] is True and 'RemoveItemsNotRestored' not in o, o
assert 'Password' not in o, 'a password for an unencrypted backup'
assert apps == info['Applications'], 'RestoreApplications.plist is not the backup\'s apps'
EOF
run 0 restore "${S[3]}" --device "$U" --settings --remove
"$PY" -c '
import plistlib, sys
o = plistlib.load(open(sys.argv[1], "rb"))["Options"]
assert o["RestoreSystemFiles"] is False and "RestoreShouldReboot" not in o, o
assert o["RestorePreserveSettings"] is False and o["RemoveItemsNotRestored"] is True, o
' "$T/restored/restore-request.plist" || fail "restore --device --settings --remove: options"
info "a restore the device ends with an error removes /iTunesRestore/ from the device"
start_standin rfail --restore-fail 3 --restore-dir "$T/restored-fail"
run 10 restore "${S[3]}" --device "$U"
grep -q "fault: ending the restore with an error after 3 file" "$T/rfail.log" ||
    fail "the stand-in did not fail the restore: $(tail -5 "$T/rfail.log")"
grep -q "stand-in fault" "$T/err" || fail "the device's error is not reported: $(cat "$T/err")"
[ -d "$T/restored-fail/$U" ] || fail "the failed restore delivered nothing before the fault"
grep -q "remove /iTunesRestore/RestoreApplications.plist -> status 0" "$T/rfail.log" ||
    fail "RestoreApplications.plist was not removed: $(grep afc "$T/rfail.log" | tail -5)"
[ ! -e "$T/restored-fail/afc/iTunesRestore" ] ||
    fail "a failed restore left /iTunesRestore/ on the device: $(ls -R "$T/restored-fail/afc")"
start_standin main2 --restore-dir "$T/restored"
run 10 backup --device 0123456789abcdef0123456789abcdef01234567
grep -q "is not connected" "$T/err" || fail "a device that is not there is not named as such"

info "a connection dropped in the middle of the upload"
start_standin cut --disconnect-after 1000000
n=$(snap_count)
run 10 backup --device --full
grep -q "connection was lost" "$T/err" || fail "a cut backup does not say the connection was lost"
grep -q "no snapshot was saved" "$T/err" || fail "a cut backup does not say nothing was saved"
[ "$(snap_count)" = "$n" ] || fail "a cut backup saved a snapshot"
run 0 check --read-data
run 0 backup --device
grep -q "backup session 2 done: .* 0 failed" "$T/cut.log" || fail "the second session did not run"
run 0 restore latest --to "$T/r-cut"
diff -r -x Info.plist "$T/r-cut" "$DEV" >"$T/diff" || fail "the backup after the cut differs from the device"

info "unplugged in the middle of the upload: the first error is the one reported"
# after the loss, the sync-finished notice cannot reach the device
# ("lockdown: Mux error (-8)"): that later failure must not replace the first
start_standin unplug --disconnect-after 1000000 --unplug
n=$(snap_count)
run 10 backup --device --full
grep -q "unplugged" "$T/unplug.log" || fail "the stand-in did not unplug the device"
grep -q "connection was lost" "$T/err" ||
    fail "an unplugged device does not say the connection was lost: $(cat "$T/err")"
! grep -q "Mux error" "$T/err" || fail "a later Mux error replaced the first error: $(cat "$T/err")"
[ "$(snap_count)" = "$n" ] || fail "an unplugged backup saved a snapshot"

info "a file the device cannot read"
FID=$(awk -F'\t' '$1 == "M" { printf "%s-%s", $2, $3; exit }' "$T/c3" | sha1sum | cut -c1-40)
start_standin bad --fail-file "$FID"
run 3 backup --device --full
grep -q "warning: .*the device could not send it: .*stand-in fault" "$T/err" ||
    fail "the per-file error is not reported"
grep -q "marked partial" "$T/err" || fail "the partial snapshot is not announced"
[ "$(snap_json "(s[-1]['partial'], s[-1]['errors'])")" = "(True, 1)" ] ||
    fail "the snapshot is not marked partial with 1 error"
run 0 restore latest --to "$T/r-bad"
[ -f "$T/r-bad/${FID:0:2}/$FID" ] && [ ! -s "$T/r-bad/${FID:0:2}/$FID" ] ||
    fail "the unreadable file is not kept empty, as idevicebackup2 leaves it"
run 0 backup --device
grep -q "backup session 2 done: 1 content file(s)" "$T/bad.log" || fail "the failed file was not sent again"
run 0 restore latest --to "$T/r-healed"
diff -r -x Info.plist "$T/r-healed" "$DEV" >"$T/diff" || fail "the next backup did not heal the file"

info "encryption on, an encrypted backup, changepw, encryption off"
# this device also asks for its passcode first and for a purge the host refuses
start_standin enc --passcode-wait 1 --ask-purge --restore-dir "$T/restored-enc"
export CAIRN_NEW_BACKUP_PASSWORD=$BPW
run 0 device encryption on "$U"
grep -q "backup encryption is now on" "$T/out" || fail "encryption on: $(cat "$T/out")"
run 2 device encryption on
grep -q "already on" "$T/err" || fail "encryption on twice is not refused"
run 0 devices
grep -qE "^$U .* yes +on$" "$T/out" || fail "devices does not show encryption on"
# the device now makes encrypted backups: the stand-in serves an encrypted folder
"$GEN" device "$T/dev-enc" --seed $SEED --size-mb 6 --udid "$U" --name "$NAME" \
    --encrypt "$BPW" "${KDF[@]}" >/dev/null || fail "cairn-gen device --encrypt"
rm -rf "$DEV" && mv "$T/dev-enc" "$DEV"
RUN_AS=(setsid -w) # no terminal to ask on, no password given: stored as sent
run 0 backup --device
RUN_AS=()
grep -q "stored as the device sent it" "$T/out" || fail "an encrypted backup does not say how it is stored"
grep -q "asks for its passcode" "$T/err" || fail "the passcode prompt on the device is not mentioned"
grep -q "purge disk space: host answered -1 (Operation not supported)" "$T/enc.log" ||
    fail "the purge request was not refused as not supported"
grep -q "^chain device:$U/unencrypted archived" "$T/out" || fail "encryption on did not archive the chain"
E1=$(new_id)
[ "$(snap_json "s[-1]['meta']['device.contents']")" = encrypted ] || fail "contents is not 'encrypted'"
run 0 restore "$E1" --to "$T/r-enc"
diff -r -x Info.plist "$T/r-enc" "$DEV" >"$T/diff" || fail "the encrypted snapshot does not restore byte-identical"
ENC_CHAIN=$(snap_json "s[-1]['chain']")

info "with the backup password: the streamed backup is stored decrypted"
n_before=$(snap_count)
CAIRN_BACKUP_PASSWORD=wrong-password run 4 backup --device
grep -q "Manifest.plist: backup password is wrong" "$T/err" || fail "a wrong backup password is not named"
snap_invalidate
[ "$(snap_count)" = "$n_before" ] || fail "a wrong backup password stored a snapshot"
CAIRN_BACKUP_PASSWORD=$BPW run 0 backup --device
grep -q "stored decrypted" "$T/out" || fail "the streamed encrypted backup was not decrypted"
E2=$(new_id)
[ "$(snap_json "s[-1]['meta']['device.contents']")" = decrypted ] || fail "contents is not 'decrypted'"
"$GEN" decrypt "$DEV" --to "$T/plain-enc" --password "$BPW" >/dev/null || fail "cairn-gen decrypt"
run 0 extract "$E2" HomeDomain CameraRollDomain --to "$T/x-enc"
for d in HomeDomain CameraRollDomain; do
    diff -r --no-dereference "$T/plain-enc/$d" "$T/x-enc/$d" >"$T/diff" ||
        fail "extract of $d from the streamed decrypted snapshot is not the plaintext"
done
CAIRN_BACKUP_PASSWORD=$BPW run 0 restore "$E2" --to "$T/r-dec"
diff -r -x Info.plist "$T/r-dec" "$DEV" >"$T/diff" ||
    fail "the streamed decrypted snapshot does not re-encrypt byte-identical"
# unchanged files keep their plaintext from the decrypted parent
CAIRN_BACKUP_PASSWORD=$BPW run 0 backup --device
E3=$(new_id)
[ "$(snap_json "s[-1]['new_raw']")" -lt 4000000 ] || fail "a backup without changes stored the files again"
CAIRN_BACKUP_PASSWORD=$BPW run 0 restore "$E3" --to "$T/r-dec2"
diff -r -x Info.plist "$T/r-dec2" "$DEV" >"$T/diff" || fail "the second decrypted snapshot does not restore"
# to the device, a decrypted snapshot goes as the device's own ciphertext
CAIRN_BACKUP_PASSWORD=$BPW run 0 restore "$E3" --device "$U" --no-reboot
files_of "$T/r-dec2" >"$T/want-enc"
files_of "$T/restored-enc/$U" >"$T/got-enc"
diff -u "$T/want-enc" "$T/got-enc" >"$T/diff" 2>&1 ||
    { head -20 "$T/diff" >&2; fail "the device did not receive the decrypted snapshot's ciphertext"; }
export CAIRN_BACKUP_PASSWORD=$BPW CAIRN_NEW_BACKUP_PASSWORD=$BPW2
run 0 device changepw "$U"
grep -q "^chain $ENC_CHAIN archived" "$T/out" || fail "changepw did not archive $ENC_CHAIN"
run 0 chains
grep -qE "^archived .*$ENC_CHAIN$" "$T/out" || fail "chains does not show $ENC_CHAIN archived"
"$GEN" changepw "$DEV" --old "$BPW" --new "$BPW2" "${KDF[@]}" >/dev/null || fail "cairn-gen changepw"
CAIRN_BACKUP_PASSWORD=$BPW2 run 0 backup --device
NEW_CHAIN=$(snap_json "s[-1]['chain']")
[ "$NEW_CHAIN" != "$ENC_CHAIN" ] && [ "${NEW_CHAIN#device:"$U"/keybag-}" != "$NEW_CHAIN" ] ||
    fail "the backup after changepw is not in a new keybag chain: $NEW_CHAIN"
export CAIRN_BACKUP_PASSWORD=$BPW2
run 0 device encryption off "$U"
run 0 devices
grep -qE "^$U .* yes +off$" "$T/out" || fail "devices does not show encryption off"
run 2 device changepw "$U"
grep -q "encryption is off" "$T/err" || fail "changepw with encryption off is not refused"
grep -q 'ChangePassword' "$T/enc.log" || fail "the stand-in saw no ChangePassword"
info "ok"
