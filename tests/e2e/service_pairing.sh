#!/bin/bash
# service_pairing.sh - issue 15's last two cases of the service, on the
# stand-in: a device that answers the host's pairing record as invalid
# (lockdown StartSession: InvalidHostID, as a real device) raises the
# pairing-lost alarm once (three daemon runs, one line at the command sink)
# and the state file says why; paired again while plugged in (usbmuxd's
# Paired event), it is backed up at once and the state file clears; a device found over Wi-Fi (usbmuxd's
# ConnectionType Network) is skipped with network = usb, saying why, and
# tried with network = wifi.
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
export XDG_CONFIG_HOME=$T/config XDG_CACHE_HOME=$T/cache
U=00008110-000A1B2C3D4E5F81
"$GEN" device "$T/dev" --seed 81 --size-mb 1 --udid "$U" --name "Lost Trust" >/dev/null ||
    fail "cairn-gen device"
init_store
alarm_script
run 0 policy set default "alarms=command:$T/alarm.sh" interval=24h

info "pairing lost: one alarm, the state says why"
standin_start --serve "$T/dev" --state "$T/pairing" --pairing-lost "$U"
now=$(date +%s)
L=$T/daemon.log
for hour in 0 1 2; do
    CAIRN_TEST_NOW=$((now + hour * 3600)) "$CAIRN" --store "$STORE" daemon --once \
        >>"$L" 2>&1 || fail "the daemon failed: $(cat "$L")"
done
grep -q "device $U: backup failed: pairing lost: device $U is not paired with this computer: pair the iPhone again: unlock it and tap 'Trust'" "$L" ||
    fail "the lost pairing is not said: $(cat "$L")"
[ "$(grep -c "^pairing-lost $U " "$T/alarms")" = 1 ] ||
    fail "the sink did not receive the pairing-lost alarm once: $(cat "$T/alarms" "$L")"
grep -q "^pairing-lost $U $U no longer trusts this computer$" "$T/alarms" ||
    fail "the alarm's title: $(cat "$T/alarms")"
STATE=$(find "$T/cache/cairn/service" -name '*.state')
[ -n "$STATE" ] || fail "no state file"
awk -F'\t' -v u="$U" '$1 == "device" && $2 == u && $11 ~ /^pairing lost: .*tap .Trust./ { ok = 1 }
    END { exit !ok }' "$STATE" || fail "the state file does not say why: $(cat "$STATE")"
[ "$(find "$STORE/snapshots" -type f | wc -l)" = 0 ] || fail "a snapshot was stored"
kill $STANDIN_PID; wait $STANDIN_PID 2>/dev/null; rm -f "$T/mux.sock"

info "Wi-Fi: network = usb skips it, network = wifi backs it up"
rm -f "$STATE"; : >"$T/standin.log"
run 0 policy set default network=usb
standin_start --serve "$T/dev" --state "$T/pairing" --network "$U"
"$CAIRN" --store "$STORE" daemon --once >"$L" 2>&1 || fail "the daemon failed: $(cat "$L")"
grep -q "device $U appeared (Wi-Fi)" "$L" || fail "the device is not seen over Wi-Fi: $(cat "$L")"
grep -q "device $U: over Wi-Fi, and its policy says network = usb: not backed up" "$L" ||
    fail "network = usb: the skip is not said: $(cat "$L")"
grep -q "device $U: backing up" "$L" && fail "network = usb: backed up over Wi-Fi"
run 0 policy set default network=wifi
# network = wifi lets the job start; the stand-in cannot finish it: for a
# device usbmuxd lists as Network, libimobiledevice 1.3.0 connects straight
# to its NetworkAddress (TCP port 62078, TLS), not through the usbmuxd
# socket the stand-in serves
"$CAIRN" --store "$STORE" daemon --once >"$L" 2>&1 || fail "the daemon failed: $(cat "$L")"
grep -q "network = usb" "$L" && fail "network = wifi: still skipped: $(cat "$L")"
grep -q "device $U: backing up" "$L" || fail "network = wifi: not tried: $(cat "$L")"
kill $STANDIN_PID; wait $STANDIN_PID 2>/dev/null; rm -f "$T/mux.sock"

info "paired again while plugged in: backed up at once, the state clears"
rm -f "$STATE"
standin_start --serve "$T/dev" --state "$T/pairing" --pairing-lost "$U"
D=$T/daemon2.log
"$CAIRN" --store "$STORE" daemon >"$D" 2>&1 &
dpid=$!
bg_track $dpid
for _ in $(seq 300); do
    grep -q "device $U: backup failed: pairing lost" "$D" && break
    sleep 0.1
done
grep -q "device $U: backup failed: pairing lost" "$D" || fail "the lost pairing is not seen: $(cat "$D")"
# another program pairs it (the user taps Trust for Finder or idevicepair):
# usbmuxd saves the new record and tells its listeners "Paired"
"$PY" - "$T/mux.sock" "$U" "$T/pairing/pair_record.plist" <<'PY' || fail "SavePairRecord"
import plistlib, socket, struct, sys
sock, udid, record = sys.argv[1:]
msg = plistlib.dumps({"MessageType": "SavePairRecord", "PairRecordID": udid, "DeviceID": 1,
                      "PairRecordData": open(record, "rb").read()})
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.sendall(struct.pack("<IIII", 16 + len(msg), 1, 8, 1) + msg)
length = struct.unpack("<IIII", s.recv(16))[0]
body = b""
while len(body) < length - 16:
    body += s.recv(length - 16 - len(body))
sys.exit(plistlib.loads(body).get("Number", 1))
PY
for _ in $(seq 600); do
    grep -q "device $U: saved snapshot" "$D" && break
    kill -0 $dpid 2>/dev/null || break
    sleep 0.1
done
grep -q "device $U was paired again (USB)" "$D" || fail "the pairing is not seen: $(cat "$D")"
grep -q "device $U: saved snapshot" "$D" ||
    fail "not backed up once paired again (it waits for its next try): $(cat "$D")"
kill -TERM $dpid
wait $dpid 2>/dev/null
[ "$(find "$STORE/snapshots" -type f | wc -l)" = 1 ] || fail "not one snapshot"
awk -F'\t' -v u="$U" '$1 == "device" && $2 == u && $11 == "" { ok = 1 } END { exit !ok }' "$STATE" ||
    fail "the state file still says why it failed: $(cat "$STATE")"
run 0 check
info "ok"
