#!/bin/bash
# device.sh - MobileSync backups of three phones and one plain folder in one
# store: one chain per device (plus a path chain), snapshots/chains/info show
# the device details, ls lists exactly the Manifest.db rows, extract gives the
# exact bytes, every snapshot restores byte-identical to its source, and the
# next day's backup joins its device's chain and reads only the changed files.
#
# usage: device.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"

# The three phones: key|seed|UDID|name|product|iOS
DEVICES="
a|11|00008110-000A1B2C3D4E5F60|Alice iPhone|iPhone15,2|17.5
b|22|00008101-0019283746ABCDEF|Bob iPad|iPad13,1|16.6
c|33|3F2A9C1E5B7D4A6F8E0C1B2A3D4E5F6A7B8C9D0E|Carol Phone|iPhone10,3|15.7
"

# content_path DIR DOMAIN PATH: where a backup keeps a file's bytes.
content_path() {
    local id
    id=$(printf '%s-%s' "$2" "$3" | sha1sum | cut -c1-40)
    echo "$1/${id:0:2}/$id"
}

# ls_paths: the DOMAIN/PATH column of "cairn ls" output in $T/out.
ls_paths() {
    sed -E 's/^[-dl] [0-7]{6} +[0-9]+  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}  //; s/ -> .*$//' "$T/out"
}

init_store
declare -A SNAP DIR

info "generate and back up three devices"
while IFS='|' read -r key seed udid name product ios; do
    [ -n "$key" ] || continue
    d=$T/dev-$key
    "$GEN" device "$d" --seed "$seed" --size-mb 24 --udid "$udid" --name "$name" \
        --product "$product" --ios "$ios" >/dev/null || fail "cairn-gen device $key"
    DIR[$key]=$d
    run 0 --threads 2 backup "$d"
    grep -qF "device backup: $name ($product, iOS $ios), UDID $udid" "$T/out" ||
        fail "backup of $key does not announce the device"
    nfiles=$(find "$d" -type f | wc -l)
    [ "$(files_read)" = "$nfiles" ] || fail "first backup of $key read $(files_read) of $nfiles files"
    SNAP[$key]=$(sed -n 's/^snapshot \([0-9a-f]*\) saved.*/\1/p' "$T/out")
    [ -n "${SNAP[$key]}" ] || fail "no snapshot ID in the backup output of $key"
    grep -q "(parent" "$T/out" && fail "first backup of $key has a parent"
done <<<"$DEVICES"

info "plus one plain folder"
"$GEN" folder "$T/folder" --size-mb 4 >/dev/null || fail "cairn-gen folder"
run 0 --threads 2 backup "$T/folder"
grep -q "device backup" "$T/out" && fail "the plain folder was taken for a device backup"
SNAP[folder]=$(sed -n 's/^snapshot \([0-9a-f]*\) saved.*/\1/p' "$T/out")
[ "$(snap_count)" = 4 ] || fail "expected 4 snapshots, got $(snap_count)"

info "chains: three device chains and one path chain"
run 0 chains
[ "$(grep -c '^active .* device:[^ ]*/unencrypted$' "$T/out")" = 3 ] || fail "chains does not show 3 active device chains"
[ "$(grep -c '^active .* path:' "$T/out")" = 1 ] || fail "chains does not show 1 path chain"
[ "$(wc -l <"$T/out")" = 5 ] || fail "chains shows more than a header and 4 chains"
grep -qE "^active .* 1 .* - +path:$T/folder$" "$T/out" || fail "the path chain is not the folder's"
while IFS='|' read -r key seed udid name product ios; do
    [ -n "$key" ] || continue
    grep -qE "^active +[0-9-]+ [0-9:]+ +[0-9-]+ [0-9:]+ +1 .*  $name \($product\) +device:$udid/unencrypted$" "$T/out" ||
        fail "chains has no line for device:$udid with 1 snapshot and '$name ($product)'"
done <<<"$DEVICES"
[ "$(snap_json "sorted(x['chain'] for x in s)")" = \
  "$(snap_json "sorted(['device:00008110-000A1B2C3D4E5F60/unencrypted', 'device:00008101-0019283746ABCDEF/unencrypted', 'device:3F2A9C1E5B7D4A6F8E0C1B2A3D4E5F6A7B8C9D0E/unencrypted', 'path:$T/folder'])")" ] ||
    fail "snapshots --json chains: $(snap_json "[x['chain'] for x in s]")"

info "snapshots --device NAME and --device UDID"
while IFS='|' read -r key seed udid name product ios; do
    [ -n "$key" ] || continue
    for sel in "$name" "$udid"; do
        run 0 snapshots --device "$sel"
        # header, one row, count line
        [ "$(wc -l <"$T/out")" = 3 ] || fail "snapshots --device '$sel' does not show exactly one snapshot"
        grep -q '^1 snapshot(s)$' "$T/out" || fail "snapshots --device '$sel': no '1 snapshot(s)'"
        grep -qE "^${SNAP[$key]}  .*  $name \($product, iOS $ios, backup of [0-9-]+ [0-9:]+\)$" "$T/out" ||
            fail "snapshots --device '$sel' does not show ${SNAP[$key]} as '$name ($product, iOS $ios, ...)'"
        run 0 snapshots --json --device "$sel"
        "$PY" - "$T/out" "$udid" "$name" "$product" "$ios" <<'EOF' || fail "snapshots --json --device '$sel'"
import json, sys
s = json.load(open(sys.argv[1]))
udid, name, product, ios = sys.argv[2:]
assert len(s) == 1, s
m = s[0]['meta']
assert s[0]['chain'] == 'device:' + udid + '/unencrypted', s[0]['chain']
assert m['device.udid'] == udid and m['device.device_name'] == name, m
assert m['device.product_type'] == product and m['device.product_version'] == ios, m
assert s[0]['incomplete'] is False and s[0]['partial'] is False
EOF
    done
done <<<"$DEVICES"
run 0 snapshots --device "No Such Phone"
grep -q '^0 snapshot(s)$' "$T/out" || fail "snapshots --device of an unknown device shows snapshots"

info "info shows the device details"
while IFS='|' read -r key seed udid name product ios; do
    [ -n "$key" ] || continue
    run 0 info "${SNAP[$key]}"
    for want in "device_name +$name" "product_type +$product" "product_version +$ios" \
        "udid +$udid" "is_encrypted +false" "snapshot_state +finished" "chain +device:$udid/unencrypted"; do
        grep -qE "^$want\$" "$T/out" || fail "info ${SNAP[$key]} has no line '$want'"
    done
done <<<"$DEVICES"
run 0 info "${SNAP[folder]}"
grep -q "device_name" "$T/out" && fail "info of the folder snapshot shows device details"

info "ls SNAPSHOT HomeDomain lists exactly the HomeDomain rows"
for key in a b c; do
    d=${DIR[$key]}
    run 0 ls "${SNAP[$key]}" HomeDomain
    ls_paths >"$T/ls.got"
    sqlite3 "$d/Manifest.db" \
        "select domain||'/'||relativePath from Files where domain='HomeDomain' order by relativePath" \
        >"$T/ls.want" || fail "sqlite3 on $d/Manifest.db"
    [ "$(wc -l <"$T/ls.want")" -gt 50 ] || fail "too few HomeDomain rows in $d"
    if ! diff -u "$T/ls.want" "$T/ls.got" >"$T/ls.diff"; then
        head -20 "$T/ls.diff" >&2
        fail "ls ${SNAP[$key]} HomeDomain differs from Manifest.db"
    fi
    # kind and size of each line agree with the row and the content file
    sqlite3 -separator $'\t' "$d/Manifest.db" \
        "select fileID, flags, relativePath from Files where domain='HomeDomain' order by relativePath" \
        >"$T/rows"
    "$PY" - "$T/out" "$T/rows" "$d" <<'EOF' || fail "ls ${SNAP[$key]} HomeDomain: wrong kind or size"
import os, sys
lines = open(sys.argv[1], encoding='utf-8').read().splitlines()
rows = [r.split('\t') for r in open(sys.argv[2], encoding='utf-8').read().splitlines()]
assert len(lines) == len(rows), (len(lines), len(rows))
for line, (fid, flags, path) in zip(lines, rows):
    f = line.split()
    kind = {'1': '-', '2': 'd', '4': 'l'}[flags]
    assert f[0] == kind, (line, flags)
    if flags == '1':
        size = os.path.getsize(os.path.join(sys.argv[3], fid[:2], fid))
        assert int(f[2]) == size, (line, size)
    if flags == '4':
        assert ' -> ' in line, line
EOF
done
run 12 ls "${SNAP[a]}" NoSuchDomain
grep -q "NoSuchDomain" "$T/err" || fail "ls of a missing domain does not name it"
run 2 ls "${SNAP[folder]}"
grep -q "not a device backup" "$T/err" || fail "ls of a folder snapshot: unexpected message"

info "extract single files"
d=${DIR[a]}
# a database, a photo, a path with a space, a file in a group container
mapfile -t PICK < <(sqlite3 "$d/Manifest.db" "
    select * from (select domain||'/'||relativePath from Files where flags=1 and domain='HomeDomain' and relativePath like '%.sqlite%' order by fileID limit 1)
    union all select * from (select domain||'/'||relativePath from Files where flags=1 and domain='CameraRollDomain' and relativePath like 'Media/DCIM/%' order by fileID limit 1)
    union all select * from (select domain||'/'||relativePath from Files where flags=1 and relativePath like '% %' order by fileID limit 1)
    union all select * from (select domain||'/'||relativePath from Files where flags=1 and domain like 'AppDomainGroup-%' order by fileID limit 1)")
[ "${#PICK[@]}" = 4 ] || fail "could not pick 4 files from $d/Manifest.db"
run 0 extract "${SNAP[a]}" "${PICK[@]}" --to "$T/x1"
grep -q "^extracted 4 files " "$T/out" || fail "extract did not report 4 files"
for dp in "${PICK[@]}"; do
    dom=${dp%%/*}
    rel=${dp#*/}
    src=$(content_path "$d" "$dom" "$rel")
    [ -f "$T/x1/$dp" ] || fail "extract did not write $T/x1/$dp"
    cmp -s "$src" "$T/x1/$dp" || fail "extracted $dp differs from $src"
    [ "$(stat -c %Y "$T/x1/$dp")" = "$(stat -c %Y "$src")" ] || fail "extracted $dp has the wrong mtime"
done
[ "$(find "$T/x1" -type f | wc -l)" = 4 ] || fail "extract of 4 files wrote $(find "$T/x1" -type f | wc -l) files"

info "extract whole domains"
# the ls lines of both domains give the symlink targets to expect
run 0 ls "${SNAP[a]}" CameraRollDomain
cp "$T/out" "$T/ls.both"
run 0 ls "${SNAP[a]}" HomeDomain
cat "$T/out" >>"$T/ls.both"
run 0 extract "${SNAP[a]}" HomeDomain CameraRollDomain --to "$T/x2"
cp "$T/out" "$T/extract.out"
# every row of the two domains: a file with the content file's bytes and
# mtime, a folder, or a symlink with its target; and nothing else
nf=$("$PY" - "$d" "$T/x2" "$T/ls.both" <<'EOF'
import filecmp, hashlib, os, re, sqlite3, sys
src, out, ls = sys.argv[1:]
targets = {}
for line in open(ls, encoding='utf-8'):
    m = re.match(r'l [0-7]{6} +[0-9]+  [0-9-]{10} [0-9:]{8}  (.*?) -> (.*)$', line.rstrip('\n'))
    if m:
        targets[m.group(1)] = m.group(2)
db = sqlite3.connect('file:%s/Manifest.db?mode=ro' % src, uri=True)
nf, seen = 0, set()
for flags, dom, rel in db.execute("select flags, domain, relativePath from Files "
                                  "where domain in ('HomeDomain','CameraRollDomain')"):
    p = os.path.normpath(os.path.join(out, dom, rel))
    seen.add(p)
    if flags == 1:
        nf += 1
        fid = hashlib.sha1(('%s-%s' % (dom, rel)).encode()).hexdigest()
        c = os.path.join(src, fid[:2], fid)
        assert os.path.isfile(p) and not os.path.islink(p), 'file not written: ' + p
        assert filecmp.cmp(c, p, shallow=False), 'bytes differ: ' + p
        assert int(os.stat(c).st_mtime) == int(os.stat(p).st_mtime), 'mtime differs: ' + p
    elif flags == 2:
        assert os.path.isdir(p) and not os.path.islink(p), 'no folder: ' + p
    elif flags == 4:
        assert os.path.islink(p), 'no symlink: ' + p
        assert os.readlink(p) == targets['%s/%s' % (dom, rel)], 'wrong link target: ' + p
    else:
        raise AssertionError('flags %d: %s' % (flags, p))
for root, dirs, files in os.walk(out):
    for n in dirs + files:
        p = os.path.normpath(os.path.join(root, n))
        assert p in seen, 'extracted but not in the domains: ' + p
print(nf)
EOF
) || fail "extract of HomeDomain and CameraRollDomain does not match Manifest.db"
[ "$nf" -gt 20 ] || fail "only $nf files in HomeDomain and CameraRollDomain"
grep -q "^extracted $nf files " "$T/extract.out" ||
    fail "extract did not report $nf files: $(cat "$T/extract.out")"
rm -rf "$T/x1" "$T/x2"

info "each device snapshot restores byte-identical to its folder"
for key in a b c folder; do
    src=${DIR[$key]:-$T/folder}
    run 0 --threads 2 restore "${SNAP[$key]}" --to "$T/r-$key"
    compare_trees "$src" "$T/r-$key"
    rm -rf "$T/r-$key"
done

info "day 2 of device a joins its chain and reads only the changed files"
"$GEN" mutate "${DIR[a]}" --seed 11 --day 1 --changes "$T/changes" >/dev/null || fail "cairn-gen mutate"
nchg=$(grep -c '^[AM]	' "$T/changes")
ndel=$(grep -c '^D	' "$T/changes")
[ "$nchg" -gt 5 ] && [ "$ndel" -gt 0 ] || fail "mutate made too few changes"
run 0 --threads 2 backup "${DIR[a]}"
A2=$(sed -n 's/^snapshot \([0-9a-f]*\) saved.*/\1/p' "$T/out")
grep -q "^snapshot $A2 saved (parent ${SNAP[a]})$" "$T/out" ||
    fail "day-2 backup's parent is not ${SNAP[a]}: $(head -3 "$T/out")"
# the added and modified content files, plus the four top-level files that
# every backup rewrites (Info.plist, Manifest.plist, Status.plist, Manifest.db)
want_read=$((nchg + 4))
nfiles=$(find "${DIR[a]}" -type f | wc -l)
grep -q "($want_read read, $((nfiles - want_read)) unchanged)" "$T/out" ||
    fail "day-2 backup read $(files_read) files, expected $want_read of $nfiles"
[ "$(snap_json "[x['chain'] for x in s if x['id'].startswith('$A2')][0]")" = \
  "device:00008110-000A1B2C3D4E5F60/unencrypted" ] || fail "day-2 snapshot is not in device a's chain"
run 0 snapshots --device "Alice iPhone"
grep -q '^2 snapshot(s)$' "$T/out" || fail "snapshots --device 'Alice iPhone' does not show 2 snapshots"
run 0 chains
grep -qE "^active .* 2 .*Alice iPhone \(iPhone15,2\) +device:00008110-000A1B2C3D4E5F60/unencrypted$" "$T/out" ||
    fail "chains does not count 2 snapshots for device a"
[ "$(grep -c ' device:' "$T/out")" = 3 ] || fail "day 2 made a new chain"
run 0 --threads 2 restore "$A2" --to "$T/r-a2"
compare_trees "${DIR[a]}" "$T/r-a2"
rm -rf "$T/r-a2"

run 0 check --read-data
info "ok"
