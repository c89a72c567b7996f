#!/bin/bash
# tests/e2e/backend_sftp.sh - the SFTP backend against a real sshd.
#
#   backend_sftp.sh /path/to/test_backend_sftp
#
# Starts a throwaway OpenSSH server on 127.0.0.1 in a temporary folder
# (tests/servers/sshd.sh), runs the test program with the server's
# assignments in its environment, and stops the server on exit, also when
# the test fails or is interrupted.  When run as root it also mounts a small
# tmpfs for the disk-full test.  A second server, read-only (internal-sftp
# -R: every write is "permission denied", which root cannot otherwise meet),
# serves the refusal tests.  Exit 77 (skip) when no sshd can be had.
set -u

BIN=${1:?usage: $0 /path/to/test_backend_sftp}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
SSHD_SCRIPT=$HERE/../servers/sshd.sh

T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-sftp.XXXXXX") || exit 1
FULL=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    bash "$SSHD_SCRIPT" stop "$T/sshd" >/dev/null 2>&1
    bash "$SSHD_SCRIPT" stop "$T/sshd-ro" >/dev/null 2>&1
    [ -n "$FULL" ] && umount "$FULL" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

assignments=$(bash "$SSHD_SCRIPT" start "$T/sshd")
rc=$?
[ "$rc" = 77 ] && exit 77
[ "$rc" = 0 ] || {
    echo "FAIL: tests/servers/sshd.sh start exited $rc" >&2
    exit 1
}
eval "$assignments"
export SSHD_PORT SSHD_PID SFTP_USER SFTP_KEY SFTP_KNOWN_HOSTS SFTP_URL_BASE
export SSHD_SCRIPT SSHD_DIR=$T/sshd
unset CAIRN_SFTP_PASSWORD CAIRN_SFTP_KEY_PASSPHRASE CAIRN_SFTP_TIMEOUT

# the read-only server; without it those tests skip
if ro=$(SSHD_SFTP_FLAGS=-R bash "$SSHD_SCRIPT" start "$T/sshd-ro"); then
    SFTP_RO_URL_BASE=$(sed -n 's/^SFTP_URL_BASE=//p' <<<"$ro")
    export SFTP_RO_URL_BASE SFTP_RO_KEY=$T/sshd-ro/id_ed25519
    export SFTP_RO_KNOWN_HOSTS=$T/sshd-ro/known_hosts
fi

# 8 MiB of disk for the disk-full test; without mount rights it is skipped
if [ "$(id -u)" = 0 ] && mkdir "$T/full" &&
    mount -t tmpfs -o size=8m,mode=0700 cairn-test-full "$T/full" 2>/dev/null; then
    FULL=$T/full
    export SFTP_FULL_DIR=$FULL
fi

"$BIN"
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    echo "--- last lines of the server log:" >&2
    tail -n 30 "$T/sshd/sshd.log" >&2
fi
exit "$rc"
