# shellcheck shell=bash
# tests/e2e/lib.sh - shared helpers for the cairn end-to-end tests.
#
# Source it from a test script whose first argument is the cairn binary:
#     . "$(dirname "$0")/lib.sh" "$@"
#
# It provides:
#   $CAIRN         absolute path of the binary under test
#   $T             a private temporary folder, removed on exit (also on failure)
#   $STORE         $T/store (the store of run/run_rc/snap_json; may be changed)
#   $PY            the system python3 (fast start-up, json and sqlite3)
#   CAIRN_PASSWORD exported; a distinctive random string that every run
#                  checks against stdout/stderr (so do SECRETS=(...) entries)
#   RUN_AS=(...)   optional prefix for every cairn call (e.g. setpriv ...)
#   cleanup_hook   if a test defines this function, it runs before removal
#   fail MSG       prints FAIL and the last output, exits 1
#   info MSG       a progress line
#   run RC ARGS..  runs "$CAIRN --store $STORE ARGS..", stdout to $T/out,
#                  stderr to $T/err; fails unless the exit code is RC, or if
#                  a password shows up in either stream
#   run_rc ARGS..  the same, but only records the exit code in $RC
#   init_store     'init --kdf $STORE_KDF' of $STORE (minimum unless a test
#                  sets STORE_KDF first)
#   bg_track PID   kill PID on exit (background cairn runs)
#   standin_start ARGS..  the device stand-in on $T/mux.sock (USBMUXD_SOCKET_ADDRESS)
#   alarm_script          $T/alarm.sh: a command alarm sink, one line per alarm
#                         ("KIND DEVICE TITLE") appended to $T/alarms
#   gen_random F N SEED   N deterministic incompressible bytes into F
#   gen_text F N          N bytes of compressible text into F
#   tree_listing DIR      metadata listing (type mode size mtime link path)
#   compare_trees A B [--no-top]  contents (diff -r) and metadata of two trees
#   snap_json EXPR        a Python expression over s = 'snapshots --json'
#                         (cached until the next run/run_rc/snap_invalidate)
#   snap_count, snap_id IDX, files_read (the "N read" of the last backup)
#   interrupt_at RE FILE PID  SIGINT to PID once FILE has a line matching RE
#                  (the first progress event), then waits; its exit code in $RC
#   flip_byte FILE OFFSET  XORs the byte at OFFSET with a nonzero mask

set -u
set -o pipefail

CAIRN=${1:?usage: $0 /path/to/cairn}
case $CAIRN in /*) ;; *) CAIRN=$PWD/$CAIRN ;; esac
[ -x "$CAIRN" ] || { echo "FAIL: $CAIRN is not executable" >&2; exit 1; }

export LC_ALL=C TZ=UTC
unset CAIRN_STORE XDG_DATA_HOME

# the system python: a pyenv shim costs half a second per call
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi

T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-e2e.XXXXXX") || exit 1
STORE=$T/store
# Distinctive so a leak is unmistakable; random so tests never share one.
CAIRN_PASSWORD="pw-Zq8$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')-secret"
export CAIRN_PASSWORD
_BG_PIDS=""
# A command prefix for every cairn call of run/run_rc/snap_json, e.g.
# RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups).
RUN_AS=()

cleanup() {
    local p
    [ "$(type -t cleanup_hook)" = function ] && cleanup_hook
    for p in $_BG_PIDS; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    # files made read-only or 000 by a test must not stop the removal
    chmod -R u+rwX "$T" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Remembers a background pid so cleanup kills it if the test dies early.
bg_track() { _BG_PIDS="$_BG_PIDS $1"; }

# standin_start ARGS...: the device stand-in (tests/standin/standin.py ARGS)
# on $T/mux.sock, logging to $T/standin.log, killed on exit; waits for its
# socket and exports USBMUXD_SOCKET_ADDRESS; its pid in STANDIN_PID.
standin_start() {
    local _
    "$PY" "$(dirname "${BASH_SOURCE[0]}")/../standin/standin.py" --socket "$T/mux.sock" \
        --log "$T/standin.log" "$@" 2>"$T/standin.err" &
    STANDIN_PID=$!
    bg_track $STANDIN_PID
    for _ in $(seq 100); do
        [ -S "$T/mux.sock" ] && break
        sleep 0.1
    done
    [ -S "$T/mux.sock" ] || { cat "$T/standin.err" >&2; fail "the stand-in did not start"; }
    export USBMUXD_SOCKET_ADDRESS=UNIX:$T/mux.sock
}

alarm_script() {
    printf '#!/bin/sh\necho "$CAIRN_ALARM_KIND $CAIRN_ALARM_DEVICE $CAIRN_ALARM_TITLE" >>"%s"\n' \
        "$T/alarms" >"$T/alarm.sh"
    chmod +x "$T/alarm.sh"
}

interrupt_at() {
    local _
    for _ in $(seq 1 1000); do
        grep -q "$1" "$2" 2>/dev/null && break
        kill -0 "$3" 2>/dev/null || break
        sleep 0.01
    done
    kill -INT "$3" 2>/dev/null
    wait "$3"
    RC=$?
}

fail() {
    echo "FAIL: $*" >&2
    for f in "$T/out" "$T/err"; do
        if [ -s "$f" ]; then
            echo "--- last $(basename "$f"):" >&2
            head -c 4000 "$f" >&2
        fi
    done
    exit 1
}

info() { echo "== $*"; }

# Other passwords a test uses (e.g. a second key's); checked like
# CAIRN_PASSWORD.
SECRETS=()

# Fails if the password (or one of SECRETS) appears in any of the files.
no_password_in() {
    local f pw
    for f in "$@"; do
        [ -e "$f" ] || continue
        for pw in "$CAIRN_PASSWORD" "${SECRETS[@]}"; do
            if grep -a -q -F -- "$pw" "$f"; then
                fail "a password appears in $f"
            fi
        done
    done
}

# run EXPECTED_RC cairn-args...   (uses --store $STORE)
run() {
    local want=$1 rc
    shift
    rm -f "$T/json"
    "${RUN_AS[@]}" "$CAIRN" --store "$STORE" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    no_password_in "$T/out" "$T/err"
    if [ "$rc" != "$want" ]; then
        fail "cairn $* exited $rc, expected $want"
    fi
    return 0
}

# run_rc cairn-args... : like run, but only records the exit code in $RC
run_rc() {
    rm -f "$T/json"
    "${RUN_AS[@]}" "$CAIRN" --store "$STORE" "$@" >"$T/out" 2>"$T/err"
    # shellcheck disable=SC2034 # read by the caller
    RC=$?
    no_password_in "$T/out" "$T/err"
    return 0
}

# The Argon2id cost of init_store's key file: its floor, as every cairn call
# derives the key (0.1-0.3 s of CPU each at "interactive", a third of the
# suite's time); a test about the KDF's own cost sets STORE_KDF=interactive.
STORE_KDF=minimum
init_store() {
    run 0 --kdf "$STORE_KDF" init
    [ -f "$STORE/config" ] || fail "init made no $STORE/config"
}

# gen_random FILE BYTES SEED: deterministic incompressible bytes (AES-CTR
# keystream keyed by the seed).
gen_random() {
    local key
    key=$(printf '%s' "$3" | sha256sum | cut -c1-32)
    openssl enc -aes-128-ctr -K "$key" -iv 00000000000000000000000000000000 \
        -in /dev/zero 2>/dev/null | head -c "$2" >"$1"
    [ "$(stat -c %s "$1")" = "$2" ] || fail "gen_random $1 $2: short file"
}

# gen_text FILE BYTES: compressible text (numbered lines).
gen_text() {
    seq -f 'line %08g of some compressible text for cairn' 1 $(($2 / 40 + 1)) |
        head -c "$2" >"$1"
}

# as_test_user CMD...: runs CMD as the unprivileged user of RUN_AS.
as_test_user() { "${RUN_AS[@]}" "$@"; }

# tree_listing DIR: one line per path: type, mode, size, mtime (ns), symlink
# target, path relative to DIR.  Directory sizes are shown as "-": they
# depend on the file system's history of the folder, not on its contents,
# and no backup tool restores them.  NUL-separated for sort so names with
# newlines stay in one record.
tree_listing() {
    (cd "$1" && find . -printf '%y %m %s %T@ %l %P\0') |
        sed -z 's/^d \([0-7]*\) [0-9]* /d \1 - /' | sort -z | tr '\0' '\n'
}

# compare_trees A B [--no-top]: identical contents and metadata.
#   --no-top leaves out the line of the top folder itself (for restores
#   into an existing folder with --overwrite, where the folder's own mode
#   and mtime are the target's, not the source's).
compare_trees() {
    local a=$1 b=$2 mode=${3:-}
    tree_listing "$a" >"$T/list.a"
    tree_listing "$b" >"$T/list.b"
    if [ "$mode" = --no-top ]; then
        sed -i '/^d [0-7]* - [0-9.]*  $/d' "$T/list.a" "$T/list.b"
    fi
    if ! diff -u "$T/list.a" "$T/list.b" >"$T/list.diff"; then
        head -50 "$T/list.diff" >&2
        fail "metadata differs between $a and $b"
    fi
    if ! diff -r --no-dereference "$a" "$b" >"$T/content.diff" 2>&1; then
        head -20 "$T/content.diff" >&2
        fail "contents differ between $a and $b"
    fi
    [ -s "$T/list.a" ] || fail "empty listing of $a"
}

# snap_json EXPR: evaluates a Python expression over s = the parsed
# output of "cairn snapshots --json" (fails if it is not valid JSON).  The
# output is cached until the next run/run_rc (or snap_invalidate), since
# every cairn call pays for the password KDF.
snap_json() {
    if [ ! -s "$T/json" ]; then
        "${RUN_AS[@]}" "$CAIRN" --store "$STORE" snapshots --json >"$T/json" 2>"$T/json.err" ||
            fail "snapshots --json exited $?: $(cat "$T/json.err")"
        no_password_in "$T/json" "$T/json.err"
    fi
    "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert isinstance(s, list)
print(eval(sys.argv[2]))' "$T/json" "$1" || fail "snapshots --json: bad JSON or no $1"
}

snap_invalidate() { rm -f "$T/json"; }

# Number of snapshots in the store.
snap_count() { snap_json 'len(s)'; }

# Full ID of the IDX-th snapshot (oldest first; -1 = newest).
snap_id() { snap_json "s[$1]['id']"; }

# Value of a field of a backup's summary in $T/out, e.g. "read".
files_read() { sed -n 's/.*(\([0-9]*\) read, .*/\1/p' "$T/out"; }

# flip_byte FILE OFFSET: XORs the byte at OFFSET with a nonzero mask.
flip_byte() {
    "$PY" - "$1" "$2" <<'EOF' || fail "flip_byte $1 $2"
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, 'r+b') as f:
    f.seek(off)
    b = f.read(1)
    assert len(b) == 1, 'offset past the end'
    f.seek(off)
    f.write(bytes([b[0] ^ 0x5a]))
EOF
}
