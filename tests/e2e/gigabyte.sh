#!/usr/bin/env bash
# The core promise at scale: a 1 GB generated folder of media and SQLite
# files backs up; after an in-place edit of a large database the second
# backup stores only the chunks around the edit; both snapshots restore
# byte-identical; check --read-data passes, and a flipped byte in any pack
# makes it fail naming that pack.
#   gigabyte.sh CAIRN CAIRN_GEN [SIZE_MB]
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 cairn cairn-gen [size-mb]}
SIZE_MB=${3:-1024}

sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$2"; }

init_store
info "generate ${SIZE_MB} MB"
"$GEN" folder "$T/src" --seed 11 --size-mb "$SIZE_MB" >/dev/null || fail "cairn-gen folder"
sums "$T/src" "$T/day0.sums"
tree_listing "$T/src" > "$T/day0.list"

info "first backup"
run 0 backup --threads 2 "$T/src"
first_new=$(snap_json 's[-1]["new_bytes"]')

info "edit a few pages of a large SQLite file, add and delete a file"
"$GEN" edit "$T/src" --seed 11 > "$T/edit.txt" || fail "cairn-gen edit"
sums "$T/src" "$T/day1.sums"
tree_listing "$T/src" > "$T/day1.list"

info "second backup"
run 0 backup --threads 2 "$T/src"
second_new=$(snap_json 's[-1]["new_raw"]')
read_files=$(files_read)
[ "$read_files" -le 3 ] || fail "second backup read $read_files files, expected at most 3"
# A few pages edited in one database: a few 1 MiB chunks around each edit,
# plus the added file and the changed trees; never a whole database again.
added_file=$(awk '$1=="A" {print $3}' "$T/edit.txt" | head -n1)
limit=$(( ${added_file:-0} + 12 * 1024 * 1024 ))
[ "$second_new" -le "$limit" ] ||
    fail "second backup stored $second_new raw bytes of new chunks, expected at most $limit"
info "first backup stored $first_new bytes, the second only $second_new raw bytes"

for i in 0 1; do
    info "restore snapshot $i"
    id=$(snap_id "$i")
    run 0 restore "$id" --to "$T/r$i"
    sums "$T/r$i" "$T/r$i.sums"
    cmp -s "$T/r$i.sums" "$T/day$i.sums" || fail "restore of snapshot $i differs in content"
    tree_listing "$T/r$i" | diff - "$T/day$i.list" >/dev/null ||
        fail "restore of snapshot $i differs in metadata"
    rm -rf "$T/r$i"
done

info "check --read-data"
run 0 check --read-data

# every pack of a small store is flipped in corruption.sh; here, four packs
# picked at random (each check reads the whole gigabyte)
info "flip one byte in four random packs in turn"
packs=$(find "$STORE/packs" -type f | shuf -n 4)
n=0
for p in $packs; do
    size=$(stat -c %s "$p")
    off=$(( (RANDOM * 32768 + RANDOM) % size ))
    orig=$(od -An -tu1 -j "$off" -N1 "$p" | tr -d ' ')
    printf "$(printf '\\%03o' $(( orig ^ 0x5a )))" |
        dd of="$p" bs=1 seek="$off" conv=notrunc status=none
    run 9 check --read-data
    grep -q "$(basename "$p")" "$T/out" || fail "check did not name $(basename "$p") (offset $off)"
    printf "$(printf '\\%03o' "$orig")" | dd of="$p" bs=1 seek="$off" conv=notrunc status=none
    n=$((n + 1))
done
run 0 check --read-data
info "ok: $n packs, each flip detected and named"
