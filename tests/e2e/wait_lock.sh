#!/bin/bash
# wait_lock.sh - --wait DURATION: a command that needs the store's writer
# lock while another cairn process holds it waits, with one line on stderr
# naming the holder's pid, instead of exiting 8 at once:
#   - a backup stopped (SIGSTOP) while it holds the lock: 'backup --wait 1s'
#     says it waits, then exits 8 after about a second naming the pid and
#     the wait; without --wait the exit is 8 at once, as before
#   - every command that takes the writer lock (backup, forget, prune, key
#     add/remove/passwd, chain archive/delete, index rebuild, repair) takes
#     --wait; 'backup --wait 30s' started while the lock is held finishes
#     (exit 0, its snapshot restores exactly) once the holder has finished
#   - copy --wait: while another cairn holds the target's lock, or a prune
#     deletes packs (the store's readers lock), it says what it waits for
#     and exits 8 after the wait, or copies once the holder has finished
#   - a bad DURATION is a usage error (exit 2) naming it, before any
#     password is asked; commands that take no lock do not take --wait
. "$(dirname "$0")/lib.sh" "$@"

MiB=$((1024 * 1024))
SRC=$T/src
mkdir -p "$SRC"
gen_random "$SRC/a.bin" $((1 * MiB)) a
printf 'hello\n' >"$SRC/hello.txt"
init_store
run 0 backup "$SRC"

# Holds the writer lock as a stopped cairn backup does: a real backup of
# a big file, stopped once its pid is in the lock file.
mkdir -p "$T/big"
gen_random "$T/big/big.bin" $((24 * MiB)) big
"$CAIRN" --store "$STORE" --threads 1 backup "$T/big" >"$T/bg.out" 2>"$T/bg.err" &
bpid=$!
bg_track "$bpid"
for _ in $(seq 1 400); do
    grep -q -x "$bpid" "$STORE/lock" 2>/dev/null && break
    kill -0 "$bpid" 2>/dev/null || break
    sleep 0.01
done
kill -STOP "$bpid" 2>/dev/null
grep -q -x "$bpid" "$STORE/lock" || fail "the background backup never took the lock (or finished first)"

info "without --wait: exit 8 at once"
# (no timing here: opening the key file alone can take seconds on a busy
# machine; one line and no waiting line say it did not wait)
run 8 backup "$SRC"
printf '%s\n' "cairn: $STORE: store is in use by another cairn process (pid $bpid); try again when it has finished" >"$T/want"
diff "$T/want" "$T/err" || fail "backup without --wait: stderr is not the one line"

info "--wait 1s: one line saying what it waits for, then exit 8"
start=$(date +%s.%N)
run 8 backup --wait 1s "$SRC"
took=$(echo "$(date +%s.%N) - $start" | bc)
[ "$(echo "$took >= 1.0 && $took < 60" | bc)" = 1 ] || fail "backup --wait 1s took ${took}s"
want1="cairn: $STORE is in use by another cairn process (pid $bpid); waiting up to 1s for it to finish"
want2="cairn: $STORE: store is still in use by another cairn process (pid $bpid) after waiting 1s"
printf '%s\n%s\n' "$want1" "$want2" >"$T/want"
diff "$T/want" "$T/err" || fail "backup --wait 1s: stderr is not the two expected lines"

info "every command that takes the writer lock takes --wait"
ID=$(snap_id 0)
for args in "forget --keep-last 5" "prune" "key add" "key passwd" "key remove nosuchkey" \
    "chain archive $(snap_json "s[0]['chain']")" "index rebuild" "repair" "backup $SRC"; do
    # shellcheck disable=SC2086 # words on purpose
    run 8 $args --wait 1
    grep -q -F "waiting up to 1 for it to finish" "$T/err" || fail "$args --wait 1: no waiting line: $(cat "$T/err")"
    grep -q -F "after waiting 1s" "$T/err" || fail "$args --wait 1: $(cat "$T/err")"
done
[ "$(snap_json 's[0]["id"]')" = "$ID" ] || fail "a waiting command changed the store"

info "bad durations are usage errors, asked before any password"
for bad in 5x 1h30 m -3 ""; do
    # no password anywhere: the duration is refused before one is asked for
    env -u CAIRN_PASSWORD "$CAIRN" --store "$STORE" backup --wait="$bad" "$SRC" \
        </dev/null >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" = 2 ] || fail "--wait '$bad' exited $rc: $(cat "$T/err")"
    grep -q -F -x "cairn: --wait $bad: not a duration (say 30s, 10m, 2h or 1h30m)" "$T/err" ||
        fail "--wait '$bad': $(cat "$T/err")"
done
run 2 backup --wait 9999h "$SRC"
grep -q 'longer than the most' "$T/err" || fail "--wait 9999h: $(cat "$T/err")"
run 2 snapshots --wait 1s
grep -q -F 'snapshots does not take --wait' "$T/err" || fail "snapshots --wait: $(cat "$T/err")"
run 2 key list --wait 1s
grep -q -F 'key list does not take --wait' "$T/err" || fail "key list --wait: $(cat "$T/err")"

info "--wait 1m30s: the backup runs once the holder has finished"
"$CAIRN" --store "$STORE" backup --wait 1m30s "$SRC" >"$T/w.out" 2>"$T/w.err" &
wpid=$!
bg_track "$wpid"
for _ in $(seq 1 200); do
    grep -q waiting "$T/w.err" && break
    sleep 0.05
done
grep -q -F -x "cairn: $STORE is in use by another cairn process (pid $bpid); waiting up to 1m30s for it to finish" "$T/w.err" ||
    fail "waiting backup: $(cat "$T/w.err")"
sleep 1
kill -0 "$wpid" 2>/dev/null || fail "the waiting backup ended while the lock was held: $(cat "$T/w.err")"
kill -CONT "$bpid"
wait "$bpid" || fail "the stopped backup failed after SIGCONT: $(cat "$T/bg.err")"
wait "$wpid" || fail "the waiting backup failed: $(cat "$T/w.err")"
[ "$(wc -l <"$T/w.err")" = 1 ] || fail "the waiting backup said more than the one line: $(cat "$T/w.err")"
no_password_in "$T/w.out" "$T/w.err"
run 0 snapshots
[ "$(snap_count)" = 3 ] || fail "expected 3 snapshots, got $(snap_count)"
run 0 restore latest --to "$T/r"
compare_trees "$SRC" "$T/r"
run 0 check --read-data

info "copy --wait: the target's lock (another copy) and the store's (a prune deleting packs)"
# the lock of a target is <cache>/cairn/targets/<BLAKE2b-128 of its URL>.lock,
# held here by flock(1) as another cairn's copy holds it
export XDG_CACHE_HOME=$T/cache
run 0 target add usb "$T/usb"
TLOCK=$XDG_CACHE_HOME/cairn/targets/$($PY -c 'import hashlib,sys; print(hashlib.blake2b(sys.argv[1].encode(), digest_size=16).hexdigest())' "$T/usb").lock
mkdir -p "$(dirname "$TLOCK")"
# hold FILE: one process holding an exclusive flock on FILE until killed
hold() { "$PY" -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
time.sleep(300)' "$1" & }
hold "$TLOCK"
hpid=$!
bg_track "$hpid"
for _ in $(seq 1 200); do flock -n -x "$TLOCK" true || break; sleep 0.02; done
run 8 copy --target usb
grep -q -F -x "cairn: target usb: $T/usb: another cairn is copying to or from this target; try again when it has finished" "$T/err" ||
    fail "copy without --wait: $(cat "$T/err")"
run 8 copy --target usb --wait 1s
printf '%s\n%s\n' "cairn: $T/usb: another cairn is copying to or from this target; waiting up to 1s for it to finish" \
    "cairn: target usb: $T/usb: another cairn is still copying to or from this target after waiting 1s" >"$T/want"
diff "$T/want" "$T/err" || fail "copy --wait 1s: stderr is not the two expected lines"
"$CAIRN" --store "$STORE" copy --target usb --wait 2m >"$T/c.out" 2>"$T/c.err" &
cpid=$!
bg_track "$cpid"
for _ in $(seq 1 600); do grep -q waiting "$T/c.err" && break; sleep 0.05; done
grep -q -F "waiting up to 2m" "$T/c.err" || fail "copy --wait 2m: no waiting line: $(cat "$T/c.err")"
kill "$hpid"
wait "$hpid" 2>/dev/null
wait "$cpid" || fail "the waiting copy failed: $(cat "$T/c.err")"
grep -q "^target usb: sent [1-9]" "$T/c.out" || fail "the waiting copy sent nothing: $(cat "$T/c.out")"
# a prune deleting packs holds lock.readers exclusively (and names itself in lock)
hold "$STORE/lock.readers"
hpid=$!
bg_track "$hpid"
for _ in $(seq 1 200); do flock -n -s "$STORE/lock.readers" true || break; sleep 0.02; done
run 8 copy --target usb --wait 1s
grep -q -F "waiting up to 1s for it to finish" "$T/err" || fail "copy --wait 1s under a prune: $(cat "$T/err")"
grep -q -F "is still deleting packs after waiting 1s" "$T/err" || fail "copy --wait 1s under a prune: $(cat "$T/err")"
kill "$hpid"
echo "PASS"
