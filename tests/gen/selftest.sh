#!/usr/bin/env bash
# selftest.sh - checks that cairn-gen's output is valid and reproducible.
#
# usage: tests/gen/selftest.sh path/to/cairn-gen
# Needs the sqlite3 and plistutil command-line tools.  Uses a temporary
# directory (removed on exit) and about 100 MB of disk.
set -euo pipefail

gen=$(realpath "${1:?usage: selftest.sh path/to/cairn-gen}")
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-gen-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() {
    echo "selftest: $*" >&2
    exit 1
}

# Names, sizes, mtimes and modes of everything under $1, in a stable order.
listing() {
    (cd "$1" && find . -printf '%p %s %T@ %m %y\n' | LC_ALL=C sort)
}

same_tree() {
    diff -r --no-dereference "$1" "$2" >/dev/null || fail "$1 and $2 differ in content"
    [ "$(listing "$1")" = "$(listing "$2")" ] || fail "$1 and $2 differ in metadata"
}

# The Size recorded in a Files row's MBFile, found through the archive's UIDs
# by plistutil's XML rendering: the root object is $objects[1] in our output,
# so the first <key>Size</key> is the file's.
row_size() {
    sqlite3 "$1/Manifest.db" "SELECT writefile('blob', file) FROM Files WHERE fileID='$2'" >/dev/null
    plistutil -i blob -f xml | awk '/<key>Size<\/key>/ { getline; gsub(/[^0-9]/, ""); print; exit }'
}

check_backup() {
    local dir=$1 id size
    for f in Info.plist Manifest.plist Status.plist Manifest.db; do
        [ -f "$dir/$f" ] || fail "$dir: missing $f"
    done
    plistutil -i "$dir/Status.plist" -f xml | grep -q '<string>finished</string>' ||
        fail "$dir: Status.plist is not finished"
    [ "$(sqlite3 "$dir/Manifest.db" 'PRAGMA integrity_check')" = ok ] || fail "$dir: Manifest.db corrupt"
    # Every file row has its content file, and nothing else does.
    sqlite3 "$dir/Manifest.db" "SELECT fileID FROM Files WHERE flags=1" | LC_ALL=C sort >rows
    (cd "$dir" && find . -mindepth 2 -type f -printf '%f\n' | LC_ALL=C sort) >files
    cmp -s rows files || fail "$dir: content files do not match the flags=1 rows"
    [ "$(sqlite3 "$dir/Manifest.db" 'SELECT count(*) FROM Files WHERE flags=2')" -gt 0 ] ||
        fail "$dir: no directory rows"
    [ "$(sqlite3 "$dir/Manifest.db" 'SELECT count(*) FROM Files WHERE flags=4')" -gt 0 ] ||
        fail "$dir: no symlink rows"
    # fileID = SHA-1 of "domain-relativePath", and Size matches, for a sample.
    sqlite3 -separator '|' "$dir/Manifest.db" \
        "SELECT fileID, domain || '-' || relativePath FROM Files WHERE flags=1 ORDER BY fileID LIMIT 10" |
        while IFS='|' read -r id name; do
            [ "$(printf '%s' "$name" | sha1sum | cut -c1-40)" = "$id" ] || fail "$dir: bad fileID $id"
            size=$(stat -c %s "$dir/${id:0:2}/$id")
            [ "$(row_size "$dir" "$id")" = "$size" ] || fail "$dir: Size of $id is not $size"
        done
}

"$gen" device d1 --seed 5 --size-mb 16 >/dev/null
"$gen" device d2 --seed 5 --size-mb 16 >/dev/null
same_tree d1 d2
check_backup d1

"$gen" mutate d1 --seed 6 --day 1 --changes c1 >/dev/null
"$gen" mutate d2 --seed 6 --day 1 --changes c2 >/dev/null
same_tree d1 d2
cmp -s c1 c2 || fail "change lists differ"
LC_ALL=C sort -c c1 || fail "change list is not sorted"
[ -s c1 ] || fail "mutate changed nothing"
check_backup d1
while IFS=$'\t' read -r kind domain path size; do
    id=$(printf '%s-%s' "$domain" "$path" | sha1sum | cut -c1-40)
    case $kind in
    A | M) [ "$(stat -c %s "d1/${id:0:2}/$id")" = "$size" ] || fail "wrong size in: $kind $path" ;;
    D) [ ! -e "d1/${id:0:2}/$id" ] || fail "deleted file still there: $path" ;;
    *) fail "bad change line kind '$kind'" ;;
    esac
done <c1

"$gen" folder f1 --seed 7 --size-mb 16 >/dev/null
"$gen" folder f2 --seed 7 --size-mb 16 >/dev/null
same_tree f1 f2
[ -L f1/latest.log ] && [ -d f1/cache/empty ] && [ -f f1/docs/empty.txt ] ||
    fail "folder lacks its symlink, empty directory or empty file"
"$gen" edit f1 --seed 8 >e1
"$gen" edit f2 --seed 8 >e2
same_tree f1 f2
cmp -s e1 e2 || fail "edit reports differ"
[ "$(grep -c '^[ADM]	' e1)" = 3 ] || fail "edit did not report one A, D and M"

echo "selftest: ok"
