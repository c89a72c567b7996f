#!/bin/bash
# errors.sh - every documented failure gives its exit code and a useful
# message, never shows the password, and leaves the store sound:
#   4 wrong password, 5 no store, 6 unsupported version (named), 7 damaged
#   key file (a second good key file still opens), 8 store in use (readers
#   still work meanwhile), 10 bad source, 3 unreadable file (named, the
#   snapshot is marked partial), 2 usage, 13 init over an existing store.
# After each failing command 'check --read-data' exits 0 and the first
# snapshot restores exactly.  The password is never in stdout/stderr (lib
# 'run' checks every call) nor in the argv of a running cairn.
. "$(dirname "$0")/lib.sh" "$@"

MiB=$((1024 * 1024))
SRC=$T/src
mkdir -p "$SRC/docs"
gen_random "$SRC/photo.jpg" $((3 * MiB)) photo
gen_text "$SRC/docs/notes.txt" 200000
printf 'hello\n' >"$SRC/docs/hello.txt"
cp -a "$SRC" "$T/state1"
init_store
run 0 backup "$SRC"
ID1=$(snap_id 0)

# The store is whole and the first snapshot restores exactly.
still_sound() { # what
    run 0 check --read-data
    rm -rf "$T/sound"
    run 0 restore "$ID1" --to "$T/sound"
    compare_trees "$T/state1" "$T/sound"
    rm -rf "$T/sound"
    echo "   store still sound after: $1"
}

info "exit 4: wrong password (env and file), no password text in the output"
GOOD=$CAIRN_PASSWORD
WRONG="wrong-Kx7$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')-pass"
for cmd in snapshots backup; do
    arg=""
    [ "$cmd" = backup ] && arg=$SRC
    CAIRN_PASSWORD=$WRONG "$CAIRN" --store "$STORE" $cmd $arg >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" = 4 ] || fail "$cmd with a wrong password exited $rc, expected 4"
    grep -q -i password "$T/err" || fail "$cmd: wrong password message does not say 'password'"
    no_password_in "$T/out" "$T/err"
    grep -a -q -F -- "$WRONG" "$T/out" "$T/err" && fail "$cmd: the wrong password is echoed"
done
printf '%s\n' "$WRONG" >"$T/wrong.pw"
(unset CAIRN_PASSWORD && "$CAIRN" --store "$STORE" --password-file "$T/wrong.pw" snapshots) \
    >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 4 ] || fail "--password-file with a wrong password exited $rc, expected 4"
grep -a -q -F -- "$WRONG" "$T/out" "$T/err" && fail "the wrong password from the file is echoed"
printf '%s\n' "$GOOD" >"$T/good.pw"
chmod 600 "$T/good.pw" "$T/wrong.pw"
(unset CAIRN_PASSWORD && "$CAIRN" --store "$STORE" --password-file "$T/good.pw" snapshots) \
    >"$T/out" 2>"$T/err" || fail "--password-file with the right password exited $?"
no_password_in "$T/out" "$T/err"
still_sound "wrong password"

info "exit 2: no password at all (no terminal)"
(unset CAIRN_PASSWORD && setsid -w "$CAIRN" --store "$STORE" snapshots) </dev/null >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 2 ] || fail "no password and no terminal: exited $rc, expected 2"

info "exit 5: no store"
STORE=$T/nostore run 5 snapshots
STORE=$T/nostore run 5 backup "$SRC"
[ ! -e "$T/nostore" ] || fail "a failed command created $T/nostore"
mkdir "$T/emptydir"
STORE=$T/emptydir run 5 snapshots
STORE=$T/emptydir run 5 restore latest --to "$T/r-none"

info "exit 6: config version 99, named in the message"
cp "$STORE/config" "$T/config.orig"
printf '\x63\x00\x00\x00' | dd of="$STORE/config" bs=1 seek=8 conv=notrunc status=none
for cmd in snapshots "backup $SRC"; do
    run 6 $cmd
    grep -q '99' "$T/err" || fail "version error of '$cmd' does not name version 99: $(cat "$T/err")"
done
cp "$T/config.orig" "$STORE/config"
still_sound "unsupported version"

info "exit 7: damaged key file; a second, sound key file still opens"
KEY=$(find "$STORE/keys" -type f)
[ "$(echo "$KEY" | wc -l)" = 1 ] || fail "expected one key file, found: $KEY"
cp "$KEY" "$T/key.orig"
for off in 0 60 135; do # magic, sealed master key, checksum
    printf '\xff' | dd of="$KEY" bs=1 seek=$off conv=notrunc status=none
    cmp -s "$KEY" "$T/key.orig" && { printf '\x00' | dd of="$KEY" bs=1 seek=$off conv=notrunc status=none; }
    run 7 snapshots
    grep -q -F "$(basename "$KEY")" "$T/err" || fail "damaged key file (offset $off) is not named"
    cp "$T/key.orig" "$KEY"
done
# a second key file (another password), then damage each of the two in
# turn: the other one still opens the store
PW2="second-Qv4$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')-pass"
SECRETS+=("$PW2")
CAIRN_NEW_PASSWORD=$PW2 run 0 key add
KEY2=$(find "$STORE/keys" -type f ! -name "$(basename "$KEY")")
[ -n "$KEY2" ] && [ "$(echo "$KEY2" | wc -l)" = 1 ] || fail "key add made no second key file"
for damaged in "$KEY" "$KEY2"; do
    if [ "$damaged" = "$KEY" ]; then pw=$PW2; else pw=$GOOD; fi
    cp "$damaged" "$T/key.tmp"
    printf '\xff\xff\xff\xff' | dd of="$damaged" bs=1 seek=60 conv=notrunc status=none
    CAIRN_PASSWORD=$pw run 0 snapshots
    grep -q "1 snapshot(s)" "$T/out" || fail "store with one damaged key file of two does not list"
    CAIRN_PASSWORD=$pw run 0 restore "$ID1" --to "$T/r-key"
    compare_trees "$T/state1" "$T/r-key"
    rm -rf "$T/r-key"
    cp "$T/key.tmp" "$damaged"
done
run 0 key remove "$(basename "$KEY2")"
[ ! -e "$KEY2" ] || fail "key remove left $KEY2"
still_sound "damaged key file"

info "exit 8: store in use by another writer"
# 1) the lock held from the shell
flock --no-fork -x "$STORE/lock" sleep 30 & # no fork: killing $! frees the lock
fpid=$!
bg_track "$fpid"
for _ in $(seq 1 100); do flock -n "$STORE/lock" true 2>/dev/null || break; sleep 0.05; done
run 8 backup "$SRC"
grep -q 'in use' "$T/err" || fail "locked store: message does not say 'in use': $(cat "$T/err")"
run 8 index rebuild
run 0 snapshots
run 0 restore latest --to "$T/r-locked"
compare_trees "$T/state1" "$T/r-locked"
rm -rf "$T/r-locked"
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
# 2) a real backup, stopped (SIGSTOP) while it holds the lock
gen_random "$SRC/big.bin" $((24 * MiB)) big
cp -a "$SRC" "$T/state2"
"$CAIRN" --store "$STORE" --threads 1 backup "$SRC" >"$T/bg.out" 2>"$T/bg.err" &
bpid=$!
bg_track "$bpid"
# the writer puts its pid into the lock file once it holds the lock (a
# read-only poll: probing with flock could itself make cairn fail)
for _ in $(seq 1 400); do
    grep -q -x "$bpid" "$STORE/lock" 2>/dev/null && break
    kill -0 "$bpid" 2>/dev/null || break
    sleep 0.01
done
kill -STOP "$bpid" 2>/dev/null
grep -q -x "$bpid" "$STORE/lock" || fail "the background backup never took the lock (or finished first)"
# its argv shows no password
tr '\0' ' ' <"/proc/$bpid/cmdline" >"$T/argv"
no_password_in "$T/argv"
ps -eo args >"$T/ps"
no_password_in "$T/ps"
run 8 backup "$SRC"
grep -q 'in use' "$T/err" || fail "second backup: message does not say 'in use'"
grep -q "$bpid" "$T/err" || echo "   note: the message does not name the writer's pid $bpid"
run 0 snapshots
grep -q "1 snapshot(s)" "$T/out" || fail "snapshots during a backup does not list the old snapshot"
run 0 restore "$ID1" --to "$T/r-during"
compare_trees "$T/state1" "$T/r-during"
rm -rf "$T/r-during"
run 0 check
kill -CONT "$bpid"
wait "$bpid"
rc=$?
[ "$rc" = 0 ] || fail "the stopped backup exited $rc after SIGCONT: $(cat "$T/bg.err")"
no_password_in "$T/bg.out" "$T/bg.err"
run 0 restore latest --to "$T/r-after"
compare_trees "$T/state2" "$T/r-after"
rm -rf "$T/r-after" "$SRC/big.bin" "$T/state2"
still_sound "store in use"

info "exit 10: bad source"
run 10 backup "$T/does-not-exist"
run 10 backup "$SRC/photo.jpg" # a file, not a folder
still_sound "bad source"

info "exit 2: usage"
run 2 frobnicate
run 2 --no-such-option snapshots
run 2 backup
run 2 restore latest # no --to
run 2 --threads 0 backup "$SRC"
run 2 index
run 0 --help
still_sound "usage errors"

info "exit 13: init over an existing store or into a non-empty folder"
run 13 --kdf interactive init
mkdir "$T/nonempty" && printf 'x\n' >"$T/nonempty/file"
STORE=$T/nonempty run 13 --kdf interactive init
[ "$(ls -A "$T/nonempty")" = file ] || fail "init into a non-empty folder changed it"
still_sound "init over a store"

info "exit 3: unreadable file (as an unprivileged user), snapshot marked partial"
U=$T/user
mkdir -p "$U/src/sub"
chmod 755 "$T"
gen_text "$U/src/readable.txt" 50000
gen_random "$U/src/sub/data.bin" 300000 data
printf 'you cannot read me\n' >"$U/src/sub/secret-unreadable.txt"
touch -d '2003-03-03 03:03:03.333333333' "$U/src/sub/"* "$U/src/readable.txt" "$U/src/sub"
if [ "$(id -u)" = 0 ]; then
    chown -R 65534:65534 "$U"
    RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
chmod 000 "$U/src/sub/secret-unreadable.txt"
as_test_user cat "$U/src/sub/secret-unreadable.txt" >/dev/null 2>&1 &&
    fail "the test user can read a chmod 000 file"
# what a restore must give: everything but the unreadable file
cp -a "$U/src" "$T/expected"
rm -f "$T/expected/sub/secret-unreadable.txt"
touch -r "$U/src/sub" "$T/expected/sub"
SAVED_STORE=$STORE
STORE=$U/store
init_store
run 3 backup "$U/src"
grep -q "secret-unreadable.txt" "$T/err" || fail "the unreadable file is not named on stderr"
grep -q "partial" "$T/err" || fail "exit 3 without saying the snapshot is partial"
[ "$(snap_count)" = 1 ] || fail "a partial backup saved no snapshot"
[ "$(snap_json "s[0]['partial']")" = True ] || fail "snapshot not marked partial in --json"
[ "$(snap_json "s[0]['errors']")" = 1 ] || fail "snapshot errors is $(snap_json "s[0]['errors']"), expected 1"
run 0 snapshots
grep -q "(partial)" "$T/out" || fail "the snapshot table does not mark the snapshot partial"
run 0 check --read-data
run 0 restore latest --to "$U/restored"
compare_trees "$T/expected" "$U/restored"
# once readable again, the next backup reads it and is not partial
chmod 644 "$U/src/sub/secret-unreadable.txt"
run 0 backup "$U/src"
[ "$(snap_json "s[1]['partial']")" = False ] || fail "the next, complete backup is marked partial"
run 0 restore latest --to "$U/restored2"
compare_trees "$U/src" "$U/restored2"
RUN_AS=()
STORE=$SAVED_STORE
still_sound "partial backup elsewhere"
info "ok"
