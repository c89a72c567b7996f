#!/usr/bin/env bash
# target_cache_sftp.sh - restore --from-target of an SFTP target fetches only
# what the restore needs (issue 16, item 2), against the throwaway OpenSSH
# server of tests/servers/sshd.sh:
#   - a store of 64 MiB of incompressible data (several packs) and then a
#     5-byte snapshot in a chain of its own is copied to the server;
#   - restoring the 5-byte snapshot fetches far less than the target holds
#     (its small objects, pack trailers read by range, the one pack it
#     needs), restores it byte for byte, and the cache holds that one pack;
#   - restoring the big snapshot with --cache-size-mb 20 works and leaves
#     at most 20 MiB of packs (plus the pack in use) in the cache;
#   - check --target --read-data with --cache-size-mb 20 reads every pack
#     but never holds more than the bound (plus the pack in use) in the
#     cache while it runs, and finds damage made on the target after its
#     pack was cached (each pack is fetched again);
#   - a copy killed in the middle of an upload leaves a .part on the server;
#     the next copy removes it (not an hour later);
#   - 'target remove' deletes the target's local cache.
# Skipped (77) when sshd cannot be installed.
#   target_cache_sftp.sh CAIRN CAIRN_GEN
. "$(dirname "$0")/lib.sh" "$@"
HERE=$(cd "$(dirname "$0")" && pwd)
SERVER=$HERE/../servers/sshd.sh
export XDG_CACHE_HOME=$T/cache
unset CAIRN_SFTP_PASSWORD CAIRN_SFTP_KEY_PASSPHRASE
MiB=$((1024 * 1024))

cleanup_hook() { bash "$SERVER" stop "$T/sshd" >/dev/null 2>&1; }
assignments=$(bash "$SERVER" start "$T/sshd")
rc=$?
[ "$rc" = 77 ] && { echo "SKIP: no sshd"; exit 77; }
[ "$rc" = 0 ] || fail "tests/servers/sshd.sh start exited $rc"
eval "$assignments"
REMOTE=$T/remote
URL="$SFTP_URL_BASE$REMOTE?key=$SFTP_KEY&known_hosts=$SFTP_KNOWN_HOSTS"
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
du_bytes() { find "$1" -type f -printf '%s\n' 2>/dev/null | awk '{b += $1} END {print b + 0}'; }
# the number after "fetched ... objects, " in the last output
fetched_bytes() { sed -n 's/^target nas: fetched [0-9]* objects, \([0-9]*\) bytes.*/\1/p' "$T/out"; }

init_store
mkdir -p "$T/big" "$T/tiny"
for i in 1 2 3 4; do gen_random "$T/big/b$i.bin" $((16 * MiB)) "big$i"; done
printf 'hello' >"$T/tiny/five.txt"
run 0 backup "$T/big"
run 0 backup "$T/tiny"
TINY=$(snap_id -1)
BIG=$(snap_id 0)
run 0 target add nas "$URL"
run 0 copy --target nas
TOTAL=$(du_bytes "$REMOTE")
[ "$TOTAL" -gt $((60 * MiB)) ] || fail "the target holds only $TOTAL bytes"

info "restoring a 5-byte snapshot fetches far less than the target holds"
run 0 restore --from-target nas "$TINY" --to "$T/r-tiny"
cmp -s "$T/tiny/five.txt" "$T/r-tiny/five.txt" || fail "the 5-byte file restores differently"
got=$(fetched_bytes)
[ -n "$got" ] || fail "no 'fetched' line: $(cat "$T/out")"
echo "   fetched $got of $TOTAL bytes"
# the tiny snapshot's pack is small; the big packs must not have come
[ "$got" -lt $((2 * MiB)) ] || fail "restoring 5 bytes fetched $got of $TOTAL bytes"
CACHE=$(sed -n 's/.*its local cache \(.*\) holds.*/\1/p' "$T/out")
case $CACHE in "$XDG_CACHE_HOME"/cairn/targets/*) ;; *) fail "cache outside the cache folder: $CACHE" ;; esac
[ "$(du_bytes "$CACHE")" -lt $((2 * MiB)) ] || fail "the cache holds $(du_bytes "$CACHE") bytes"

info "the same restore again fetches no object"
rm -rf "$T/r-tiny"
run 0 restore --from-target nas "$TINY" --to "$T/r-tiny"
grep -q "^target nas: fetched 0 objects" "$T/out" || fail "a cached pack was fetched again"

info "a big restore through a 20 MiB cache"
run 0 restore --from-target nas "$BIG" --to "$T/r-big" --cache-size-mb 20
sums "$T/big" | cmp -s - <(sums "$T/r-big") || fail "the big snapshot restores differently"
packs=$(find "$CACHE/packs" -type f -printf '%s\n' | awk '{b += $1} END {print b + 0}')
[ "$packs" -le $((20 * MiB + 17 * MiB)) ] || fail "the cache holds $packs bytes of packs (limit 20 MiB)"

info "check --target --read-data reads every pack through a 20 MiB cache"
# the cache folder is watched while the check runs: a check that mirrored
# the whole target first (and trimmed it afterwards) goes far past the bound
"$CAIRN" --store "$STORE" check --target nas --read-data --cache-size-mb 20 --json \
    >"$T/chk.out" 2>"$T/chk.err" &
pid=$!
bg_track "$pid"
peak=0
while kill -0 "$pid" 2>/dev/null; do
    now=$(du_bytes "$CACHE/packs")
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.02
done
wait "$pid" || fail "check --target exited $?: $(cat "$T/chk.err")"
echo "   cache peak $peak bytes of packs"
[ "$peak" -le $((20 * MiB + 17 * MiB)) ] || fail "the cache held $peak bytes of packs during the check (limit 20 MiB)"
npacks=$(find "$REMOTE/packs" -type f | wc -l)
$PY -c '
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert s["type"] == "summary" and s["ok"] is True, s
assert s["packs"] == int(sys.argv[2]) and s["packs_damaged"] == 0, s
assert s["chunks_read"] > 0 and s["bytes_read"] > 60 << 20, s
' "$T/chk.out" "$npacks" || fail "check --json: $(cat "$T/chk.out")"
grep -q "^target nas: fetched [0-9]* objects" "$T/chk.err" || fail "no fetched line: $(cat "$T/chk.err")"

info "check --target --read-data reads what the target holds now, not the cached pack"
victim=$(find "$CACHE/packs" -type f | head -n 1)
[ -n "$victim" ] || fail "no pack in the cache to damage on the target"
rel=${victim#"$CACHE"/}
cp "$REMOTE/$rel" "$T/orig.pack"
chmod u+w "$REMOTE/$rel"
printf 'XXXX' | dd of="$REMOTE/$rel" bs=1 seek=100 conv=notrunc status=none
run 9 check --target nas --read-data --cache-size-mb 20
grep -q "damaged" "$T/out" || fail "the damage on the target was not reported"
cp "$T/orig.pack" "$REMOTE/$rel"
run 0 check --target nas --read-data --cache-size-mb 20

info "a copy killed mid-upload: the next copy removes its .part"
mkdir -p "$T/more"
for i in 1 2 3; do gen_random "$T/more/m$i.bin" $((16 * MiB)) "more$i"; done
run 0 backup "$T/more"
export CAIRN_SFTP_TIMEOUT=2
"$CAIRN" --store "$STORE" copy --target nas >"$T/int.out" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
    [ -n "$(find "$REMOTE/tmp" -name '*.part' -size +1M 2>/dev/null)" ] && break
    sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ -n "$(find "$REMOTE/tmp" -name '*.part')" ] || fail "the killed copy left no .part to test with"
run 0 copy --target nas
left=$(find "$REMOTE/tmp" -name '*.part')
[ -z "$left" ] || fail "the next copy left the stale upload: $left"

info "target remove deletes the local cache"
run 0 target remove nas
[ ! -e "$CACHE" ] || fail "target remove left the cache $CACHE"
[ ! -e "$CACHE.lock" ] || fail "target remove left $CACHE.lock"
[ -f "$REMOTE/config" ] || fail "target remove deleted the target's data"
info ok
