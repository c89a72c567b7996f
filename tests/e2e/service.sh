#!/bin/bash
# service.sh - 'cairn daemon' against the device stand-in
# (tests/standin/standin.py) over the usbmuxd socket:
#   - two devices appear (Attached) while the store is busy with another
#     process: the service waits for it (bounded), then backs them up one
#     at a time, the second queued;
#   - each first session asks for the passcode: the unlock alarm reaches a
#     command sink once per device;
#   - each first session is cut mid-upload and the device unplugged
#     (Detached): nothing stored, retried when it is plugged in again
#     (Attached), then saved, copied to the folder target (in sync),
#     checked; the state file and 'status' say so;
#   - a device unplugged and plugged in again (--control) within its
#     interval is not backed up again;
#   - SIGTERM ends the daemon cleanly;
#   - policy show/set (and a bad file), check --read-data-subset, service
#     install/remove with --unit-dir.
#
# usage: service.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"
command -v flock >/dev/null || { echo "SKIP: flock (util-linux) is missing" >&2; exit 77; }

export XDG_CONFIG_HOME=$T/config XDG_CACHE_HOME=$T/cache
U1=00008110-000A1B2C3D4E5F61
U2=00008101-0019283746ABCDE2
"$GEN" device "$T/dev1" --seed 41 --size-mb 2 --udid "$U1" --name "Service One" >/dev/null ||
    fail "cairn-gen device 1"
"$GEN" device "$T/dev2" --seed 42 --size-mb 2 --udid "$U2" --name "Service Two" >/dev/null ||
    fail "cairn-gen device 2"
init_store
run 0 target add usbdisk "$T/target"

info "policy set / show, and a bad policy file"
run 0 policy set default keep-last=3 check-subset=50% \
    "alarms=command:$T/alarm.sh"
run 0 policy set "Service Two" interval=12h hours=any
run 0 policy show
grep -qx 'keep-last = 3' "$T/out" || fail "policy show lacks keep-last = 3"
grep -qx '\[device Service Two\]' "$T/out" || fail "policy show lacks the device section"
[ "$(grep -c '^interval = 12h$' "$T/out")" = 1 ] || fail "policy show: the device's interval"
run 0 policy show --json
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
s = {x["section"]: x["values"] for x in d["sections"]}
assert s["default"]["interval"] == "1d" and s["default"]["check-subset"] == "50%", s
assert s["Service Two"]["interval"] == "12h" and s["Service Two"]["keep-last"] == "3", s' "$T/out" ||
    fail "policy show --json"
printf '# kept\n[default]\nkeep-last = 3\n' >"$T/p.conf"
run 0 policy set --policy "$T/p.conf" default interval=6h
[ "$(cat "$T/p.conf")" = "$(printf '# kept\n[default]\nkeep-last = 3\ninterval = 6h')" ] ||
    fail "policy set did not keep the comment and add the key: $(cat "$T/p.conf")"
run 2 policy set default interval=soon
grep -q "interval: 'soon' is not a duration" "$T/err" || fail "a bad interval is not named"
printf '[default]\nintervall = 1h\n' >"$T/bad.conf"
run 2 policy show --policy "$T/bad.conf"
grep -qx "cairn: $T/bad.conf:2: unknown key 'intervall' (see docs/SERVICE.md)" "$T/err" ||
    fail "a bad policy file is not named with its line: $(cat "$T/err")"

info "the store password: none given is exit 4; from a systemd credential"
USBMUXD_SOCKET_ADDRESS=UNIX:$T/none.sock env -u CAIRN_PASSWORD "$CAIRN" --store "$STORE" \
    daemon --once >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 4 ] || fail "no password: exit $rc, not 4"
grep -q "^cairn: no store password: give --password-file, set CAIRN_PASSWORD, or name store-password-file in \[default\] of " "$T/err" ||
    fail "no password: $(cat "$T/err")"
mkdir -p "$T/creds"
printf '%s\n' "$CAIRN_PASSWORD" >"$T/creds/store-pw"
run 0 policy set --policy "$T/cred.conf" default store-password-file=credential:store-pw
CREDENTIALS_DIRECTORY=$T/creds USBMUXD_SOCKET_ADDRESS=UNIX:$T/none.sock env -u CAIRN_PASSWORD \
    "$CAIRN" --store "$STORE" daemon --once --policy "$T/cred.conf" >"$T/out" 2>"$T/err" ||
    fail "the daemon did not open the store with the credential: $(cat "$T/err")"
no_password_in "$T/out" "$T/err"
tail -1 "$T/out" | grep -q "service stopped$" || fail "the daemon with a credential: $(cat "$T/out")"
echo "wrong password" >"$T/creds/store-pw"
CREDENTIALS_DIRECTORY=$T/creds USBMUXD_SOCKET_ADDRESS=UNIX:$T/none.sock env -u CAIRN_PASSWORD \
    "$CAIRN" --store "$STORE" daemon --once --policy "$T/cred.conf" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 4 ] || fail "a wrong password from the credential: exit $rc, not 4"

# the command sink: one line per alarm
alarm_script

info "two devices, a busy store, a passcode wait, a detach mid-backup"
mkdir -p "$T/ctl"
standin_start --serve "$T/dev1" --also-serve "$T/dev2" --state "$T/pairing" --control "$T/ctl" \
    --passcode-wait 1 --disconnect-after 300000 --unplug --replug-after 1

# another process holds the store's writer lock until the daemon says it waits
flock "$STORE/lock" sh -c "while [ ! -e '$T/release' ]; do sleep 0.1; done" &
hold=$!
bg_track $hold
for _ in $(seq 300); do
    flock -n "$STORE/lock" true || break
    sleep 0.1
done
flock -n "$STORE/lock" true && fail "the lock holder did not take the lock"
"$CAIRN" --store "$STORE" daemon --wait 60s >"$T/daemon.log" 2>"$T/daemon.err" &
dpid=$!
bg_track $dpid
for _ in $(seq 600); do
    grep -q "the store is busy" "$T/daemon.log" && break
    sleep 0.1
done
grep -q "the store is busy" "$T/daemon.log" || fail "the daemon did not say it waits: $(cat "$T/daemon.log")"
grep -q "device $U1: backing up" "$T/daemon.log" && fail "the daemon did not wait for the store"
touch "$T/release"
# until both are saved and copied (or the daemon dies)
for _ in $(seq 600); do
    [ "$(grep -c 'copied to usbdisk' "$T/daemon.log")" -ge 2 ] && break
    kill -0 $dpid 2>/dev/null || break
    sleep 0.1
done
wait $hold
no_password_in "$T/daemon.log" "$T/daemon.err"
[ "$(grep -c 'copied to usbdisk' "$T/daemon.log")" = 2 ] ||
    fail "the daemon did not back up and copy both devices: $(cat "$T/daemon.log" "$T/daemon.err")"
L=$T/daemon.log
line_of() { grep -n -m1 -F -- "$1" "$L" | cut -d: -f1; }
for u in $U1 $U2; do
    [ -n "$(line_of "device $u appeared (USB)")" ] || fail "no appearance of $u"
done
grep -qE "the store is busy \(pid [0-9a-z]+\): waiting up to 60 s" "$L" || fail "the busy store is not said"
[ "$(line_of "device $U2 queued")" -lt "$(line_of "device $U1: saved snapshot")" ] ||
    fail "the second device was not queued while the first was backed up"
# one at a time: each "backing up" ends (saved or failed) before the next
awk '/: backing up/ { if (busy) bad = 1; busy = 1 } /: backup failed: |: saved snapshot / { busy = 0 }
     END { exit bad }' "$L" || fail "two backups overlapped: $(cat "$L")"
for u in $U1 $U2; do
    fl=$(line_of "device $u: backup failed: the device left during the backup (nothing stored)")
    [ -n "$fl" ] || fail "$u: the detach mid-backup is not said"
    grep -q "device $u: backup failed: the device left.*; retried at its next appearance" "$L" ||
        fail "$u: no retry promised"
    [ "$(grep -c "device $u left (USB)" "$L")" -ge 1 ] || fail "$u: the Detached event is not logged"
    [ "$(grep -c "device $u appeared (USB)" "$L")" -ge 2 ] || fail "$u: it did not reappear"
    ok=$(line_of "device $u: saved snapshot")
    [ "$fl" -lt "$ok" ] || fail "$u: saved before it failed?"
    # once per device: the second session asked for nothing
    [ "$(grep -c "alarm unlock-device for $u: unlock the iPhone to let the backup start" "$L")" = 1 ] ||
        fail "$u: the unlock alarm was not raised once"
done
# the command sink received each once
for u in $U1 $U2; do
    grep -q "alarm unlock-device for $u: .*(sent to 1 of 1 sink(s))" "$L" || fail "$u: the alarm was not sent"
    [ "$(grep -cx "unlock-device $u unlock the iPhone to let the backup start" "$T/alarms")" = 1 ] ||
        fail "the command sink did not receive the unlock alarm of $u once: $(cat "$T/alarms")"
done
[ "$(wc -l <"$T/alarms")" = 2 ] || fail "other alarms were sent: $(cat "$T/alarms")"
grep -q "check: .* read whole (50%), .* no errors" "$L" || fail "no sample check after the backup"

info "the store: one snapshot per device, whole; the target in sync"
run 0 snapshots --json
[ "$(snap_count)" = 2 ] || fail "expected 2 snapshots, got $(snap_count)"
run 0 check --read-data
run 0 status --json
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = d["targets"][0]
assert t["name"] == "usbdisk" and t["current"] is True and t["missing"] == [], t
dev = {x["udid"]: x for x in d["devices"]}
for u, n in ((sys.argv[2], "Service One"), (sys.argv[3], "Service Two")):
    x = dev[u]
    assert x["name"] == n and x["last_success"] and x["last_failure"] is None, x
    assert x["next_due"] > x["last_success"], x' "$T/out" "$U1" "$U2" || fail "status --json: $(cat "$T/out")"
run 0 status
grep -qE "^  $U2 +Service Two +[0-9-]+ [0-9:]+ +[0-9-]+ [0-9:]+ +-$" "$T/out" ||
    fail "status does not show device 2's last success and next due: $(cat "$T/out")"
"$CAIRN" --store "$T/target" check >"$T/out" 2>&1 || fail "the target does not check: $(cat "$T/out")"
state=$(ls "$XDG_CACHE_HOME"/cairn/service/*.state)
head -1 "$state" | grep -qx 'cairn-service-state 1' || fail "no state file"
[ "$(grep -c "^job	.*	$U1	failed	the device left" "$state")" = 1 ] || fail "state: no failed job of $U1"
[ "$(grep -c "^job	.*	$U1	ok	" "$state")" = 1 ] || fail "state: no ok job of $U1"

info "unplugged and plugged in again within its interval: not backed up again"
: >"$T/ctl/$U2.detached"
for _ in $(seq 50); do grep -q "device $U2 left (USB)" <(tail -n +"$(wc -l <"$L")" "$L") && break; sleep 0.1; done
rm "$T/ctl/$U2.detached"
for _ in $(seq 100); do grep -q "device $U2: not due" "$L" && break; sleep 0.1; done
grep -q "device $U2: not due (next due " "$L" || fail "the reappearance was not weighed: $(tail -5 "$L")"
[ "$(grep -c "device $U2: saved snapshot" "$L")" = 1 ] || fail "device 2 was backed up twice"

info "SIGTERM ends the daemon cleanly"
kill -TERM $dpid
for _ in $(seq 100); do kill -0 $dpid 2>/dev/null || break; sleep 0.1; done
kill -0 $dpid 2>/dev/null && fail "the daemon did not end on SIGTERM"
wait $dpid
rc=$?
[ $rc = 0 ] || fail "the daemon exited $rc on SIGTERM: $(cat "$T/daemon.err")"
tail -1 "$L" | grep -q "service stopped$" || fail "no last line on SIGTERM"

info "check --read-data-subset"
run 0 check --read-data-subset 100%
grep -qE "^checked [0-9]+ packs, 2 snapshots, read [0-9]+ chunks \(.*\) of [0-9]+ packs \(100%\)$" "$T/out" ||
    fail "check --read-data-subset 100%: $(cat "$T/out")"
run 2 check --read-data-subset 0%
grep -q "not a percentage from 1% to 100%" "$T/err" || fail "a bad percentage is not refused"

info "service install / remove (--unit-dir: no systemctl)"
run 0 service install --unit-dir "$T/units"
unit=$T/units/cairn.service
[ -f "$unit" ] || fail "no unit written"
grep -qx "ExecStart=$(realpath "$CAIRN") --store $STORE daemon" "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
grep -qx "WantedBy=default.target" "$unit" || fail "a user unit is not wanted by default.target"
grep -q "journalctl --user -u cairn -f" "$T/out" || fail "install does not say how to read the log"
echo "pw" >"$T/pw"
run 0 --password-file "$T/pw" service install --system --unit-dir "$T/units"
grep -qx "LoadCredential=cairn-store-password:$T/pw" "$unit" || fail "no credential for the password file"
grep -q -- "--password-file \${CREDENTIALS_DIRECTORY}/cairn-store-password daemon" "$unit" ||
    fail "the daemon does not read the credential"
grep -qx "WantedBy=multi-user.target" "$unit" || fail "a system unit is not wanted by multi-user.target"
run 0 service remove --unit-dir "$T/units"
[ -e "$unit" ] && fail "the unit was not removed"
run 12 service remove --unit-dir "$T/units"

info "ok"
