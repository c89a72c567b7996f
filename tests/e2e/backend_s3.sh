#!/bin/bash
# tests/e2e/backend_s3.sh - the S3 backend against a real S3 server.
#
#   backend_s3.sh /path/to/test_backend_s3
#
# Starts Ceph's radosgw on 127.0.0.1 in a temporary folder
# (tests/servers/s3.sh), runs the test program with the server's
# assignments in its environment, and stops the server on exit, also when
# the test fails or is interrupted.  Around the program it checks what the
# backend interface cannot show: incomplete multipart uploads.  It starts
# one under stale/ and one under fresh/ before the run; afterwards the
# first put under stale/ (made with CAIRN_S3_STALE_SECS=0) and the copy
# killed under killed/ must have left none, and the one under fresh/ (an
# hour is the default age) must still be there.  Exit 77 (skip) when no
# server can be had.
set -u

BIN=${1:?usage: $0 /path/to/test_backend_s3}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
S3_SCRIPT=$HERE/../servers/s3.sh

T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-s3.XXXXXX") || exit 1
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    bash "$S3_SCRIPT" kill "$T/s3" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

assignments=$(bash "$S3_SCRIPT" start "$T/s3")
rc=$?
[ "$rc" = 77 ] && exit 77
[ "$rc" = 0 ] || {
    echo "FAIL: tests/servers/s3.sh start exited $rc" >&2
    exit 1
}
eval "$assignments"
export S3_ENDPOINT S3_ENDPOINT_VHOST S3_REGION S3_BUCKET S3_QUOTA_BUCKET
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY S3_PID S3_SCRIPT S3_DIR=$T/s3
unset AWS_SESSION_TOKEN CAIRN_S3_RETRIES CAIRN_S3_STALL_SECS CAIRN_S3_LIST_PAGE CAIRN_S3_STALE_SECS

# S3 requests of this script, signed by curl (the payload is not signed)
s3curl() {
    curl -sS -m 30 --aws-sigv4 "aws:amz:$S3_REGION:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
# The keys of the bucket's incomplete multipart uploads, one per line.
uploads() {
    s3curl "$S3_ENDPOINT/$S3_BUCKET?uploads=" | grep -o '<Key>[^<]*</Key>' |
        sed 's/<Key>\(.*\)<\/Key>/\1/'
}

for key in stale/packs/aa/left fresh/packs/aa/left; do
    s3curl -o /dev/null -X POST "$S3_ENDPOINT/$S3_BUCKET/$key?uploads=" || {
        echo "FAIL: cannot start a multipart upload of $key" >&2
        exit 1
    }
done
[ "$(uploads | sort | tr '\n' ' ')" = "fresh/packs/aa/left stale/packs/aa/left " ] || {
    echo "FAIL: the incomplete uploads did not start: $(uploads)" >&2
    exit 1
}

"$BIN"
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    echo "--- last lines of the radosgw log:" >&2
    tail -n 30 "$T/s3/log/client.rgw.log" >&2
    exit "$rc"
fi
[ "$rc" = 77 ] && exit 77

left=$(uploads | sort | tr '\n' ' ')
echo "incomplete uploads left: ${left:-none}"
case " $left" in
*" stale/"* | *" killed/"*) echo "FAIL: stale uploads were not aborted: $left" >&2 && exit 1 ;;
esac
case " $left" in
*" fresh/packs/aa/left "*) ;;
*) echo "FAIL: a fresh upload was aborted: $left" >&2 && exit 1 ;;
esac
echo "backend_s3: the incomplete uploads are as expected"
exit 0
