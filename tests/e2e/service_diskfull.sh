#!/bin/bash
# service_diskfull.sh - the service and a full disk: the store on a 3 MiB
# tmpfs, a device of 6 MiB: the backup fails with nothing stored, the
# disk-full alarm reaches the command sink once, and the device is not tried
# again before its interval (no retry storm) even when it reappears; the
# store stays whole.  Needs a private mount namespace (else exit 77).
if [ -z "${CAIRN_E2E_IN_NS:-}" ]; then
    if unshare -m --propagation private true 2>/dev/null; then
        CAIRN_E2E_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
    fi
    echo "SKIP: cannot make a private mount namespace (unshare -m)"
    exit 77
fi
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac

SMALL=$T/small
mkdir -p "$SMALL"
mount -t tmpfs -o size=3m tmpfs "$SMALL" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
cleanup_hook() { umount -l "$SMALL" 2>/dev/null; }
STORE=$SMALL/store
export XDG_CONFIG_HOME=$T/config XDG_CACHE_HOME=$T/cache
U=00008110-000A1B2C3D4E5F80
"$GEN" device "$T/dev" --seed 80 --size-mb 6 --udid "$U" --name "Full Disk" >/dev/null ||
    fail "cairn-gen device"
init_store
alarm_script
run 0 policy set default "alarms=command:$T/alarm.sh" interval=24h

standin_start --serve "$T/dev" --state "$T/pairing"

now=$(date +%s)
for hour in 0 1 2; do
    CAIRN_TEST_NOW=$((now + hour * 3600)) "$CAIRN" --store "$STORE" daemon --once \
        >>"$T/daemon.log" 2>&1 || fail "the daemon failed: $(cat "$T/daemon.log")"
done
L=$T/daemon.log
[ "$(grep -c "device $U: backing up" "$L")" = 1 ] || fail "the device was tried again: $(cat "$L")"
grep -q "device $U: backup failed: disk full: " "$L" || fail "the full disk is not said: $(cat "$L")"
[ "$(grep -c "device $U: backing off after 1 failure(s)" "$L")" = 2 ] ||
    fail "the next runs did not back off: $(cat "$L")"
[ "$(grep -c "alarm disk-full for $U: the disk of the store is full: $U was not backed up (sent to 1 of 1 sink(s))" "$L")" = 1 ] ||
    fail "the disk-full alarm was not sent once: $(cat "$L")"
[ "$(grep -c "^disk-full $U the disk of the store is full" "$T/alarms")" = 1 ] ||
    fail "the sink did not receive the alarm once: $(cat "$T/alarms")"
run 0 status --json
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
x = d["devices"][0]
assert x["last_success"] is None and x["last_failure"]["reason"].startswith("disk full: "), x
assert x["next_due"] > x["last_failure"]["time"], x' "$T/out" || fail "status: $(cat "$T/out")"
[ "$(find "$STORE/snapshots" -type f | wc -l)" = 0 ] || fail "a snapshot was stored"
run 0 check
info "ok"
