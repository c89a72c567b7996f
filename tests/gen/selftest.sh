#!/usr/bin/env bash
# selftest.sh - checks that cairn-gen's output is valid and reproducible.
#
# usage: tests/gen/selftest.sh path/to/cairn-gen
# Needs the sqlite3 and plistutil command-line tools (and python3 with the
# "cryptography" package for the independent check of encrypted backups,
# skipped without it).  Uses a temporary directory (removed on exit) and
# about 200 MB of disk.
set -euo pipefail

gen=$(realpath "${1:?usage: selftest.sh path/to/cairn-gen}")
gen_src=$(realpath "$0")
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

# Rows per table of every database a change list names as modified:
# "<file> <table> <count>" lines.
db_rows() {
    local dir=$1 list=$2 kind domain path size id t
    while IFS=$'\t' read -r kind domain path size; do
        [ "$kind" = M ] || continue
        id=$(printf '%s-%s' "$domain" "$path" | sha1sum | cut -c1-40)
        [ "$(head -c 15 "$dir/${id:0:2}/$id")" = "SQLite format 3" ] || continue
        for t in $(sqlite3 "$dir/${id:0:2}/$id" "SELECT name FROM sqlite_master WHERE type='table'"); do
            echo "$id $t $(sqlite3 "$dir/${id:0:2}/$id" "SELECT count(*) FROM \"$t\"")"
        done
    done <"$list"
}

# A day of --pattern append: reproducible, valid, and in every database it
# changes only one table gains rows and none loses any; the default day
# (same seed and day) adds rows to more tables.
cp -a d1 pre1
cp -a d1 ev1
"$gen" mutate d1 --seed 6 --day 2 --pattern append --changes a1 >/dev/null
"$gen" mutate d2 --seed 6 --day 2 --pattern append --changes a2 >/dev/null
"$gen" mutate ev1 --seed 6 --day 2 --pattern everyday --changes cev1 >/dev/null
same_tree d1 d2
cmp -s a1 a2 || fail "append: change lists differ"
check_backup d1
# For each database, how many of its tables gained rows; "shrank ..." for a
# table that lost some.  Fails when the two listings do not line up.
grows() {
    paste -d' ' "$1" "$2" | awk '$1 != $4 || $2 != $5 { bad = 1; exit }
        $6 < $3 { print "shrank " $1 " " $2 } $6 > $3 { n[$1]++ }
        END { if (bad) exit 3; for (f in n) print n[f] }'
}
db_rows pre1 a1 >rows.before
db_rows d1 a1 >rows.after
[ -s rows.before ] || fail "append: changed no database"
out=$(grows rows.before rows.after) || fail "append: table listings do not line up"
[ -n "$out" ] && ! grep -qv '^1$' <<<"$out" || fail "append: not one growing table per database: $out"
db_rows pre1 cev1 >rows.before
db_rows ev1 cev1 >rows.after
out=$(grows rows.before rows.after) || fail "everyday: table listings do not line up"
grep -qv '^1$' <<<"$out" || fail "the default day looks like an append day"
"$gen" mutate d1 --pattern sometimes 2>/dev/null && fail "mutate accepted --pattern sometimes"

# Encrypted backups: reproducible, unreadable without the password, and the
# same plaintext as a plain backup made with the same options, before and
# after a day of changes and a password change.
"$gen" device enc1 --seed 5 --size-mb 16 --encrypt pw1 >/dev/null
"$gen" device enc2 --seed 5 --size-mb 16 --encrypt pw1 >/dev/null
same_tree enc1 enc2
"$gen" device plain1 --seed 5 --size-mb 16 >/dev/null
[ "$(head -c 15 enc1/Manifest.db)" != "SQLite format 3" ] || fail "enc1/Manifest.db is not encrypted"
plistutil -i enc1/Manifest.plist -f xml | grep -A1 '<key>IsEncrypted</key>' | grep -q '<true/>' ||
    fail "enc1/Manifest.plist does not say IsEncrypted"
"$gen" decrypt enc1 --password wrong --to bad 2>/dev/null && fail "decrypt accepted a wrong password"
"$gen" decrypt enc1 --password pw1 --to enc1.out >/dev/null
"$gen" decrypt plain1 --to plain1.out >/dev/null
diff -r --no-dereference enc1.out plain1.out >/dev/null || fail "enc1 does not decrypt to the plain backup's files"
[ "$(find enc1.out -type f | wc -l)" = "$(find enc1 -mindepth 2 -type f | wc -l)" ] ||
    fail "decrypt did not write every file"
"$gen" mutate enc1 --seed 6 --day 1 --changes ce --encrypt pw1 >/dev/null
"$gen" mutate plain1 --seed 6 --day 1 --changes cp >/dev/null
cmp -s ce cp || fail "encrypted and plain change lists differ"
[ -z "$(find enc1 -name '*.plain' -o -name '.cairn-gen*')" ] || fail "mutate left scratch files"
"$gen" mutate enc1 --seed 6 --day 2 >/dev/null 2>&1 && fail "mutate of an encrypted backup ran without --encrypt"
"$gen" changepw enc1 --old pw1 --new pw2 >/dev/null
"$gen" decrypt enc1 --password pw1 --to old.out 2>/dev/null && fail "the old password still opens enc1"
"$gen" decrypt enc1 --password pw2 --to enc1.day1 >/dev/null
"$gen" decrypt plain1 --to plain1.day1 >/dev/null
diff -r --no-dereference enc1.day1 plain1.day1 >/dev/null || fail "enc1 after a day and changepw differs from plain1"
# an independent reader (Python, public decryptors' algorithm), when it can run
rc=0
python3 "$(dirname "$gen_src")/ios_decrypt.py" enc1 pw2 enc1.py >/dev/null 2>&1 || rc=$?
if [ "$rc" = 0 ]; then
    diff -r enc1.py enc1.day1 2>/dev/null | grep -v '^Only in enc1.day1' | grep -q . &&
        fail "ios_decrypt.py and cairn-gen decrypt disagree"
    [ "$(find enc1.py -type f | wc -l)" = "$(find enc1.day1 -type f | wc -l)" ] ||
        fail "ios_decrypt.py wrote another number of files"
elif [ "$rc" != 77 ]; then
    fail "ios_decrypt.py failed on enc1"
fi

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

# --content: equal options give equal backups; each photo Photos.sqlite names
# is in the backup, in both schemas
for v in 13.7 17.5; do
    "$gen" device c1-$v --content 1 --ios $v --size-mb 1 >/dev/null
    "$gen" device c2-$v --content 1 --ios $v --size-mb 1 >/dev/null
    same_tree c1-$v c2-$v
    check_backup c1-$v
done
photos=$(sqlite3 c1-17.5/Manifest.db "SELECT fileID FROM Files WHERE relativePath='Media/PhotoData/Photos.sqlite'")
[ "$(sqlite3 "c1-17.5/${photos:0:2}/$photos" 'SELECT count(*) FROM ZASSET')" = 20 ] ||
    fail "content 1: not 20 assets in ZASSET"
photos13=$(sqlite3 c1-13.7/Manifest.db "SELECT fileID FROM Files WHERE relativePath='Media/PhotoData/Photos.sqlite'")
sqlite3 "c1-13.7/${photos13:0:2}/$photos13" "SELECT 'Media/' || ZDIRECTORY || '/' || ZFILENAME FROM ZGENERICASSET ORDER BY 1" >named
sqlite3 c1-13.7/Manifest.db "SELECT relativePath FROM Files WHERE relativePath LIKE 'Media/DCIM/%' AND flags=1 ORDER BY 1" >held
cmp -s named held || fail "content 1: Photos.sqlite and the backup's DCIM files differ"

# --files N: exactly N file and symlink rows (a scale run), each checked as above
"$gen" device many1 --files 3000 --size-mb 1 >/dev/null
"$gen" device many2 --files 3000 --size-mb 1 >/dev/null
same_tree many1 many2
check_backup many1
[ "$(sqlite3 many1/Manifest.db 'SELECT count(*) FROM Files WHERE flags != 2')" = 3000 ] ||
    fail "--files 3000: not 3000 file and symlink rows"
if "$gen" device many0 --files 0 2>/dev/null; then fail "--files 0 accepted"; fi

echo "selftest: ok"
