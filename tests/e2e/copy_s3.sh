#!/usr/bin/env bash
# copy_s3.sh - a copy target in S3-compatible object storage (the cloud),
# against a throwaway S3 server on 127.0.0.1 (tests/servers/s3.sh):
#   - a store with several snapshots copies to a bucket prefix;
#     check --target --read-data is clean, restore --from-target is
#     byte-identical (through the local cache), and the bucket holds the
#     store's objects (names and sizes as the server lists them; the MD5
#     ETag of every object put in one request is the store's file's);
#   - a second copy after one new backup sends exactly the new objects;
#   - the server paused (SIGSTOP) in the middle of a copy, twice: exit 14
#     with one line naming the target; the bucket is consistent (checks
#     clean, the new snapshot not visible); resumed, the next copy sends
#     exactly what the bucket lacks;
#   - a bucket over its quota (a full target): exit 11, one line naming it;
#   - status counts the bucket as another kind of media and, marked
#     --offsite, as the offsite copy;
#   - an append-only target in a bucket with Object Lock enabled (issue 19):
#     its objects are written with GOVERNANCE retention, and deleting a
#     locked object version fails even with the same credentials.
# The server (radosgw over an in-memory OSD) loses its objects when it
# stops, so "stopped, then started again" is played by pause and resume.
# Skipped (77) when the S3 server cannot be installed.
#   copy_s3.sh CAIRN CAIRN_GEN
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 cairn cairn-gen}
HERE=$(cd "$(dirname "$0")" && pwd)
SERVER=$HERE/../servers/s3.sh
export XDG_CACHE_HOME=$T/cache
# a paused server is given up on quickly: 3 s without progress, 2 attempts
export CAIRN_S3_STALL_SECS=3 CAIRN_S3_RETRIES=2
MiB=$((1024 * 1024))
START=$(date +%s)
[ -f "$SERVER" ] || { echo "SKIP: tests/servers/s3.sh is missing"; exit 77; }

cleanup_hook() {
    bash "$SERVER" resume "$T/s3" >/dev/null 2>&1
    bash "$SERVER" kill "$T/s3" >/dev/null 2>&1
}
assignments=$(bash "$SERVER" start "$T/s3")
rc=$?
[ "$rc" = 77 ] && { echo "SKIP: no S3 server"; exit 77; }
[ "$rc" = 0 ] || fail "tests/servers/s3.sh start exited $rc"
eval "$assignments"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
URL="s3://$S3_BUCKET/cairn/store?endpoint=$S3_ENDPOINT"

sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
objects() { (cd "$1" 2>/dev/null && find config keys packs snapshots chains -type f -printf '%p %s\n' 2>/dev/null | sort); }
missing() {
    join -a1 <(objects "$1") <(objects "$2") |
        awk 'NF == 2 || $2 != $3 {n++; b += $2} END {print n + 0, b + 0}'
}
json_field() {
    "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/out" "$1" ||
        fail "bad JSON or no $1 in: $(head -c 500 "$T/out")"
}
# what the bucket holds under the target's prefix, as objects() lists a
# folder ("NAME SIZE"), asked of the server itself (check --target reads a
# bucket through a bounded cache, no longer a mirror of it); bucket_md5
# "NAME MD5" for the objects put in one request (the ETag is their MD5)
bucket_json() {
    radosgw-admin -c "$T/s3/ceph.conf" bucket list --bucket="$S3_BUCKET" --max-entries=100000 2>/dev/null ||
        fail "radosgw-admin bucket list failed"
}
bucket_objects() {
    bucket_json | "$PY" -c '
import json, sys
for o in json.load(sys.stdin):
    n = o["name"]
    if n.startswith("cairn/store/") and not n.startswith("cairn/store/tmp/"):
        print(n[len("cairn/store/"):], o["meta"]["size"])' | sort
}
bucket_md5() {
    bucket_json | "$PY" -c '
import json, sys
for o in json.load(sys.stdin):
    n, e = o["name"], o["meta"]["etag"].strip(chr(34))
    if n.startswith("cairn/store/") and "-" not in e:
        print(n[len("cairn/store/"):], e)' | sort
}
# sets BUCKET to a file listing what the bucket holds now
refresh_mirror() {
    BUCKET=$T/bucket.list
    bucket_objects >"$BUCKET"
}
missing_in_bucket() {
    join -a1 <(objects "$STORE") "$BUCKET" |
        awk 'NF == 2 || $2 != $3 {n++; b += $2} END {print n + 0, b + 0}'
}
# interrupt ROUND: a copy of a big new backup (72 MiB in 5 packs), the
# server paused in its middle.  The bucket cannot be watched from outside,
# so the copy's own reads tell: it reads each pack twice (hash, then send),
# and after 48 MiB at least one pack has gone and others have not.
interrupt() {
    local what=$1 i pid rc k v read_bytes
    mkdir -p "$T/src/big-$what"
    for i in 1 2 3; do gen_random "$T/src/big-$what/b$i.bin" $((24 * MiB)) "$what$i"; done
    run 0 backup "$T/src"
    NEW=$(snap_id -1)
    "$CAIRN" --store "$STORE" copy --target cloud >"$T/int.out" 2>"$T/int.err" &
    pid=$!
    bg_track "$pid"
    read_bytes=0
    while kill -0 "$pid" 2>/dev/null && [ "$read_bytes" -lt $((48 * MiB)) ]; do
        while read -r k v; do [ "$k" = rchar: ] && read_bytes=$v; done <"/proc/$pid/io" 2>/dev/null
        sleep 0.02
    done
    kill -0 "$pid" 2>/dev/null || fail "the copy ended before the server could be paused"
    bash "$SERVER" pause "$T/s3" >/dev/null 2>&1 || fail "s3.sh pause failed"
    SECONDS=0
    wait "$pid"
    rc=$?
    bash "$SERVER" resume "$T/s3" >/dev/null 2>&1 || fail "s3.sh resume failed"
    echo "   copy exited $rc after $SECONDS s: $(cat "$T/int.err")"
    [ "$rc" = 14 ] || fail "copy with the server paused exited $rc, expected 14"
    [ "$(wc -l <"$T/int.err")" = 1 ] || fail "the error is not one line: $(cat "$T/int.err")"
    grep -q "target cloud" "$T/int.err" || fail "the error does not name the target"
    no_password_in "$T/int.out" "$T/int.err"
    grep -q -F -- "$AWS_SECRET_ACCESS_KEY" "$T/int.out" "$T/int.err" && fail "the S3 secret shows in a message"
    return 0
}
# after an interrupt: the bucket checks clean without the new snapshot, and
# the next copy sends exactly what the bucket lacks
resume() {
    refresh_mirror
    ! grep -q "^snapshots/$NEW " "$BUCKET" || fail "snapshot ${NEW:0:8} is visible before all its packs"
    run 0 check --target cloud
    read -r want_n want_b < <(missing_in_bucket)
    echo "   the bucket lacks $want_n objects, $want_b bytes"
    [ "$want_n" -ge 2 ] || fail "the pause came too late: only $want_n object missing"
    run 0 copy --target cloud --json
    [ "$(json_field '(j[0]["objects"], j[0]["bytes"])')" = "($want_n, $want_b)" ] ||
        fail "resumed copy sent $(json_field '(j[0]["objects"], j[0]["bytes"])'), expected ($want_n, $want_b)"
    refresh_mirror
    [ "$(objects "$STORE")" = "$(cat "$BUCKET")" ] || fail "the bucket differs from the store"
}

init_store
"$GEN" folder "$T/src" --seed 13 --size-mb 16 >/dev/null || fail "cairn-gen folder"
for day in 0 1 2; do
    [ "$day" = 0 ] || "$GEN" edit "$T/src" --seed "$day" >/dev/null || fail "cairn-gen edit"
    echo "day $day" >"$T/src/marker-$day.txt"
    sums "$T/src" >"$T/day$day.sums"
    run 0 backup "$T/src"
done

info "copy to the bucket"
run 0 target add cloud "$URL" --offsite
run 0 target list
grep -q "^cloud  *cloud  *yes " "$T/out" || fail "an s3 target is not cloud by default"
read -r want_n want_b < <(missing "$STORE" "$T/nothing")
T0=$(date +%s%N)
run_rc copy --target cloud
if [ "$RC" != 0 ] && grep -q "not built yet" "$T/err"; then
    echo "SKIP: this cairn has no S3 backend yet (store/backend/s3_backend.c is a placeholder)"
    exit 77
fi
[ "$RC" = 0 ] || fail "cairn copy --target cloud exited $RC, expected 0"
cat "$T/out"
echo "   $((($(date +%s%N) - T0) / 1000000)) ms"
grep -q "^target cloud: sent $want_n objects, $want_b bytes" "$T/out" ||
    fail "first copy should send $want_n objects, $want_b bytes"
run 0 status --json
[ "$(json_field '(j["copies"], j["media_kinds"], j["offsite_copies"])')" = "(2, ['disk', 'cloud'], 1)" ] ||
    fail "status: the cloud copy does not count: $(cat "$T/out")"

info "check --read-data and restore through the local mirror"
run 0 check --target cloud --read-data
grep -q "no errors were found" "$T/out" || fail "check --target cloud: no verdict"
refresh_mirror
[ "$(objects "$STORE")" = "$(cat "$BUCKET")" ] || fail "the bucket differs from the store"
bucket_md5 >"$T/bucket.md5"
[ -s "$T/bucket.md5" ] || fail "no object of the bucket has an MD5 ETag"
while read -r f md5; do
    [ "$(md5sum <"$STORE/$f" | cut -c1-32)" = "$md5" ] || fail "$f differs in the bucket"
done <"$T/bucket.md5"
for i in 0 2; do
    run 0 restore --from-target cloud "$(snap_id "$i")" --to "$T/r$i"
    sums "$T/r$i" | cmp -s - "$T/day$i.sums" || fail "snapshot $i restores differently from the bucket"
done
compare_trees "$T/src" "$T/r2"
rm -rf "$T/r0" "$T/r2"

info "a second copy after one new backup sends only the new objects"
"$GEN" edit "$T/src" --seed 3 >/dev/null || fail "cairn-gen edit"
objects "$STORE" >"$T/before"
run 0 backup "$T/src"
read -r new_n new_b < <(comm -13 "$T/before" <(objects "$STORE") | awk '{n++; b += $2} END {print n, b}')
SECONDS=0
run 0 copy --target cloud --json
[ "$(json_field '(j[0]["objects"], j[0]["bytes"])')" = "($new_n, $new_b)" ] ||
    fail "incremental copy sent $(json_field '(j[0]["objects"], j[0]["bytes"])'), the new objects are ($new_n, $new_b)"
echo "   incremental copy: $new_n objects, $new_b bytes"
run 0 restore --from-target cloud latest --to "$T/r3"
read -r got_n got_b < <(sed -n 's/^target cloud: fetched \([0-9]*\) objects, \([0-9]*\) bytes.*/\1 \2/p' "$T/out")
# only what the restore reads: of the new objects at most all, plus the trailers of the new packs
[ -n "$got_n" ] && [ "$got_n" -le "$new_n" ] && [ "$got_b" -le $((new_b + 65536)) ] ||
    fail "the cache fetched $got_n objects, $got_b bytes; the new objects are $new_n, $new_b bytes"
compare_trees "$T/src" "$T/r3"
rm -rf "$T/r3"


info "server paused in the middle of a copy, then resumed"
interrupt one
run 0 status
grep -q "last copy failed" "$T/out" || fail "status does not show the failed copy"
grep -q "behind: 1 missing" "$T/out" || fail "status does not show the bucket behind"
resume
info "...and once more"
interrupt two
resume
run 0 check --target cloud --read-data
run 0 restore --from-target cloud latest --to "$T/r4"
compare_trees "$T/src" "$T/r4"

info "a bucket over its quota: exit 11, one line naming the target"
run 0 target add quota "s3://$S3_QUOTA_BUCKET/cairn?endpoint=$S3_ENDPOINT"
run 11 copy --target quota
[ "$(wc -l <"$T/err")" = 1 ] || fail "the error is not one line"
grep -q "target quota" "$T/err" || fail "the error does not name the target: $(cat "$T/err")"
run 0 target remove quota

info "forget + prune: deletions reach the bucket"
run 0 forget --keep-last 1
run 0 prune --max-unused 0
run 0 copy --target cloud --allow-deletes
refresh_mirror
[ "$(objects "$STORE")" = "$(cat "$BUCKET")" ] || fail "the bucket differs from the pruned store"
run 0 status
grep -q "current" "$T/out" || fail "status: cloud is not current"
info "append-only, S3 Object Lock: a locked object version cannot be deleted"
s3c() {
    curl -sS -m 30 --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
LOCKED=cairn-locked
code=$(s3c -o "$T/mkb.out" -w '%{http_code}' -X PUT -H "x-amz-bucket-object-lock-enabled: true" \
    "$S3_ENDPOINT/$LOCKED") || fail "cannot create the Object Lock bucket"
[ "$code" = 200 ] || fail "creating a bucket with Object Lock: HTTP $code $(cat "$T/mkb.out")"
run 2 target add cloud0 "s3://$LOCKED/x?endpoint=$S3_ENDPOINT" --lock-mode GOVERNANCE
grep -q "need --append-only" "$T/err" || fail "--lock-mode without --append-only is not refused"
run 2 target add cloud0 "s3://$LOCKED/x?endpoint=$S3_ENDPOINT" --append-only --lock-mode SOMETIMES
run 0 target add vault "s3://$LOCKED/store?endpoint=$S3_ENDPOINT" --append-only \
    --lock-mode GOVERNANCE --lock-days 1
run 0 copy --target vault
# the object's version and its retention, as the server reports them
s3c -o "$T/versions.xml" "$S3_ENDPOINT/$LOCKED?prefix=store%2Fconfig&versions=" || fail "list versions"
VID=$("$PY" -c 'import re,sys; print(re.search(r"<VersionId>([^<]+)</VersionId>", open(sys.argv[1]).read()).group(1))' \
    "$T/versions.xml") || fail "no version of store/config: $(head -c 300 "$T/versions.xml")"
s3c -o "$T/retention.xml" "$S3_ENDPOINT/$LOCKED/store/config?retention=&versionId=$VID" ||
    fail "get retention"
grep -q "<Mode>GOVERNANCE</Mode>" "$T/retention.xml" ||
    fail "store/config has no GOVERNANCE retention: $(head -c 300 "$T/retention.xml")"
code=$(s3c -o "$T/del.out" -w '%{http_code}' -X DELETE "$S3_ENDPOINT/$LOCKED/store/config?versionId=$VID")
case $code in 2*) fail "a locked object version was deleted (HTTP $code)" ;; esac
grep -q "AccessDenied" "$T/del.out" || fail "deleting a locked version: HTTP $code $(head -c 300 "$T/del.out")"
code=$(s3c -o "$T/get.out" -w '%{http_code}' "$S3_ENDPOINT/$LOCKED/store/config?versionId=$VID")
[ "$code" = 200 ] && cmp -s "$T/get.out" "$STORE/config" || fail "the locked object does not read back"
# a second copy: everything is there, nothing is overwritten
run 0 copy --target vault --json
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1]))[0]; assert j["ok"] and j["objects"] == 0 and j["deleted"] == 0, j' \
    "$T/out" || fail "a second copy to the locked bucket sent or deleted something"

info "ok ($(($(date +%s) - START)) s)"
