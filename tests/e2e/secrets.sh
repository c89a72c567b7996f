#!/bin/bash
# secrets.sh - nothing of the backed-up data shows in the store's bytes:
# a marker string in file contents (compressible text, so it would survive
# as-is in an unencrypted store), in file, folder and source-folder names,
# and in symlink targets is found nowhere under the store (index/ included),
# nor is the password.  Key files are 0600 and the store's other files and
# folders are private as docs/FORMAT.md says, even under umask 000.
. "$(dirname "$0")/lib.sh" "$@"

M=MARKER-7f3a9c
SRC=$T/source-$M-top
mkdir -p "$SRC/folder-$M-dir/sub"
for i in $(seq 1 2000); do echo "line $i: the secret word is $M-content, again $M"; done \
    >"$SRC/folder-$M-dir/notes.txt"
printf 'small %s-small\n' "$M" >"$SRC/tiny.txt"
printf 'named\n' >"$SRC/folder-$M-dir/sub/file-$M-name.txt"
ln -s "target-$M-link" "$SRC/link"
gen_random "$SRC/random.bin" 200000 r
# the marker must really be there to be found, in bytes and in names
grep -r -a -q "$M" "$SRC" || fail "no marker in the source"
[ "$(find "$SRC" -mindepth 1 -name "*$M*" | wc -l)" = 2 ] || fail "marker names missing"
umask 000
init_store
run 0 backup "$SRC"
printf 'more %s\n' "$M" >>"$SRC/tiny.txt"
run 0 backup "$SRC"
run 0 check --read-data
umask 022
run 0 restore latest --to "$T/restored"
compare_trees "$SRC" "$T/restored"

info "no marker or password anywhere in the store"
[ -n "$(find "$STORE/index" -type f)" ] || fail "no index files to search"
hits=$(grep -r -a -l -F -e "$M" -e "${M,,}" -e "$(printf '%s' "$M" | od -An -tx1 | tr -d ' \n')" "$STORE")
[ -z "$hits" ] || fail "the marker appears in: $hits"
# also as UTF-16 (a name stored wide) and as base64 at each alignment
wide=$(printf '%s' "$M" | sed 's/./&\\x00/g')
hits=$(grep -r -a -l -P -e "$wide" "$STORE")
[ -z "$hits" ] || fail "the marker appears as UTF-16 in: $hits"
# (the whole 3-byte groups of the marker at offsets 0, 1 and 2)
for pattern in $(printf '%s' "$M" | base64 | cut -c1-16) $(printf 'x%s' "$M" | base64 | cut -c5-16) \
    $(printf 'xx%s' "$M" | base64 | cut -c5-20); do
    hits=$(grep -r -a -l -F -e "$pattern" "$STORE")
    [ -z "$hits" ] || fail "an encoding of the marker ('$pattern') appears in: $hits"
done
hits=$(grep -r -a -l -F -e "$CAIRN_PASSWORD" "$STORE")
[ -z "$hits" ] || fail "the password appears in: $hits"
# names go into the store only as hashes: no file or folder is named after
# anything of the source
[ -z "$(find "$STORE" -name "*$M*")" ] || fail "a store path contains the marker"

info "permissions (created under umask 000)"
n=0
for k in "$STORE"/keys/*; do
    n=$((n + 1))
    [ "$(stat -c %a "$k")" = 600 ] || fail "key file $(basename "$k") has mode $(stat -c %a "$k")"
done
[ "$n" -ge 1 ] || fail "no key files"
for f in "$STORE/config" "$STORE/lock" "$STORE"/snapshots/* $(find "$STORE/packs" -type f); do
    [ "$(stat -c %a "$f")" = 600 ] || fail "${f#"$STORE"/} has mode $(stat -c %a "$f"), expected 600"
done
bad=$(find "$STORE" -type d ! -perm 700 -printf '%m %P\n')
[ -z "$bad" ] || fail "folders not 0700: $bad"
bad=$(find "$STORE" -type f -perm /077 -printf '%m %P\n')
[ -z "$bad" ] || fail "files readable or writable by others: $bad"
info "ok"
