#!/bin/bash
# shellcheck shell=bash
# tests/servers/s3.sh - a throwaway S3 server on 127.0.0.1 for tests: Ceph's
# RADOS Gateway (radosgw, Debian's package) over a one-monitor, one-OSD
# cluster whose OSD keeps its objects in memory (memstore).
#
#   s3.sh start DIR    installs what is missing, starts the cluster with its
#                      config, logs and monitor store in DIR, creates a user
#                      and two buckets and prints shell assignments to eval:
#                        S3_ENDPOINT        http://127.0.0.1:PORT (path style)
#                        S3_ENDPOINT_VHOST  http://localhost:PORT (virtual-host
#                                           style: radosgw's DNS name is
#                                           localhost and BUCKET.localhost
#                                           resolves to 127.0.0.1)
#                        S3_REGION          us-east-1
#                        S3_BUCKET          an empty bucket
#                        S3_QUOTA_BUCKET    a bucket with a 1 MiB quota (a full
#                                           target: QuotaExceeded)
#                        AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY (random)
#                        S3_PID             the radosgw process
#                        S3_PIDS            every process the script started
#   s3.sh stop DIR     stops them all (TERM, then KILL after 10 s)
#   s3.sh kill DIR     KILLs them all at once: the end of a test whose DIR
#                      is removed next (the objects live in the OSD's memory
#                      and nothing needs a clean shutdown; stop spends ~7 s
#                      on the OSD and the monitor saying goodbye)
#   s3.sh pause DIR    SIGSTOP to radosgw (a server that hangs), returns
#                      once all its threads are stopped
#   s3.sh resume DIR   SIGCONT
#
# Why radosgw: it is a real, widely deployed S3 implementation (SigV4,
# Content-MD5 checks, multipart uploads, ListObjectsV2, quotas) and Debian
# ships it, so a fresh Debian 12 gets it with apt-get alone.  Zenko
# CloudServer (@zenko/cloudserver, 8.0.0-beta, the only version on npm)
# cannot be installed from the npm registry: its dependencies (Arsenal,
# werelogs, vaultclient...) are git URLs on GitHub.
#
# The cluster runs without cephx (auth none, crc messenger mode), with pool
# size 1 and 8 PGs per pool, and without a manager: nothing that radosgw
# needs.  Every daemon reads only DIR/ceph.conf and writes only under DIR
# (the OSD's objects are in its memory), so nothing outside DIR changes and
# several servers can run at once.  Nothing listens on another address
# than 127.0.0.1.
#
# Progress goes to stderr; stdout carries only the assignments.  Exit 77
# when the packages are missing and cannot be installed (no network, or not
# root), so tests can skip; any other failure exits 1 with the log's tail.

set -u
set -o pipefail

PACKAGES=(ceph-mon ceph-osd radosgw curl uuid-runtime python3)
REGION=us-east-1
BUCKET=cairn-test
QUOTA_BUCKET=cairn-quota
# what apt-get says when it cannot reach the mirror
NO_NETWORK="Temporary failure resolving|Could not resolve|Failed to fetch|Unable to connect"
NO_NETWORK="$NO_NETWORK|Network is unreachable|Connection timed out"

say() { echo "s3.sh: $*" >&2; }
die() {
    say "$*"
    exit 1
}

usage() { die "usage: $0 start|stop|kill|pause|resume DIR"; }

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
mkdir -p "$dir" || die "cannot create $dir"
dir=$(cd "$dir" && pwd) || die "cannot enter $dir"
conf=$dir/ceph.conf

have_tools() {
    local t
    for t in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph curl uuidgen python3; do
        command -v "$t" >/dev/null || return 1
    done
}

install_if_missing() {
    have_tools && return 0
    say "installing ${PACKAGES[*]} (Debian packages)"
    local sudo_cmd=()
    if [ "$(id -u)" != 0 ]; then
        if ! sudo -n true 2>/dev/null; then
            say "SKIP: radosgw is not installed and only root can install it" \
                "(apt-get install ${PACKAGES[*]})"
            exit 77
        fi
        sudo_cmd=(sudo -n)
    fi
    local apt=("${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
    if ! "${apt[@]}" install -y -q --no-install-recommends "${PACKAGES[@]}" \
        >"$dir/apt.log" 2>&1; then
        # the package lists may be missing or stale in a fresh container
        "${apt[@]}" update -q >>"$dir/apt.log" 2>&1
        if ! "${apt[@]}" install -y -q --no-install-recommends "${PACKAGES[@]}" \
            >>"$dir/apt.log" 2>&1; then
            if grep -qE "$NO_NETWORK" "$dir/apt.log"; then
                say "SKIP: cannot install ${PACKAGES[*]}: no network; see $dir/apt.log"
                exit 77
            fi
            tail -n 20 "$dir/apt.log" >&2
            die "apt-get install ${PACKAGES[*]} failed; see $dir/apt.log"
        fi
    fi
    have_tools || die "installed ${PACKAGES[*]}, but a tool is still missing"
}

# A port nobody listens on now (the kernel's choice, so parallel runs differ).
# The system python: a pyenv shim first in PATH costs seconds on a busy machine.
free_port() {
    local py=python3
    [ -x /usr/bin/python3 ] && py=/usr/bin/python3
    "$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# The pids this script started in DIR, one per line (only live processes
# whose command line names DIR's config: a recycled pid is never signalled).
our_pids() {
    local f pid state
    for f in "$dir"/run/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null) || continue
        case $pid in '' | *[!0-9]*) continue ;; esac
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || continue
        [ "$state" = Z ] && continue
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$conf" || continue
        echo "$pid"
    done
}

# Sends TERM to the listed pids, and KILL to those still alive after 10 s.
stop_pids() {
    [ -n "$*" ] || return 0
    kill -TERM "$@" 2>/dev/null
    kill -CONT "$@" 2>/dev/null # a paused radosgw handles TERM once resumed
    local _ p left
    for _ in $(seq 1 100); do
        left=""
        for p in "$@"; do
            our_pids | grep -qx "$p" && left="$left $p"
        done
        [ -n "$left" ] || return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086 # a list of pids
    kill -KILL $left 2>/dev/null
    return 0
}

# The monitor last: an OSD that cannot tell it it is going waits 5 s.
stop_all() {
    local mon
    mon=$(cat "$dir/run/mon.a.pid" 2>/dev/null)
    # shellcheck disable=SC2046 # a list of pids
    stop_pids $(our_pids | grep -vx "${mon:-none}")
    # shellcheck disable=SC2046
    stop_pids $(our_pids)
}

# SIGKILL to every daemon of DIR, then waits until they are gone.
kill_all() {
    local pids _
    pids=$(our_pids)
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086 # a list of pids
    kill -KILL $pids 2>/dev/null
    for _ in $(seq 1 50); do
        [ -z "$(our_pids)" ] && return 0
        sleep 0.1
    done
    die "daemons of $dir survive SIGKILL: $(our_pids | tr '\n' ' ')"
}

# stopped: every thread of the pid in state T (a SIGSTOP is delivered to
# each thread as it next runs: on a busy machine radosgw answered a request
# after kill -STOP had returned)
all_stopped() {
    local f state
    for f in /proc/"$1"/task/*/stat; do
        state=$(sed 's/.*) //; s/ .*//' "$f" 2>/dev/null) || continue # after (comm)
        [ -z "$state" ] || [ "$state" = T ] || return 1
    done
    return 0
}

signal_rgw() {
    local pid
    pid=$(cat "$dir/run/client.rgw.pid" 2>/dev/null) || die "no radosgw in $dir"
    kill "-$1" "$pid" || die "cannot signal radosgw ($pid)"
    [ "$1" = STOP ] || return 0
    wait_for 300 all_stopped "$pid" || die "radosgw ($pid) did not stop in 30 s"
}

fail_start() {
    local f
    say "$*"
    for f in "$dir"/log/*.log "$dir"/log/*.out; do
        [ -s "$f" ] || continue
        echo "--- $f:" >&2
        tail -n 15 "$f" >&2
    done
    stop_all
    exit 1
}

# Waits up to $1 tenths of a second for the command in the rest of the
# arguments to succeed.
wait_for() {
    local n=$1 _
    shift
    for _ in $(seq 1 "$n"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

osd_up() { ceph -c "$conf" osd stat 2>/dev/null | grep -q " 1 up"; }

# S3 requests of this script, signed by curl (SigV4); the payload is not
# signed, which radosgw accepts.
s3curl() {
    curl -sS -m 30 --aws-sigv4 "aws:amz:$REGION:s3" --user "$ak:$sk" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

start() {
    install_if_missing
    stop_all
    rm -rf "$dir/mon" "$dir/osd0" "$dir/run" "$dir/log"
    mkdir -p "$dir/mon" "$dir/osd0" "$dir/run" "$dir/log" || die "cannot create $dir/*"

    local fsid osd_uuid mon_port rgw_port t0
    t0=$(date +%s%N)
    fsid=$(uuidgen) || die "uuidgen failed"
    osd_uuid=$(uuidgen) || die "uuidgen failed"
    mon_port=$(free_port) || die "cannot pick a free port"
    rgw_port=$(free_port) || die "cannot pick a free port"
    [ "$mon_port" != "$rgw_port" ] || rgw_port=$(free_port)
    ak=CAIRN$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
    sk=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')

    cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
# no cephx: a private test cluster; crc because "secure" needs cephx
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
client mount timeout = 30
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
keyring = /dev/null
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# the test disk may be fuller than a production monitor likes
mon data avail warn = 1
mon data avail crit = 0
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
# one OSD: map changes need no batching (the default waits up to 1 s each)
paxos propose interval = 0.05
paxos min wait = 0.01
[mon.a]
mon data = $dir/mon
[osd.0]
osd data = $dir/osd0
osd journal = $dir/osd0/journal
osd objectstore = memstore
memstore device bytes = 2147483648
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw dns name = localhost
rgw thread pool size = 32
EOF

    say "starting a Ceph monitor, an OSD and radosgw in $dir"
    monmaptool --create --clobber --fsid "$fsid" --addv a "v2:127.0.0.1:$mon_port" \
        "$dir/run/monmap" >"$dir/log/monmaptool.out" 2>&1 || fail_start "monmaptool failed"
    ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/run/monmap" >"$dir/log/mon-mkfs.out" 2>&1 ||
        fail_start "ceph-mon --mkfs failed"
    ceph-mon -c "$conf" -i a >"$dir/log/mon.out" 2>&1 || fail_start "ceph-mon failed"
    timeout 60 ceph -c "$conf" osd new "$osd_uuid" >"$dir/log/osd-new.out" 2>&1 ||
        fail_start "ceph osd new failed"
    ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.out" 2>&1 ||
        fail_start "ceph-osd --mkfs failed"
    ceph-osd -c "$conf" -i 0 >"$dir/log/osd.out" 2>&1 || fail_start "ceph-osd failed"
    wait_for 600 osd_up || fail_start "the OSD did not come up in 60 s"
    radosgw -c "$conf" -n client.rgw >"$dir/log/rgw.out" 2>&1 || fail_start "radosgw failed"
    wait_for 900 curl -s -m 2 -o /dev/null "http://127.0.0.1:$rgw_port/" ||
        fail_start "radosgw did not answer in 90 s"

    radosgw-admin -c "$conf" user create --uid=cairn --display-name=cairn \
        --access-key="$ak" --secret-key="$sk" >"$dir/log/user.out" 2>&1 ||
        fail_start "radosgw-admin user create failed"
    local b code
    for b in "$BUCKET" "$QUOTA_BUCKET"; do
        code=$(s3curl -o "$dir/log/bucket-$b.out" -w '%{http_code}' -X PUT \
            "http://127.0.0.1:$rgw_port/$b") || fail_start "cannot create bucket $b"
        [ "$code" = 200 ] || fail_start "creating bucket $b: HTTP $code"
    done
    radosgw-admin -c "$conf" quota set --quota-scope=bucket --bucket="$QUOTA_BUCKET" \
        --max-size=1048576 >"$dir/log/quota.out" 2>&1 ||
        fail_start "cannot set the quota of $QUOTA_BUCKET"
    radosgw-admin -c "$conf" quota enable --quota-scope=bucket --bucket="$QUOTA_BUCKET" \
        >>"$dir/log/quota.out" 2>&1 || fail_start "cannot enable the quota of $QUOTA_BUCKET"
    code=$(s3curl -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$rgw_port/$BUCKET?list-type=2") || fail_start "cannot list bucket $BUCKET"
    [ "$code" = 200 ] || fail_start "listing bucket $BUCKET: HTTP $code"
    say "ready in $((($(date +%s%N) - t0) / 1000000)) ms: S3 on 127.0.0.1:$rgw_port"

    local pids
    pids=$(our_pids | tr '\n' ' ')
    printf 'S3_ENDPOINT=%q\n' "http://127.0.0.1:$rgw_port"
    printf 'S3_ENDPOINT_VHOST=%q\n' "http://localhost:$rgw_port"
    printf 'S3_REGION=%q\n' "$REGION"
    printf 'S3_BUCKET=%q\n' "$BUCKET"
    printf 'S3_QUOTA_BUCKET=%q\n' "$QUOTA_BUCKET"
    printf 'AWS_ACCESS_KEY_ID=%q\n' "$ak"
    printf 'AWS_SECRET_ACCESS_KEY=%q\n' "$sk"
    printf 'S3_PID=%q\n' "$(cat "$dir/run/client.rgw.pid")"
    printf 'S3_PIDS=%q\n' "${pids% }"
}

case $cmd in
start) start ;;
stop) stop_all ;;
kill) kill_all ;;
pause) signal_rgw STOP ;;
resume) signal_rgw CONT ;;
*) usage ;;
esac
