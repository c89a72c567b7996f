#!/bin/bash
# password_prompt.sh - passwords typed at the terminal (a pseudo-terminal
# driven by pty_answer.py) and the password sources' refusals:
#   - init asks twice without echo and creates the store that password
#     opens; two different answers ("the passwords do not match") or an
#     empty one (Ctrl-D: "empty password") are exit 2 and create nothing;
#   - a command on a store asks once: the right answer opens it, a wrong
#     one is exit 4;
#   - an encrypted device backup's optional password: an empty answer
#     stores the backup as the device wrote it, the password stores it
#     decrypted;
#   - a password file that is empty or cannot be read (a folder) and a
#     $CAIRN_PASSWORD over 4096 bytes are exit 2 with one line naming it,
#     before anything is created.
#
# usage: password_prompt.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
PTY=$(dirname "$0")/pty_answer.py

TYPED="typed-Zq8$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
BPW="bpw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
SECRETS=("$TYPED" "$BPW")

# on_tty RC ANSWER... -- CAIRN-ARGS...: cairn on a terminal that is typed the
# answers (never on argv), no $CAIRN_PASSWORD; stdout, stderr and what the
# terminal showed in $T/out, $T/err, $T/tty; fails unless the exit code is
# RC or if a password was echoed or printed
on_tty() {
    local want=$1 rc
    shift
    : >"$T/answers"
    while [ "$1" != -- ]; do
        printf '%s\n' "$1" >>"$T/answers"
        shift
    done
    shift
    env -u CAIRN_PASSWORD "$PY" "$PTY" "$T/answers" "$T/tty" "$T/out" "$T/err" -- \
        "$CAIRN" --store "$STORE" "$@"
    rc=$?
    no_password_in "$T/out" "$T/err" "$T/tty"
    [ "$rc" = "$want" ] || fail "cairn $* on a terminal exited $rc, expected $want: $(cat "$T/tty")"
}

# err_is LINE: stderr is exactly that one line
err_is() { printf '%s\n' "$1" | diff -u - "$T/err" || fail "stderr is not '$1'"; }

info "init on a terminal: asked twice, no echo, the store opens with it"
on_tty 0 "$TYPED" "$TYPED" -- --kdf minimum init
printf 'New store password: \r\nRepeat password: \r\n' | cmp -s - "$T/tty" ||
    fail "the terminal showed more than the two prompts: $(cat -A "$T/tty")"
[ -f "$STORE/config" ] || fail "init on a terminal made no store"
CAIRN_PASSWORD=$TYPED run 0 snapshots
grep -qx '0 snapshot(s)' "$T/out" || fail "the typed password does not open the store"
run 4 snapshots

info "init: different answers, or none, create nothing"
STORE=$T/s2 on_tty 2 "$TYPED" "$TYPED-x" -- --kdf minimum init
err_is "cairn: the passwords do not match"
[ ! -e "$T/s2" ] || fail "init with passwords that differ created $(ls -A "$T/s2")"
STORE=$T/s2 on_tty 2 '^D' -- --kdf minimum init
err_is "cairn: empty password"
[ ! -e "$T/s2" ] || fail "init with an empty password created $(ls -A "$T/s2")"

info "a store command asks once: the right password opens, a wrong one is exit 4"
on_tty 0 "$TYPED" -- snapshots
[ "$(cat "$T/tty")" = "$(printf 'Store password: \r')" ] || fail "the prompt: $(cat -A "$T/tty")"
grep -qx '0 snapshot(s)' "$T/out" || fail "snapshots after the prompt: $(cat "$T/out")"
on_tty 4 "$TYPED-x" -- snapshots
err_is "cairn: wrong password: no key file of this store opens with it"

info "an encrypted device backup: empty answer stores it as it is, the password decrypts"
"$GEN" device "$T/dev" --seed 72 --size-mb 1 --encrypt "$BPW" --kdf-iter 10 --kdf-dpic 100 \
    >/dev/null || fail "cairn-gen device --encrypt"
# the store's password from the environment, the backup's at the prompt
export CAIRN_PASSWORD=$TYPED
tty_backup() {
    local want=$1 answer=$2 rc
    printf '%s\n' "$answer" >"$T/answers"
    env -u CAIRN_BACKUP_PASSWORD "$PY" "$PTY" "$T/answers" "$T/tty" "$T/out" "$T/err" -- \
        "$CAIRN" --store "$STORE" backup "$T/dev"
    rc=$?
    no_password_in "$T/out" "$T/err" "$T/tty"
    [ "$rc" = "$want" ] || fail "backup on a terminal exited $rc, expected $want: $(cat "$T/err")"
}
tty_backup 0 ""
grep -q "^Backup password of .* (empty: store the backup encrypted as it is): " "$T/tty" ||
    fail "no prompt for the backup password: $(cat -A "$T/tty")"
grep -q "stored as the device wrote it" "$T/out" || fail "an empty answer: $(cat "$T/out")"
tty_backup 0 "$BPW"
grep -q "stored decrypted" "$T/out" || fail "the typed backup password: $(cat "$T/out")"
[ "$(snap_count)" = 2 ] || fail "expected the two snapshots"

info "password sources that give nothing are exit 2 and create nothing"
: >"$T/empty.pw"
chmod 600 "$T/empty.pw"
STORE=$T/s3 run 2 --password-file "$T/empty.pw" --kdf minimum init
err_is "cairn: $T/empty.pw: password file is empty"
printf '\n%s\n' "$CAIRN_PASSWORD" >"$T/first-line-empty.pw"
chmod 600 "$T/first-line-empty.pw"
STORE=$T/s3 run 2 --password-file "$T/first-line-empty.pw" --kdf minimum init
err_is "cairn: $T/first-line-empty.pw: password file is empty"
mkdir "$T/pw.d"
STORE=$T/s3 run 2 --password-file "$T/pw.d" --kdf minimum init
err_is "cairn: $T/pw.d: cannot read the password file: Is a directory"
run 2 --password-file "$T/pw.d" snapshots
err_is "cairn: $T/pw.d: cannot read the password file: Is a directory"
long=$(head -c 4097 /dev/zero | tr '\0' x)
STORE=$T/s3 CAIRN_PASSWORD=$long run 2 --kdf minimum init
err_is "cairn: CAIRN_PASSWORD: password too long"
[ ! -e "$T/s3" ] || fail "a refused password source created $(ls -A "$T/s3")"
# 4096 bytes is the limit, not over it
STORE=$T/s4 CAIRN_PASSWORD=${long:1} run 0 --kdf minimum init
STORE=$T/s4 CAIRN_PASSWORD=${long:1} run 0 snapshots
echo "PASS"
