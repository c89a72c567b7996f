#!/bin/bash
# restore_readahead.sh - the restore's read-ahead (the walker asks the kernel
# for each queued file's first chunks, stays a bounded number of bytes
# ahead of the workers, and the workers read ahead within big files)
# changes no outcome:
#   - files larger than the read-ahead window (many chunks each, more of
#     them than the walker may queue) and many small ones restore exactly
#     (bytes, modes, mtimes), with one worker and with several
#   - a pack gone from the store: the read-ahead skips it silently, the
#     restore reports the files it held (exit 3), every file under its
#     final name is whole, no .cairn-part file is left
#   - a restore onto a full file system exits 11 saying so, leaves no file
#     under its final name that is not whole, no .cairn-part file, and the
#     note that the restore is incomplete
#
# The full file system is a 24 MiB tmpfs in a private mount namespace
# (unshare -m); without the right to make one that part is skipped.
if [ -z "${CAIRN_E2E_IN_NS:-}" ] && unshare -m --propagation private true 2>/dev/null; then
    CAIRN_E2E_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh" "$@"

MiB=$((1024 * 1024))
SRC=$T/src
mkdir -p "$SRC/big" "$SRC/small/deeper"
for i in 1 2 3 4; do
    gen_random "$SRC/big/f$i.bin" $((8 * MiB + i * 4099)) "big$i"
done
for i in $(seq 1 40); do
    gen_text "$SRC/small/t$i.txt" $((i * 97))
    gen_random "$SRC/small/deeper/r$i.bin" $((i * 211)) "small$i"
done
chmod 0640 "$SRC/big/f2.bin"
chmod 0755 "$SRC/small/t7.txt"
touch -d '2001-02-03 04:05:06.789' "$SRC/big/f3.bin" "$SRC/small/deeper/r9.bin"
init_store
run 0 backup "$SRC"

info "big and small files, one worker and several: exact"
run 0 restore latest --to "$T/r1" --threads 1
compare_trees "$SRC" "$T/r1"
run 0 restore latest --to "$T/r2" --threads 4
compare_trees "$SRC" "$T/r2"

# whole_or_absent DIR: every file under its final name equals the source's,
# and no temporary file is left
whole_or_absent() {
    local f rel
    while IFS= read -r f; do
        rel=${f#"$1"/}
        case $(basename "$rel") in
        .cairn-restore-incomplete) continue ;;
        *.cairn-part) fail "$rel left behind" ;;
        esac
        cmp -s "$f" "$SRC/$rel" || fail "$rel is under its final name but differs from the source"
    done < <(find "$1" -type f)
}

if [ -n "${CAIRN_E2E_IN_NS:-}" ] && mkdir -p "$T/small-fs" &&
    mount -t tmpfs -o size=24m tmpfs "$T/small-fs" 2>/dev/null; then
    cleanup_hook() { umount -l "$T/small-fs" 2>/dev/null; }
    info "restore of 32 MiB onto a 24 MiB file system"
    run_rc restore latest --to "$T/small-fs/r"
    echo "   exit $RC: $(head -c 300 "$T/err")"
    [ "$RC" = 11 ] || fail "restore onto a full disk exited $RC, expected 11"
    grep -q -i -e 'space' -e 'full' "$T/err" || fail "the message does not say the disk is full"
    whole_or_absent "$T/small-fs/r"
    [ -f "$T/small-fs/r/.cairn-restore-incomplete" ] || fail "no note that the restore is incomplete"
else
    echo "   note: no private tmpfs here, the full-disk part is skipped"
fi

info "a pack gone: its files reported, the rest exact"
pack=$(find "$STORE/packs" -type f -printf '%s %p\n' | sort -n | tail -n1 | cut -d' ' -f2-)
[ -n "$pack" ] || fail "no pack found"
mv "$pack" "$T/pack.aside"
run 3 restore latest --to "$T/r3"
grep -q -e "pack is missing" -e "is missing from the store" "$T/err" || fail "the missing pack is not named: $(head -c 300 "$T/err")"
whole_or_absent "$T/r3"
missing=$(cd "$SRC" && find . -type f | while read -r f; do [ -e "$T/r3/$f" ] || echo "$f"; done | wc -l)
[ "$missing" -gt 0 ] || fail "every file restored although a pack is gone"
[ ! -e "$T/r3/.cairn-restore-incomplete" ] || fail "the note stayed after a partial restore"
mv "$T/pack.aside" "$pack"
run 0 restore latest --to "$T/r4"
compare_trees "$SRC" "$T/r4"
info "ok"
