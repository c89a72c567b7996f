#!/bin/bash
# standin_idevicebackup2.sh - the device stand-in (tests/standin/standin.py)
# against Debian's real host, idevicebackup2 (libimobiledevice 1.3.0): a
# full backup of a generated phone arrives byte-identical, the next day's
# incremental backup sends only what changed and removes what is gone, a
# restore delivers the backup back to the device, a connection dropped in
# the middle of the upload makes idevicebackup2 fail while the stand-in
# lives on for the next session, and a per-file device error is reported
# and retried.
#
# The one file that may differ is Info.plist: the host writes it itself
# (the device never uploads it).  Of its keys only these are the host's own
# and so are not compared with the generator's Info.plist:
#   GUID              a random ID idevicebackup2 makes for each backup
#   Last Backup Date  the host's clock
#   iTunes Version    idevicebackup2 copies the device's MinITunesVersion
#   Applications      built from installation_proxy's Browse (the stand-in's
#                     made-up SINF/iTunesMetadata); the generator writes none
#   Product Name      idevicebackup2 1.3.0 does not write it (FIXME upstream)
# Every other key (names, product, iOS, serial, UDIDs, ICCID, IMEI, phone
# number, installed applications, iTunes files and settings) must be equal.
# Status.plist, Manifest.plist, Manifest.db and every content file must be
# byte-identical.
#
# usage: standin_idevicebackup2.sh CAIRN CAIRN-GEN   (cairn itself is unused)
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"
STANDIN=$(cd "$(dirname "$0")/../standin" && pwd)/standin.py
[ -f "$STANDIN" ] || fail "no $STANDIN"

if ! command -v idevicebackup2 >/dev/null 2>&1; then
    info "installing libimobiledevice-utils"
    export DEBIAN_FRONTEND=noninteractive
    apt_install() {
        apt-get install -y -q -o DPkg::Lock::Timeout=120 libimobiledevice-utils >>"$T/apt.log" 2>&1
    }
    apt_install || { apt-get update -q >>"$T/apt.log" 2>&1 && apt_install; }
    if ! command -v idevicebackup2 >/dev/null 2>&1; then
        echo "SKIP: idevicebackup2 is not installed and cannot be installed" >&2
        tail -3 "$T/apt.log" >&2
        exit 77
    fi
fi
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 7))' || fail "$PY is older than 3.7"

U=00008110-000A1B2C3D4E5F60
DEV=$T/dev
"$GEN" device "$DEV" --seed 21 --size-mb 4 --udid "$U" --name "Stand-in Test iPhone" >/dev/null ||
    fail "cairn-gen device"

# start_standin NAME ARGS...: a stand-in on $T/NAME.sock, logging to $T/NAME.log
start_standin() {
    local name=$1 _
    shift
    "$PY" "$STANDIN" --socket "$T/$name.sock" --serve "$DEV" --state "$T/pairing" \
        --log "$T/$name.log" "$@" 2>"$T/$name.err" &
    SPID=$!
    bg_track "$SPID"
    for _ in $(seq 100); do
        [ -S "$T/$name.sock" ] && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$T/$name.err" >&2
    fail "stand-in $name did not start"
}

# ib2 NAME ARGS...: idevicebackup2 against stand-in NAME; output in $T/out
# (progress bars dropped), exit code in $RC
ib2() {
    local name=$1
    shift
    USBMUXD_SOCKET_ADDRESS=UNIX:$T/$name.sock timeout 120 idevicebackup2 -u "$U" "$@" \
        </dev/null >"$T/out.raw" 2>&1
    RC=$?
    tr '\r' '\n' <"$T/out.raw" | grep -v '^\[' | grep -v '^ *$' >"$T/out"
}

# same_as_device DIR: DIR is the generated folder, Info.plist aside (see top)
same_as_device() {
    diff -r -x Info.plist "$1" "$DEV" >"$T/diff" 2>&1 ||
        { head -20 "$T/diff" >&2; fail "$1 differs from the device's content"; }
    "$PY" - "$1/Info.plist" "$DEV/Info.plist" <<'EOF' || fail "Info.plist of $1 does not describe the device"
import plistlib, sys
host, dev = (plistlib.load(open(p, 'rb')) for p in sys.argv[1:3])
own = {'GUID', 'Last Backup Date', 'iTunes Version', 'Applications', 'Product Name'}
bad = sorted(k for k in set(host) | set(dev) if k not in own and host.get(k) != dev.get(k))
if bad:
    sys.exit('Info.plist keys differ: %s' % ', '.join('%s (%r != %r)' % (k, host.get(k), dev.get(k)) for k in bad))
if sorted(host.get('Applications', {})) != sorted(dev['Installed Applications']):
    sys.exit('Info.plist Applications: %r' % sorted(host.get('Applications', {})))
EOF
}

# no_errors NAME: the stand-in logged no broken session and printed only its banner
no_errors() {
    if grep -q '^ *[0-9.]* #[0-9]* *error ' "$T/$1.log" || grep -qv '^standin: ' "$T/$1.err"; then
        cat "$T/$1.err" >&2
        grep '^ *[0-9.]* #[0-9]* *error ' "$T/$1.log" >&2
        fail "stand-in $1 reported errors"
    fi
}

start_standin main --restore-dir "$T/restored"
mkdir "$T/backup"

info "full backup of day 1"
ib2 main backup --full "$T/backup"
[ "$RC" = 0 ] || fail "idevicebackup2 backup --full exited $RC"
grep -q '^Backup Successful\.$' "$T/out" || fail "no 'Backup Successful.'"
grep -q '^Full backup mode\.$' "$T/out" || fail "not a full backup"
nfiles=$(find "$DEV" -type f ! -name Info.plist | wc -l)
# each file once, plus Status.plist twice (SnapshotState uploading, then finished)
grep -q "^Received $((nfiles + 1)) files from device\.$" "$T/out" ||
    fail "expected $((nfiles + 1)) files received: $(grep Received "$T/out")"
same_as_device "$T/backup/$U"

info "incremental backup of day 2"
"$GEN" mutate "$DEV" --seed 21 --day 2 --changes "$T/changes" >/dev/null || fail "cairn-gen mutate"
changed=$(grep -c '^[AM]' "$T/changes")
removed=$(grep -c '^D' "$T/changes")
if [ "$changed" = 0 ] || [ "$removed" = 0 ]; then
    fail "day 2 has no additions or no deletions"
fi
ib2 main backup "$T/backup"
[ "$RC" = 0 ] || fail "incremental idevicebackup2 backup exited $RC"
grep -q '^Incremental backup mode\.$' "$T/out" || fail "not an incremental backup"
grep -q '^Backup Successful\.$' "$T/out" || fail "no 'Backup Successful.'"
grep -q "backup session 2 done: $changed content file(s), [0-9]* bytes, $removed removal(s), 0 failed" "$T/main.log" ||
    fail "expected $changed uploads and $removed removals: $(grep 'session 2 done' "$T/main.log")"
# the changed files, Manifest.db and .plist, Status.plist twice
grep -q "^Received $((changed + 4)) files from device\.$" "$T/out" ||
    fail "expected $((changed + 4)) files received: $(grep Received "$T/out")"
same_as_device "$T/backup/$U"

info "restore of day 2 to the device"
ib2 main restore "$T/backup"
[ "$RC" = 0 ] || fail "idevicebackup2 restore exited $RC"
grep -q '^Restore Successful\.$' "$T/out" || fail "no 'Restore Successful.'"
diff -r "$T/restored/$U" "$T/backup/$U" >"$T/diff" 2>&1 ||
    { head -20 "$T/diff" >&2; fail "the device did not receive the backup as the host has it"; }
[ -s "$T/restored/afc/iTunesRestore/RestoreApplications.plist" ] ||
    fail "idevicebackup2 wrote no RestoreApplications.plist over AFC"
no_errors main

info "connection dropped after 1 MB of upload"
start_standin cut --disconnect-after 1000000
mkdir "$T/backup2"
ib2 cut backup "$T/backup2"
[ "$RC" != 0 ] || fail "idevicebackup2 succeeded although the device went away"
grep -q 'Could not receive from mobilebackup2' "$T/out" || fail "idevicebackup2 did not see the connection go"
grep -q '^Backup Successful\.$' "$T/out" && fail "a cut backup reported success"
"$PY" -c 'import plistlib, sys; sys.exit(plistlib.load(open(sys.argv[1], "rb"))["SnapshotState"] != "uploading")' \
    "$T/backup2/$U/Status.plist" || fail "the cut backup's Status.plist is not marked 'uploading'"
kill -0 "$SPID" 2>/dev/null || fail "the stand-in died with the connection"
ib2 cut backup "$T/backup2"
[ "$RC" = 0 ] || fail "the backup after the cut one exited $RC"
grep -q '^Backup Successful\.$' "$T/out" || fail "no 'Backup Successful.' after the cut one"
grep -q "full backup (host had SnapshotState 'uploading')" "$T/cut.log" ||
    fail "the backup after an unfinished one was not a full one"
same_as_device "$T/backup2/$U"
no_errors cut

info "a file the device cannot read"
FID=$(awk -F'\t' '$1 == "M" { printf "%s-%s", $2, $3; exit }' "$T/changes" | sha1sum | cut -c1-40)
[ -f "$DEV/${FID:0:2}/$FID" ] || fail "no content file for the faulty file"
start_standin bad --fail-file "$FID"
mkdir "$T/backup3"
ib2 bad backup "$T/backup3"
[ "$RC" = 0 ] || fail "a per-file error failed the whole backup ($RC)"
grep -q '^Received an error message from device: .*stand-in fault' "$T/out" ||
    fail "idevicebackup2 did not report the device's per-file error"
if [ ! -f "$T/backup3/$U/${FID:0:2}/$FID" ] || [ -s "$T/backup3/$U/${FID:0:2}/$FID" ]; then
    fail "the unreadable file is not the empty file idevicebackup2 leaves"
fi
ib2 bad backup "$T/backup3"
[ "$RC" = 0 ] || fail "the backup after the per-file error exited $RC"
grep -q "backup session 2 done: 1 content file(s)" "$T/bad.log" || fail "the failed file was not sent again"
same_as_device "$T/backup3/$U"
no_errors bad

info "ok"
