#!/usr/bin/env bash
# copy_sftp.sh - a copy target on an SFTP server (a NAS), against a
# throwaway OpenSSH server on 127.0.0.1 (tests/servers/sshd.sh):
#   - a store with several snapshots copies to it; the server's folder holds
#     the store's objects byte for byte; check --target --read-data is clean
#     and restore --from-target is byte-identical (through the local mirror);
#   - a second copy after one new backup sends exactly the new objects, and
#     a restore of the newest snapshot fetches at most those (on demand);
#   - the server paused in the middle of a copy: exit 14 with one line
#     naming the target; the target is consistent (whole objects only, the
#     new snapshot not visible); resumed, the next copy sends exactly what
#     had not arrived whole;
#   - the server killed in the middle of a copy, then restarted: the same;
#   - status counts the NAS as a second kind of media.
# Skipped (77) when sshd cannot be installed.
#   copy_sftp.sh CAIRN CAIRN_GEN
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 cairn cairn-gen}
HERE=$(cd "$(dirname "$0")" && pwd)
SERVER=$HERE/../servers/sshd.sh
export XDG_CACHE_HOME=$T/cache
export CAIRN_SFTP_TIMEOUT=3 # a paused server is given up on quickly
unset CAIRN_SFTP_PASSWORD CAIRN_SFTP_KEY_PASSPHRASE
MiB=$((1024 * 1024))
START=$(date +%s)

cleanup_hook() { bash "$SERVER" stop "$T/sshd" >/dev/null 2>&1; }
assignments=$(bash "$SERVER" start "$T/sshd")
rc=$?
[ "$rc" = 77 ] && { echo "SKIP: no sshd"; exit 77; }
[ "$rc" = 0 ] || fail "tests/servers/sshd.sh start exited $rc"
eval "$assignments"
REMOTE=$T/remote # the server runs here: its folder can be inspected directly
URL="$SFTP_URL_BASE$REMOTE?key=$SFTP_KEY&known_hosts=$SFTP_KNOWN_HOSTS"

sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
objects() { (cd "$1" 2>/dev/null && find config keys packs snapshots chains -type f -printf '%p %s\n' 2>/dev/null | sort); }
# "COUNT BYTES" of the objects of folder $1 that folder $2 lacks
missing() {
    join -a1 <(objects "$1") <(objects "$2") |
        awk 'NF == 2 || $2 != $3 {n++; b += $2} END {print n + 0, b + 0}'
}
json_field() {
    "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/out" "$1" ||
        fail "bad JSON or no $1 in: $(head -c 500 "$T/out")"
}
# the target holds only whole objects of the store, and not snapshot $1
consistent() {
    local f
    while read -r f _; do
        cmp -s "$STORE/$f" "$REMOTE/$f" || fail "$f on the server is not the store's"
    done < <(objects "$REMOTE")
    [ ! -e "$REMOTE/snapshots/$1" ] || fail "snapshot ${1:0:8} is visible before all its packs"
}
# interrupt WHAT: a copy of a big new backup, stopped by "sshd.sh WHAT"
# once two new packs have arrived; the copy must exit 14.
interrupt() {
    local what=$1 i packs0 pid rc p
    mkdir -p "$T/src/big-$what"
    for i in 1 2 3; do gen_random "$T/src/big-$what/b$i.bin" $((24 * MiB)) "$what$i"; done
    run 0 backup "$T/src"
    NEW=$(snap_id -1)
    packs0=$(objects "$REMOTE" | grep -c '^packs/')
    "$CAIRN" --store "$STORE" copy --target nas >"$T/int.out" 2>"$T/int.err" &
    pid=$!
    bg_track "$pid"
    while kill -0 "$pid" 2>/dev/null; do
        shopt -s nullglob
        p=("$REMOTE"/packs/*/*)
        shopt -u nullglob
        [ "${#p[@]}" -ge $((packs0 + 2)) ] && break
        sleep 0.01
    done
    kill -0 "$pid" 2>/dev/null || fail "the copy ended before the server could be stopped"
    bash "$SERVER" "$what" "$T/sshd" >/dev/null 2>&1 || fail "sshd.sh $what failed"
    SECONDS=0
    wait "$pid"
    rc=$?
    echo "   copy exited $rc after $SECONDS s: $(cat "$T/int.err")"
    [ "$rc" = 14 ] || fail "copy with the server ${what}ed exited $rc, expected 14"
    [ "$(wc -l <"$T/int.err")" = 1 ] || fail "the error is not one line: $(cat "$T/int.err")"
    grep -q "target nas" "$T/int.err" || fail "the error does not name the target"
    no_password_in "$T/int.out" "$T/int.err"
}

init_store
"$GEN" folder "$T/src" --seed 11 --size-mb 16 >/dev/null || fail "cairn-gen folder"
for day in 0 1 2; do
    [ "$day" = 0 ] || "$GEN" edit "$T/src" --seed "$day" >/dev/null || fail "cairn-gen edit"
    echo "day $day" >"$T/src/marker-$day.txt"
    sums "$T/src" >"$T/day$day.sums"
    run 0 backup "$T/src"
done

info "copy to the NAS"
run 0 target add nas "$URL"
run 0 target list
grep -q "^nas  *nas " "$T/out" || fail "an sftp target is not a nas by default"
read -r want_n want_b < <(missing "$STORE" "$REMOTE")
SECONDS=0
run 0 copy --target nas
cat "$T/out"
echo "   $SECONDS s"
grep -q "^target nas: sent $want_n objects, $want_b bytes" "$T/out" ||
    fail "first copy should send $want_n objects, $want_b bytes"
[ "$(objects "$STORE")" = "$(objects "$REMOTE")" ] || fail "the server does not hold the store's objects"
while read -r f _; do
    cmp -s "$STORE/$f" "$REMOTE/$f" || fail "$f differs on the server"
done < <(objects "$STORE")
[ ! -e "$REMOTE/index" ] || fail "the index went to the server"
run 0 status --json
[ "$(json_field '(j["copies"], j["media_kinds"])')" = "(2, ['disk', 'nas'])" ] ||
    fail "status: the NAS copy does not count: $(cat "$T/out")"

info "check --read-data and restore through the local mirror"
run 0 check --target nas --read-data
grep -q "no errors were found" "$T/out" || fail "check --target nas: no verdict"
MIRROR=$(sed -n 's/.*its local cache \(.*\) holds.*/\1/p' "$T/out")
[ -d "$MIRROR" ] || fail "no cache folder reported"
case $MIRROR in "$XDG_CACHE_HOME"/cairn/targets/*) ;; *) fail "cache outside the cache folder: $MIRROR" ;; esac
for i in 0 2; do
    run 0 restore --from-target nas "$(snap_id "$i")" --to "$T/r$i"
    grep -q "fetched 0 objects" "$T/out" || fail "an up-to-date mirror fetched again"
    sums "$T/r$i" | cmp -s - "$T/day$i.sums" || fail "snapshot $i restores differently from the NAS"
done
compare_trees "$T/src" "$T/r2"
rm -rf "$T/r0" "$T/r2"

info "a second copy after one new backup sends only the new objects"
"$GEN" edit "$T/src" --seed 3 >/dev/null || fail "cairn-gen edit"
objects "$STORE" >"$T/before"
run 0 backup "$T/src"
read -r new_n new_b < <(comm -13 "$T/before" <(objects "$STORE") | awk '{n++; b += $2} END {print n, b}')
run 0 copy --target nas --json
[ "$(json_field '(j[0]["objects"], j[0]["bytes"])')" = "($new_n, $new_b)" ] ||
    fail "incremental copy sent $(json_field '(j[0]["objects"], j[0]["bytes"])'), the new objects are ($new_n, $new_b)"
echo "   incremental copy: $new_n objects, $new_b bytes"
run 0 restore --from-target nas latest --to "$T/r3"
read -r got_n got_b < <(sed -n 's/^target nas: fetched \([0-9]*\) objects, \([0-9]*\) bytes.*/\1 \2/p' "$T/out")
# only what the restore reads: of the new objects at most all, plus the trailers of the new packs
[ -n "$got_n" ] && [ "$got_n" -le "$new_n" ] && [ "$got_b" -le $((new_b + 65536)) ] ||
    fail "the cache fetched $got_n objects, $got_b bytes; the new objects are $new_n, $new_b bytes"
compare_trees "$T/src" "$T/r3"
rm -rf "$T/r3"

info "server paused in the middle of a copy"
interrupt pause
bash "$SERVER" resume "$T/sshd" >/dev/null 2>&1 || fail "sshd.sh resume"
consistent "$NEW"
read -r want_n want_b < <(missing "$STORE" "$REMOTE")
run 0 copy --target nas --json
[ "$(json_field '(j[0]["objects"], j[0]["bytes"])')" = "($want_n, $want_b)" ] ||
    fail "resumed copy sent $(json_field '(j[0]["objects"], j[0]["bytes"])'), expected ($want_n, $want_b)"
[ "$(objects "$STORE")" = "$(objects "$REMOTE")" ] || fail "the server differs from the store after resuming"

info "server killed in the middle of a copy, then restarted"
interrupt kill
run 0 status
grep -q "last copy failed" "$T/out" || fail "status does not show the failed copy"
bash "$SERVER" restart "$T/sshd" >/dev/null 2>&1 || fail "sshd.sh restart"
consistent "$NEW"
read -r want_n want_b < <(missing "$STORE" "$REMOTE")
run 0 copy --target nas --json
[ "$(json_field '(j[0]["objects"], j[0]["bytes"])')" = "($want_n, $want_b)" ] ||
    fail "resumed copy sent $(json_field '(j[0]["objects"], j[0]["bytes"])'), expected ($want_n, $want_b)"
[ "$(objects "$STORE")" = "$(objects "$REMOTE")" ] || fail "the server differs from the store after resuming"
run 0 check --target nas --read-data
run 0 restore --from-target nas latest --to "$T/r4"
compare_trees "$T/src" "$T/r4"

info "forget + prune: deletions reach the server"
run 0 forget --keep-last 1
run 0 prune --max-unused 0
run 0 copy --target nas --allow-deletes
[ "$(objects "$STORE")" = "$(objects "$REMOTE")" ] || fail "the server differs from the pruned store"
run 0 check --target nas
run 0 status
grep -q "current" "$T/out" || fail "status: nas is not current"
info "ok ($(($(date +%s) - START)) s)"
