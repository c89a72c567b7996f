#!/bin/bash
# service_longrun.sh - 30 simulated days of the service (label heavy): each
# day the generator changes the stand-in device (cairn-gen mutate) and
# 'cairn daemon --once' runs with the clock at that day (CAIRN_TEST_NOW):
#   - every day backed up and copied to the folder target, the sample
#     check clean;
#   - retention applied (keep-last = 5: never more than 5 snapshots, the
#     target holding exactly the store's);
#   - the store grows only by the data: each day's new bytes are at most
#     the bytes of the files the generator changed;
#   - the 3-2-1 rule (one disk target) not met: copies-behind alarmed once;
#   - then the device stays away: the overdue alarm is raised once (the
#     next runs do not repeat it).
#
# usage: service_longrun.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac

export XDG_CONFIG_HOME=$T/config XDG_CACHE_HOME=$T/cache
U=00008110-000A1B2C3D4E5F70
DAYS=${SERVICE_DAYS:-30}
"$GEN" device "$T/dev" --seed 70 --size-mb 1 --udid "$U" --name "Long Run" >/dev/null ||
    fail "cairn-gen device"
init_store
run 0 target add usbdisk "$T/target"
run 0 policy set default keep-last=5 check-subset=20 overdue-days=3

standin_start --serve "$T/dev" --state "$T/pairing"
spid=$STANDIN_PID

# the device's files with their digests
sums() { (cd "$T/dev" && find . -type f -exec md5sum {} + | sort); }
# names of the snapshot objects of a store folder (no password needed)
snaps_of() { find "$1/snapshots" -type f ! -name '*.tmp*' -printf '%f\n' | sort; }

base=$(($(date +%s) + 86400))
for day in $(seq 1 "$DAYS"); do
    # the bytes of the files the generator changed or added today
    if [ "$day" = 1 ]; then
        : >"$T/before"
    else
        sums >"$T/before"
        "$GEN" mutate "$T/dev" --day "$day" >/dev/null || fail "mutate day $day"
    fi
    changed=$(sums | comm -13 "$T/before" - | cut -c35- |
        (cd "$T/dev" && xargs -r -d '\n' stat -c %s) | awk '{ s += $1 } END { print s + 0 }')
    CAIRN_TEST_NOW=$((base + day * 86400)) "$CAIRN" --store "$STORE" daemon --once \
        >"$T/day.log" 2>"$T/day.err" || fail "day $day: the daemon failed: $(cat "$T/day.err")"
    cat "$T/day.log" >>"$T/all.log"
    grep -q "device $U: saved snapshot" "$T/day.log" || fail "day $day: not backed up: $(cat "$T/day.log")"
    grep -q "copied to usbdisk" "$T/day.log" || fail "day $day: not copied"
    grep -q "check: .* no errors" "$T/day.log" || fail "day $day: no clean sample check: $(cat "$T/day.log")"
    new=$(sed -n "s/.*device $U: saved snapshot [0-9a-f]*: .* received, \([0-9]*\) new bytes.*/\1/p" "$T/day.log")
    if [ -z "$new" ] || [ "$new" -gt "$changed" ]; then
        fail "day $day: $new new bytes for $changed bytes changed"
    fi
    want=$((day < 5 ? day : 5))
    [ "$(snaps_of "$STORE" | wc -l)" = "$want" ] || fail "day $day: $(snaps_of "$STORE" | wc -l) snapshots, not $want"
    [ "$(snaps_of "$STORE")" = "$(snaps_of "$T/target")" ] || fail "day $day: the target is not in sync"
done
[ "$(grep -c 'retention: removed 1 snapshot' "$T/all.log")" = $((DAYS - 5)) ] ||
    fail "retention did not remove one snapshot a day from day 6"
# one disk target never meets 3-2-1: alarmed once, after copies-behind-days
if [ "$(grep -c 'alarm copies-behind: 3-2-1 not met for 4 days: need ' "$T/all.log")" != 1 ] ||
    [ "$(grep -c 'alarm copies-behind' "$T/all.log")" != 1 ]; then
    fail "copies-behind was not alarmed exactly once: $(grep 'alarm' "$T/all.log")"
fi
run 0 check --read-data
"$CAIRN" --store "$T/target" check --read-data >"$T/out" 2>&1 || fail "the target does not check: $(cat "$T/out")"
run 0 status --json
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["targets"][0]["current"] is True, d
assert d["devices"][0]["udid"] == sys.argv[2] and d["devices"][0]["last_failure"] is None, d' \
    "$T/out" "$U" || fail "status --json after $DAYS days: $(cat "$T/out")"

info "the device stays away: overdue once"
kill "$spid"
wait "$spid" 2>/dev/null
for day in $((DAYS + 4)) $((DAYS + 5)); do
    CAIRN_TEST_NOW=$((base + day * 86400)) "$CAIRN" --store "$STORE" daemon --once \
        >>"$T/away.log" 2>&1 || fail "day $day: the daemon failed"
done
[ "$(grep -c "alarm overdue for $U: no backup of Long Run for 4 days" "$T/away.log")" = 1 ] ||
    fail "the overdue alarm was not raised exactly once: $(cat "$T/away.log")"
info "ok"
