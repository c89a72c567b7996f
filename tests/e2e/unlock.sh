#!/bin/bash
# unlock.sh - cairn unlock / lock: after unlock, commands open the store
# with no password source at all and without the Argon2id derivation (their
# peak RSS stays far below the KDF's 64 MiB, where a password run is above
# it); lock, and expiry (--for 2s), lock it again (exit 2: no password);
# another store's key, and a damaged or forged key under this store's name,
# are passed over for the password; the password appears nowhere (outputs,
# keyring payloads); a kernel that refuses keyrings gives exit 16.  Runs in a
# private session keyring (keyctl session) so that the user's keyring is
# never touched and parallel runs do not meet.
if [ -z "${CAIRN_UNLOCK_PRIVATE:-}" ]; then
    command -v keyctl >/dev/null || { echo "SKIP: keyctl (keyutils) is not installed"; exit 77; }
    keyctl show @s >/dev/null 2>&1 ||
        { echo "SKIP: the kernel refuses keyrings here (keyctl show @s failed)"; exit 77; }
    CAIRN_UNLOCK_PRIVATE=1 exec keyctl session - bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh" "$@"
exec </dev/null
[ -x /usr/bin/time ] || { echo "SKIP: /usr/bin/time is not installed"; exit 77; }

NOPW=(env -u CAIRN_PASSWORD)
KDF_KIB=$((64 * 1024)) # --kdf interactive: Argon2id's memory

# peak_kib ARGS..: runs cairn ARGS.. without a password source, exit 0
# required; its peak RSS (KiB) in $PEAK
peak_kib() {
    RUN_AS=("${NOPW[@]}" /usr/bin/time -f %M -o "$T/peak")
    run 0 "$@"
    RUN_AS=()
    PEAK=$(tail -n 1 "$T/peak")
}
# the key of the store at $1 in the session keyring: its serial ("" if none)
# (keyctl search needs the search permission, which the key does not grant)
key_of() { keyctl show @s | awk -v d="cairn:$1" '$NF == d { print $1; exit }'; }
store_id() { keyctl show @s | sed -n 's/.*user: cairn:\([0-9a-f]\{32\}\)$/\1/p' | head -n 1; }

mkdir -p "$T/src"
gen_text "$T/src/a.txt" 20000
gen_random "$T/src/b.bin" 30000 u
STORE_KDF=interactive # the RSS checks below tell a KDF run by its 64 MiB
init_store

info "a password run derives the key: its peak RSS is above the KDF's memory"
RUN_AS=(/usr/bin/time -f %M -o "$T/peak")
run 0 backup "$T/src"
RUN_AS=()
# the runs below are told from it by at least half the KDF's memory, and
# without a sanitizer also stay under half of it in all (a sanitizer's own
# memory, 34 MiB under ASan on one host, leaves only the relative bound)
base=$(tail -n 1 "$T/peak")
below=$((KDF_KIB / 2))
# grep reads all of ldd's output (-q would stop at the first match, and under
# pipefail ldd's SIGPIPE then failed the pipeline now and then)
ldd "$CAIRN" 2>/dev/null | grep -e libasan -e libubsan -e libtsan >/dev/null && below=$base
unlocked_peak_ok() { [ "$PEAK" -lt $((base - KDF_KIB / 2)) ] && [ "$PEAK" -lt "$below" ]; }
[ "$base" -gt "$KDF_KIB" ] || fail "a password run peaked at $base KiB, not above $KDF_KIB KiB"

info "locked: no password, no session -> exit 2"
run 0 unlock --status
[ "$(cat "$T/out")" = locked ] || fail "unlock --status of a locked store: $(cat "$T/out")"
RUN_AS=("${NOPW[@]}")
run 2 snapshots
RUN_AS=()

info "wrong password: exit 4, nothing in the keyring"
printf 'not-the-password\n' >"$T/wrong"
chmod 600 "$T/wrong"
RUN_AS=("${NOPW[@]}")
run 4 unlock --keyring session --password-file "$T/wrong"
RUN_AS=()
[ -z "$(store_id)" ] || fail "a wrong password left a key in the keyring"

info "bad --for / --keyring: exit 2"
run 2 unlock --keyring session --for 25h
run 2 unlock --keyring session --for 0
run 2 unlock --keyring session --for soon
run 2 unlock --keyring nowhere

info "unlock, then commands with no password source and no KDF"
run 0 unlock --keyring session --for 10m
grep -q '^unlocked until ' "$T/out" || fail "unlock said: $(cat "$T/out")"
ID=$(store_id)
[ -n "$ID" ] || fail "no cairn: key in the session keyring after unlock"
key=$(key_of "$ID")
perm=$(keyctl rdescribe "$key" | cut -d';' -f4)
[ "$perm" = 03030000 ] || fail "the key's permissions are $perm, not possessor+user view/read"
keyctl print "$key" >"$T/payload.hex" || fail "the key cannot be read"
no_password_in "$T/payload.hex"
keyctl pipe "$key" >"$T/payload" || fail "the key cannot be piped"
[ "$(stat -c %s "$T/payload")" = 40 ] || fail "the payload is not 40 bytes"
no_password_in "$T/payload"
run 0 unlock --status
grep -q '^unlocked until ' "$T/out" || fail "unlock --status after unlock: $(cat "$T/out")"
peak_kib snapshots
grep -q '1 snapshot' "$T/out" || fail "snapshots without a password listed: $(cat "$T/out")"
unlocked_peak_ok ||
    fail "an unlocked snapshots peaked at $PEAK KiB against the password run's $base: the KDF ($KDF_KIB KiB) ran"
echo "more" >>"$T/src/a.txt"
peak_kib backup "$T/src"
unlocked_peak_ok ||
    fail "an unlocked backup peaked at $PEAK KiB against the password run's $base KiB"
RUN_AS=("${NOPW[@]}")
run 0 check
RUN_AS=()
[ "$(snap_json 'len(s)')" = 2 ] || fail "the unlocked backup made no snapshot"

info "key commands always ask for the password"
RUN_AS=("${NOPW[@]}")
run 2 key list
RUN_AS=()

info "another store's key is passed over"
STORE1=$STORE
STORE=$T/store2
OTHER="pw-other-$RANDOM-$RANDOM-x"
SECRETS=("$OTHER")
printf '%s\n' "$OTHER" >"$T/other"
chmod 600 "$T/other"
RUN_AS=("${NOPW[@]}")
run 0 --kdf interactive init --password-file "$T/other"
run 2 snapshots
run 0 unlock --keyring session --password-file "$T/other"
ID2=$(keyctl show @s | sed -n 's/.*user: cairn:\([0-9a-f]\{32\}\)$/\1/p' | grep -v "$ID")
[ -n "$ID2" ] && [ "$ID2" != "$ID" ] || fail "the second store's key is not in the keyring"
run 0 snapshots
run 0 lock
[ -z "$(key_of "$ID2")" ] || fail "lock left the second store's key"
[ -n "$(key_of "$ID")" ] || fail "locking the second store removed the first one's key"
# the first store's master key under the second store's name opens nothing
keyctl padd user "cairn:$ID2" @s <"$T/payload" >/dev/null || fail "cannot add the forged key"
run 2 snapshots
run 0 unlock --status
[ "$(cat "$T/out")" = locked ] || fail "a forged key made the second store unlocked"
STORE=$STORE1
run 0 snapshots
RUN_AS=()

info "a damaged key under this store's name falls back to the password"
keyctl unlink "$key" @s >/dev/null || fail "cannot unlink the key"
head -c 40 /dev/urandom | keyctl padd user "cairn:$ID" @s >/dev/null || fail "cannot add"
RUN_AS=("${NOPW[@]}")
run 2 snapshots
RUN_AS=()
run 0 snapshots
keyctl unlink "$(key_of "$ID")" @s >/dev/null
head -c 32 "$T/payload" | keyctl padd user "cairn:$ID" @s >/dev/null || fail "cannot add"
RUN_AS=("${NOPW[@]}")
run 2 snapshots
RUN_AS=()
# unlock replaces whatever key has this store's name
run 0 unlock --keyring session
RUN_AS=("${NOPW[@]}")
run 0 snapshots
RUN_AS=()
[ "$(keyctl show @s | grep -c "cairn:$ID")" = 1 ] || fail "unlock left two keys of the store"

info "lock: the next command needs the password again (exit 2); lock twice is fine"
run 0 lock
[ "$(cat "$T/out")" = locked ] || fail "lock said: $(cat "$T/out")"
RUN_AS=("${NOPW[@]}")
run 2 snapshots
grep -q 'no password given' "$T/err" || fail "the locked store's error: $(cat "$T/err")"
RUN_AS=()
run 0 lock
run 0 unlock --status
[ "$(cat "$T/out")" = locked ] || fail "unlock --status after lock: $(cat "$T/out")"

info "expiry: --for 2s, then (after 3 s) locked again"
run 0 unlock --keyring session --for 2s
sleep 3
RUN_AS=("${NOPW[@]}")
run 2 snapshots
RUN_AS=()
run 0 unlock --status
[ "$(cat "$T/out")" = locked ] || fail "an expired session still shows: $(cat "$T/out")"

info "the password is nowhere in the store or the test's files"
grep -r -a -l -F -e "$CAIRN_PASSWORD" "$T" --exclude=other --exclude=wrong 2>/dev/null |
    grep -v '^$' && fail "the password appears in a file above"

if command -v strace >/dev/null && strace -f -o /dev/null true 2>/dev/null; then
    info "a kernel that refuses keyrings: exit 16, one line"
    # (LeakSanitizer cannot run under ptrace: off for this one run of an ASan build)
    RUN_AS=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
        strace -f -o /dev/null -e trace=add_key -e inject=add_key:error=ENOSYS)
    run 16 unlock --keyring session
    RUN_AS=()
    [ "$(wc -l <"$T/err")" = 1 ] || fail "more than one line: $(cat "$T/err")"
    grep -q 'the kernel refuses keyrings here' "$T/err" || fail "message: $(cat "$T/err")"
    run 0 unlock --status
    [ "$(cat "$T/out")" = locked ] || fail "a refused unlock shows: $(cat "$T/out")"
else
    info "(strace cannot trace here: the refused-keyring path is not exercised)"
fi
echo "PASS"
