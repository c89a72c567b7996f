#!/bin/bash
# mount.sh - cairn mount: a device snapshot from the generator and a folder
# snapshot read back through FUSE byte for byte (cmp of every file, with
# names, sizes, modes and mtimes), random-offset reads against the original
# bytes, eight concurrent readers, a stat storm over 10,000 files, sqlite3
# querying sms.db straight from the mount, the layout (latest, archived
# chains, a ciphertext snapshot's README), read-only, and unmounting:
# fusermount3 -u, and SIGTERM while a file is open.  Skipped (77) where
# this machine cannot mount FUSE.
#
# usage: mount.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"

skip() {
    echo "SKIP: $*"
    exit 77
}
[ -c /dev/fuse ] || skip "no /dev/fuse on this machine"
[ -r /dev/fuse ] && [ -w /dev/fuse ] || skip "/dev/fuse is not usable by $(id -un)"
command -v fusermount3 >/dev/null || skip "fusermount3 is not installed (Debian: fuse3)"

MNT=$T/mnt
MPID=""
mounted() { grep -q " $MNT fuse" /proc/mounts; }
cleanup_hook() {
    if mounted; then fusermount3 -u -z "$MNT" 2>/dev/null; fi
    [ -n "$MPID" ] && kill "$MPID" 2>/dev/null
}

# start_mount: cairn mount in the background until the mount is there
start_mount() {
    mkdir -p "$MNT"
    "$CAIRN" --store "$STORE" mount "$MNT" >"$T/mount.out" 2>"$T/mount.err" &
    MPID=$!
    bg_track "$MPID"
    for _ in $(seq 200); do
        grep -q "^mounted at" "$T/mount.out" && mounted && return 0
        if ! kill -0 "$MPID" 2>/dev/null; then
            wait "$MPID"
            grep -q "FUSE cannot mount here" "$T/mount.err" && skip "$(cat "$T/mount.err")"
            fail "cairn mount ended early: $(cat "$T/mount.err")"
        fi
        sleep 0.1
    done
    fail "cairn mount did not mount in 20 s"
}

# wait_gone: cairn mount ended with exit code 0 and the mount is gone
wait_gone() {
    local rc
    for _ in $(seq 200); do
        kill -0 "$MPID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$MPID" 2>/dev/null && fail "cairn mount still runs after $1"
    wait "$MPID"
    rc=$?
    [ "$rc" = 0 ] || fail "cairn mount exited $rc after $1: $(cat "$T/mount.err")"
    mounted && fail "still mounted after $1"
    MPID=""
}

info "a device snapshot, a folder snapshot, one of 10,000 small files, a ciphertext one"
"$GEN" device "$T/dev" --seed 17 --size-mb 3 --udid 00008120-00aa11bb22cc33dd >/dev/null ||
    fail "cairn-gen device"
"$GEN" folder "$T/fold" --seed 18 --size-mb 2 >/dev/null || fail "cairn-gen folder"
"$PY" - "$T/many" <<'PYEOF' || fail "cannot write the small files"
import os, sys
for d in range(100):
    p = os.path.join(sys.argv[1], "d%02d" % d)
    os.makedirs(p)
    for f in range(100):
        with open(os.path.join(p, "f%02d" % f), "w") as fp:
            fp.write("x" * ((d * 100 + f) % 97))
PYEOF
# one large file, so that reads cross many chunks
gen_random "$T/fold/large.bin" 4000000 5
init_store
run 0 backup "$T/dev"
DEV_ID=$(snap_id 0)
run 0 backup "$T/fold"
FOLD_ID=$(snap_id 1)
run 0 backup "$T/many"
MANY_ID=$(snap_id 2)
# the same device with backup encryption turned on, backed up without its
# password: stored as ciphertext; the unencrypted chain is archived
cp -a "$T/dev" "$T/dev-enc"
"$PY" - "$T/dev-enc/Manifest.plist" <<'PYEOF' || fail "cannot edit Manifest.plist"
import plistlib, sys
d = plistlib.load(open(sys.argv[1], 'rb'))
d['IsEncrypted'] = True
d['BackupKeyBag'] = b'VERS\x00\x00\x00\x04\x00\x00\x00\x05' + bytes(range(64))
plistlib.dump(d, open(sys.argv[1], 'wb'), fmt=plistlib.FMT_BINARY)
PYEOF
RUN_AS=(setsid -w)
run 0 backup "$T/dev-enc"
RUN_AS=()

info "errors: a missing folder; no such option"
run 12 mount "$T/nowhere"
grep -q "nowhere: not a folder" "$T/err" || fail "no one-line error for a missing folder"
run 2 mount

start_mount
DEV_NAME=$(ls "$MNT/devices")
[ "$(echo "$DEV_NAME" | wc -l)" = 1 ] || fail "expected one device folder, got: $DEV_NAME"
D=$MNT/devices/$DEV_NAME
FOLD=$MNT/snapshots/${FOLD_ID:0:8}

info "layout: latest, the archived chain, the ciphertext snapshot's README"
[ "$(ls "$MNT")" = "$(printf 'devices\nsnapshots')" ] || fail "top level: $(ls "$MNT")"
[ "$(ls "$MNT/snapshots")" = "$(printf '%s\n' "${FOLD_ID:0:8}" "${MANY_ID:0:8}" | sort)" ] ||
    fail "snapshots/: $(ls "$MNT/snapshots")"
[ -L "$D/latest" ] || fail "latest is not a symlink"
[ -f "$D/latest/README" ] || fail "the ciphertext snapshot has no README"
grep -q "ciphertext" "$D/latest/README" || fail "README does not say ciphertext"
[ "$(ls "$D/latest")" = README ] || fail "the ciphertext snapshot shows more than its README"
[ "$(ls "$D/archived")" = unencrypted ] || fail "archived/: $(ls "$D/archived")"
ARCH=$D/archived/unencrypted/$(ls "$D/archived/unencrypted")
[ -d "$ARCH/HomeDomain" ] || fail "the archived snapshot has no HomeDomain"

info "read-only"
touch "$FOLD/new" 2>/dev/null && fail "created a file in the mount"
echo x 2>/dev/null >>"$FOLD/large.bin" && fail "appended to a file in the mount"

info "a stat storm over 10,000 files"
"$PY" - "$T/many" "$MNT/snapshots/${MANY_ID:0:8}" <<'PYEOF' || fail "stat storm"
import os, sys
src, mnt = sys.argv[1], sys.argv[2]
n = 0
for d in sorted(os.listdir(mnt)):
    for f in os.listdir(os.path.join(mnt, d)):
        a, b = os.lstat(os.path.join(src, d, f)), os.lstat(os.path.join(mnt, d, f))
        if (a.st_size, a.st_mode, int(a.st_mtime)) != (b.st_size, b.st_mode, int(b.st_mtime)):
            sys.exit(f"{d}/{f}: stat differs")
        n += 1
if n != 10000:
    sys.exit(f"{n} files, not 10000")
PYEOF

info "the folder snapshot: every file cmp-equal, names, sizes, modes, mtimes the same"
compare_trees "$T/fold" "$FOLD" --no-top

info "the device snapshot: every file of Manifest.db cmp-equal, with its size, mode and mtime"
"$PY" - "$T/dev" "$ARCH" <<'PYEOF' || fail "device files differ"
import filecmp, os, plistlib, sqlite3, stat, sys
src, mnt = sys.argv[1], sys.argv[2]
db = sqlite3.connect(os.path.join(src, "Manifest.db"))
n = bad = 0
for fid, dom, rel, flags, blob in db.execute(
        "select fileID, domain, relativePath, flags, file from Files"):
    p = os.path.join(mnt, dom, rel)
    top = plistlib.loads(blob)['$objects'][1]
    st = os.lstat(p)
    if flags == 1:
        n += 1
        ok = (filecmp.cmp(os.path.join(src, fid[:2], fid), p, shallow=False)
              and st.st_size == top['Size'] and stat.S_ISREG(st.st_mode))
    elif flags == 2:
        ok = stat.S_ISDIR(st.st_mode)
    else:
        ok = stat.S_ISLNK(st.st_mode)
    ok = ok and stat.S_IMODE(st.st_mode) == top['Mode'] & 0o7777 and \
        int(st.st_mtime) == int(top['LastModified'])
    if not ok:
        bad += 1
        if bad <= 5:
            print("differs:", dom, rel)
# nothing else is in the mount: each path is an entry or a folder above one
names = {os.path.join(d, r) for d, r in db.execute("select domain, relativePath from Files")}
above = {os.path.dirname(x) for x in names}
while True:
    more = {os.path.dirname(x) for x in above if x} - above
    if not more:
        break
    above |= more
extra = [os.path.relpath(os.path.join(d, x), mnt) for d, ds, fs in os.walk(mnt) for x in ds + fs]
extra = [x for x in extra if x not in names and x not in above]
print(f"{n} files compared, {bad} differ; {len(extra)} paths not in Manifest.db {extra[:3]}")
sys.exit(1 if bad or extra or n < 50 else 0)
PYEOF

info "sqlite3 queries sms.db straight from the mount"
SMS=$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select fileID from Files where relativePath='Library/SMS/sms.db'\").fetchone()[0])" "$T/dev/Manifest.db")
want=$(sqlite3 "file:$T/dev/${SMS:0:2}/$SMS?mode=ro" "select count(*), max(rowid) from message") ||
    fail "sqlite3 cannot read the original sms.db"
got=$(sqlite3 "file:$ARCH/HomeDomain/Library/SMS/sms.db?mode=ro" "select count(*), max(rowid) from message") ||
    fail "sqlite3 cannot open sms.db in the mount"
[ "$got" = "$want" ] && [ -n "$got" ] || fail "sqlite3 from the mount: '$got', the original: '$want'"

# random-offset reads: N reads of a file, each compared with the original
cat >"$T/reader.py" <<'PYEOF'
import os, random, sys
orig, mnt, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
a, b = open(orig, 'rb').read(), os.open(mnt, os.O_RDONLY)
r = random.Random(seed)
for _ in range(n):
    off = r.randrange(len(a) + 100)
    ln = r.choice([1, 7, 4096, 65536, 1 << 20, r.randrange(1 << 20)])
    got = os.pread(b, ln, off)
    if got != a[off:off + ln]:
        sys.exit(f"{mnt}: {ln} bytes at {off} differ from the original")
os.close(b)
PYEOF
info "random-offset reads against the original bytes"
"$PY" "$T/reader.py" "$T/fold/large.bin" "$FOLD/large.bin" 300 1 || fail "random reads differ"

info "eight concurrent readers"
pids=()
for i in 1 2 3 4 5 6 7 8; do
    if [ $((i % 2)) = 0 ]; then f=large.bin; else f=$(cd "$T/fold" && find . -type f -size +100k | sed -n "${i}p"); fi
    [ -n "$f" ] || f=large.bin
    "$PY" "$T/reader.py" "$T/fold/$f" "$FOLD/$f" 60 "$i" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent reader saw wrong bytes"; done

info "fusermount3 -u unmounts; cairn mount ends with 0"
fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
wait_gone "fusermount3 -u"

info "SIGTERM while a file is open: a clean unmount"
start_mount
exec 3<"$FOLD/large.bin"
head -c 1000 <&3 >/dev/null || fail "cannot read the open file"
kill -TERM "$MPID"
wait_gone SIGTERM
# what the kernel cached may still read; the rest fails, and nothing hangs
timeout 20 cat <&3 >/dev/null 2>&1
[ $? = 124 ] && fail "reading the open file hangs after the unmount"
exec 3<&-
[ -z "$(ls -A "$MNT")" ] || fail "the mount point is not empty after the unmount"
grep -q "warning" "$T/mount.err" && fail "cairn mount warned: $(cat "$T/mount.err")"
echo "PASS"
