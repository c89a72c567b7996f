#!/bin/bash
# alarm.sh - the deletion alarm and pins: a day that loses 1 photo in 20
# (5 %) raises nothing; a day that loses 15 of 20 photos and a whole
# conversation warns (one exact line), pins the snapshot before the loss
# with a reason naming the new one; snapshots shows the pin (table and
# JSON); forget keeps the pinned snapshot whatever the policy until it is
# unpinned; pin by hand with a reason; the pin reaches a copy target and
# leaves it when unpinned; --photo-alarm 80 raises the alarm for the lost
# conversation only; unpin of a snapshot not pinned is exit 12; a day
# where only Photos.sqlite (or only sms.db) changed raises the photo (or
# the conversation) alarm alone.
#
# usage: alarm.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
UDID=00008120-001A2B3C4D5E6F70
for s in 0 1 2; do
    "$GEN" device "$T/d$s" --content $s --size-mb 1 --udid $UDID --date $((1717243200 + s * 86400)) \
        >/dev/null || fail "gen d$s"
done
init_store
run 0 backup "$T/d0"
S0=$(snap_id 0)
run 0 backup "$T/d1"
S1=$(snap_id 1)
grep -q "alarm" "$T/err" && fail "5 % of the photos raised the alarm"
run 0 backup "$T/d2"
S2=$(snap_id 2)
diff -u - "$T/err" <<OUT || fail "alarm warning"
cairn: warning: deletion alarm: this backup lost 15 of 20 photos (75 %), lost 1 conversation; snapshot ${S1:0:8}, before the loss, is pinned: forget keeps it until 'cairn unpin ${S1:0:8}'
OUT
run 0 snapshots
grep -q "^${S1:0:8} .* (pinned: deletion alarm: snapshot ${S2:0:8} lost 15 of 20 photos (75 %), lost 1 conversation)$" "$T/out" ||
    fail "snapshots shows the pin"
[ "$(snap_json '[x["pinned"] for x in s]')" = \
    "[None, 'deletion alarm: snapshot ${S2:0:8} lost 15 of 20 photos (75 %), lost 1 conversation', None]" ] ||
    fail "snapshots --json pinned"

# the pin goes to a copy target with the snapshots
run 0 target add usb "$T/usb"
run 0 copy --target usb
STORE=$T/usb run 0 snapshots --json
grep -q '"pinned":"deletion alarm' "$T/out" || fail "the target lacks the pin"

when() { snap_json "[x['time'][:19].replace('T', ' ') for x in s if x['id'] == '$1'][0]"; }
W0=$(when "$S0")
W1=$(when "$S1")
W2=$(when "$S2")
run 0 forget --keep-last 1
diff -u - "$T/out" <<OUT || fail "forget keeps the pinned snapshot"
chain device:$UDID/unencrypted
  keep    ${S2:0:8}  $W2  (last)
  keep    ${S1:0:8}  $W1  (pinned)
  remove  ${S0:0:8}  $W0
1 snapshot(s) removed; run 'cairn prune' to free their data
OUT
run 12 unpin "$S2"
diff -u - "$T/err" <<OUT || fail "unpin of a snapshot not pinned"
cairn: snapshot ${S2:0:8} is not pinned
OUT
run 0 pin "$S2" "before the trip"
[ "$(cat "$T/out")" = "pinned ${S2:0:8}: forget keeps it until 'cairn unpin ${S2:0:8}'" ] ||
    fail "pin"
run 0 pin "$S2"
[ "$(cat "$T/out")" = "${S2:0:8} was pinned already ('cairn unpin ${S2:0:8}' to unpin it)" ] ||
    fail "pin twice"
run 0 unpin "$S1"
[ "$(cat "$T/out")" = "unpinned ${S1:0:8}: forget applies its policy to it again" ] ||
    fail "unpin"
run 0 forget --keep-last 1
grep -q "^  remove  ${S1:0:8} " "$T/out" || fail "an unpinned snapshot is forgotten"
grep -q "^  keep    ${S2:0:8}  $W2  (last, pinned)$" "$T/out" || fail "kept: last, pinned"
[ "$(snap_json '[x["pinned"] for x in s]')" = "['before the trip']" ] || fail "pins after forget"
run 0 unpin "$S2"
[ -z "$(ls "$STORE/chains")" ] || fail "an active chain without pins keeps its record"
run 0 copy --target usb --allow-deletes
STORE=$T/usb run 0 snapshots --json
grep -q '"pinned":"' "$T/out" && fail "the target kept a removed pin"

# a higher threshold: the lost conversation alone raises the alarm
STORE=$T/store2
init_store
run 0 backup "$T/d1"
run 0 backup --photo-alarm 80 "$T/d2"
grep -q "^cairn: warning: deletion alarm: this backup lost 1 conversation; snapshot " "$T/err" ||
    fail "--photo-alarm 80"
run 2 backup --photo-alarm 0 "$T/d2"

# one database changed: the alarm reads that one alone and says the same
file_of() { $PY -c "import hashlib,sys;h=hashlib.sha1(sys.argv[1].encode()).hexdigest();print(h[:2]+'/'+h)" "$1"; }
PH=$(file_of CameraRollDomain-Media/PhotoData/Photos.sqlite)
SMS=$(file_of HomeDomain-Library/SMS/sms.db)
cp -a "$T/d1" "$T/photos_only"
cp "$T/d2/$PH" "$T/photos_only/$PH"
cp -a "$T/d1" "$T/sms_only"
cp "$T/d2/$SMS" "$T/sms_only/$SMS"
STORE=$T/store3
init_store
run 0 backup "$T/d1"
run 0 backup "$T/photos_only"
grep -q "^cairn: warning: deletion alarm: this backup lost 15 of 20 photos (75 %); snapshot " "$T/err" ||
    fail "Photos.sqlite alone changed: $(cat "$T/err")"
run 0 backup "$T/d1"
grep -q "alarm" "$T/err" && fail "photos back: $(cat "$T/err")"
run 0 backup "$T/sms_only"
grep -q "^cairn: warning: deletion alarm: this backup lost 1 conversation; snapshot " "$T/err" ||
    fail "sms.db alone changed: $(cat "$T/err")"
info "alarm: ok"
