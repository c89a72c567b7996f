#!/bin/bash
# roundtrip.sh - a mixed folder survives backup and restore unchanged:
# contents, types, modes, sizes, mtimes (ns), symlink targets, odd names.
# Also: restore refuses a non-empty target (13) and leaves it alone,
# --overwrite works, snapshots are found by unique prefix and 'latest',
# unknown prefixes give 12, and 'snapshots --json' parses with the right
# counts.
. "$(dirname "$0")/lib.sh" "$@"

SRC=$T/src
mkdir -p "$SRC"
cd "$SRC" || fail "cd $SRC"

info "building the source tree"
mkdir -p nested/deeper/deepest "empty dir" "with space" 'ünïcödé-дир' ro-dir sticky
: >empty-file
printf x >one-byte
gen_random size-4095 4095 s4095
gen_random size-1MiB+1 $((1024 * 1024 + 1)) s1m
gen_random nested/deeper/random-30MiB $((30 * 1024 * 1024 + 12345)) s30m
gen_text nested/text.log $((5 * 1024 * 1024))
gen_text "with space/file with  two  spaces.txt" 10000
printf 'unicode content\n' >'ünïcödé-дир/ファイル-😀.txt'
printf 'newline name\n' >"$(printf 'new\nline')"
printf 'tab name\n' >"$(printf 'tab\tname')"
printf 'dash\n' >./-leading-dash
printf 'quotes\n' >"quote'\"\\back"
printf 'deep\n' >nested/deeper/deepest/leaf
printf 'ro\n' >ro-dir/inside
printf '#!/bin/sh\necho hi\n' >script.sh
printf 'secret\n' >private-0600
printf 'readonly\n' >readonly-0444
printf 'setuid\n' >setuid-4755
ln -s nested/text.log rel-link
ln -s /etc/hostname abs-link
ln -s does/not/exist dangling-link
ln -s nested dir-link
ln -s "$(printf 'new\nline')" link-to-odd-name

chmod 0755 script.sh
chmod 0600 private-0600
chmod 0444 readonly-0444
chmod 4755 setuid-4755
chmod 1777 sticky
chmod 0640 nested/text.log

# mtimes with nanoseconds, far in the past; symlinks too (touch -h);
# folders last, deepest first, since filling a folder changes its mtime
n=0
while IFS= read -r -d '' p; do
    n=$((n + 1))
    touch -h -d "2001-02-03 04:05:06.$(printf '%09d' $((n * 7919 + 123456789 % 1000000000)))" "$p" ||
        fail "touch $p"
done < <(find . -mindepth 1 ! -type d -print0)
while IFS= read -r -d '' p; do
    n=$((n + 1))
    touch -d "1999-12-31 23:59:$((n % 60)).$(printf '%09d' $((n * 104729)))" "$p"
done < <(find . -mindepth 1 -type d -print0 | sort -rz)
chmod 0555 ro-dir
chmod 0700 "empty dir"
touch -d '2010-10-10 10:10:10.101010101' "$SRC"
cd "$T" || fail "cd $T"

NFILES=$(find "$SRC" -type f -printf x | wc -c)
NDIRS=$(find "$SRC" -mindepth 1 -type d -printf x | wc -c)
NBYTES=$(find "$SRC" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
cp -a "$SRC" "$T/state1"
compare_trees "$SRC" "$T/state1" # the comparison itself must accept a copy

info "backup"
init_store
run 0 backup "$SRC"
grep -q "^snapshot [0-9a-f]\{8\} saved" "$T/out" || fail "backup printed no snapshot line"
ID1=$(snap_id 0)
[ "$(snap_count)" = 1 ] || fail "expected 1 snapshot"

info "snapshots --json counts"
[ "$(snap_json "s[0]['files']")" = "$NFILES" ] ||
    fail "json files $(snap_json "s[0]['files']"), source has $NFILES regular files"
[ "$(snap_json "s[0]['dirs']")" = "$NDIRS" ] ||
    fail "json dirs $(snap_json "s[0]['dirs']"), source has $NDIRS subfolders"
[ "$(snap_json "s[0]['bytes']")" = "$NBYTES" ] ||
    fail "json bytes $(snap_json "s[0]['bytes']"), source has $NBYTES"
[ "$(snap_json "s[0]['source']")" = "$SRC" ] || fail "json source is not $SRC"
[ "$(snap_json "s[0]['partial']")" = False ] || fail "snapshot marked partial"
[ "$(snap_json "s[0]['short_id'] == s[0]['id'][:8] and len(s[0]['id']) == 64")" = True ] ||
    fail "json id/short_id malformed"
[ "$(snap_json "s[0]['new_bytes'] < s[0]['new_raw']")" = True ] ||
    fail "compressible text did not make new_bytes < new_raw"

info "restore into a new folder"
run 0 restore "$ID1" --to "$T/r1"
compare_trees "$SRC" "$T/r1"

info "restore into a non-empty folder without --overwrite -> 13, untouched"
mkdir "$T/busy"
printf 'keep me\n' >"$T/busy/keep.txt"
printf 'not the snapshot version\n' >"$T/busy/one-byte"
ln -s /nonexistent "$T/busy/script.sh" # a symlink where the snapshot has a file
touch -d '2002-02-02 02:02:02.5' "$T/busy/keep.txt" "$T/busy"
cp -a "$T/busy" "$T/busy.before"
run 13 restore "$ID1" --to "$T/busy"
grep -q -- '--overwrite' "$T/err" || fail "exit 13 without a hint about --overwrite"
compare_trees "$T/busy.before" "$T/busy"

info "restore with --overwrite"
run 0 restore "$ID1" --to "$T/busy" --overwrite
[ "$(cat "$T/busy/keep.txt")" = "keep me" ] || fail "--overwrite lost an unrelated file"
rm "$T/busy/keep.txt"
compare_trees "$SRC" "$T/busy" --no-top

info "second snapshot; restore by prefix and by latest"
printf 'changed\n' >"$SRC/one-byte"
gen_random "$SRC/nested/new-file" 100000 new
touch -d '2020-01-01 00:00:00.000000001' "$SRC/one-byte" "$SRC/nested/new-file"
run 0 backup "$SRC"
grep -q "(parent ${ID1:0:8})" "$T/out" || fail "second backup does not name its parent"
[ "$(snap_count)" = 2 ] || fail "expected 2 snapshots"
ID2=$(snap_id 1)
[ "$ID1" != "$ID2" ] || fail "two different snapshots have the same ID"
[ "$(snap_json "s[1]['parent']")" = "$ID1" ] || fail "json parent of snapshot 2 is not snapshot 1"

# the shortest unique prefix of at least 4 digits
p=4
while [ "${ID1:0:p}" = "${ID2:0:p}" ]; do p=$((p + 1)); done
run 0 restore "${ID1:0:p}" --to "$T/r-prefix"
compare_trees "$T/state1" "$T/r-prefix"
run 0 restore latest --to "$T/r-latest"
compare_trees "$SRC" "$T/r-latest"
run 0 restore "$ID2" --to "$T/r-full"
compare_trees "$SRC" "$T/r-full"

info "unknown snapshot -> 12"
for guess in 0000 1111 2222 3333 4444 5555 6666 7777 8888 9999 aaaa bbbb; do
    [ "${ID1:0:4}" = "$guess" ] || [ "${ID2:0:4}" = "$guess" ] && continue
    run 12 restore "$guess" --to "$T/r-none"
    [ ! -e "$T/r-none" ] || [ -z "$(ls -A "$T/r-none")" ] ||
        fail "a failed restore wrote into the target"
    break
done

run 0 check --read-data
grep -q "no errors" "$T/out" || fail "check did not say 'no errors'"
info "ok"
