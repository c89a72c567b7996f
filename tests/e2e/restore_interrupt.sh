#!/bin/bash
# restore_interrupt.sh - a restore killed half-way leaves no truncated file
# under its final name: each file is written as .NAME.cairn-part and
# renamed when whole, and the target holds .cairn-restore-incomplete until
# the restore finishes.
#   - restore killed (SIGKILL) while writing a big file: every file under
#     its real name is byte-identical to the source, the marker is there
#     and names the snapshot
#   - running it again without --overwrite: exit 13 saying the folder holds
#     an interrupted restore; with --overwrite: exit 0, the tree is exact,
#     neither the marker nor any .cairn-part file is left
#   - --overwrite over an older version, killed half-way: the file under
#     its name is the old version or the new one, whole, never a mix
#   - a restore that completes (also one that ends partial, exit 3) leaves
#     no marker
. "$(dirname "$0")/lib.sh" "$@"

MiB=$((1024 * 1024))
SRC=$T/src
mkdir -p "$SRC/sub"
gen_random "$SRC/a-small.bin" 100000 small
gen_random "$SRC/big.bin" $((96 * MiB)) big
gen_random "$SRC/sub/z-more.bin" $((8 * MiB)) more
printf 'hello\n' >"$SRC/sub/hello.txt"
init_store
run 0 backup "$SRC"
ID=$(snap_id 0)

# whole_or_absent DIR: every file under a real name equals the source's
whole_or_absent() {
    local f rel
    while IFS= read -r f; do
        rel=${f#"$1"/}
        case $(basename "$rel") in .cairn-restore-incomplete | *.cairn-part) continue ;; esac
        cmp -s "$f" "$SRC/$rel" || fail "$rel is under its final name but differs from the source ($(stat -c %s "$f") of $(stat -c %s "$SRC/$rel") bytes)"
    done < <(find "$1" -type f)
}

# kill_restore DIR [ARGS...]: starts a restore into DIR and kills it (-9)
# once it is writing big.bin
kill_restore() {
    local dir=$1 pid
    shift
    "$CAIRN" --store "$STORE" --threads 1 restore "$ID" --to "$dir" "$@" >"$T/k.out" 2>"$T/k.err" &
    pid=$!
    bg_track "$pid"
    for _ in $(seq 1 2000); do
        # big.bin being written, under whichever name
        s=$(stat -c %s "$dir/.big.bin.cairn-part" 2>/dev/null || echo 0)
        [ "$s" -gt $((4 * MiB)) ] && break
        s=$(stat -c %s "$dir/big.bin" 2>/dev/null || echo 0)
        [ "$s" -gt $((4 * MiB)) ] && [ "$s" -lt $((96 * MiB)) ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.005
    done
    kill -9 "$pid" 2>/dev/null || fail "the restore finished before it could be interrupted"
    wait "$pid" 2>/dev/null
}

info "a restore killed half-way"
R=$T/r
kill_restore "$R"
whole_or_absent "$R"
[ -f "$R/.cairn-restore-incomplete" ] || fail "no .cairn-restore-incomplete in the interrupted restore"
grep -q -F "snapshot $ID" "$R/.cairn-restore-incomplete" ||
    fail "the marker does not name the snapshot: $(cat "$R/.cairn-restore-incomplete")"

info "again without --overwrite: refused, naming the interrupted restore"
run 13 restore "$ID" --to "$R"
grep -q -x -F "cairn: $R: holds an interrupted restore (.cairn-restore-incomplete); run it again with --overwrite to finish it" "$T/err" ||
    fail "restore into an interrupted one: $(cat "$T/err")"

info "again with --overwrite: finished, exact, nothing left over"
run 0 restore "$ID" --to "$R" --overwrite
compare_trees "$SRC" "$R"
[ -z "$(find "$R" -name '.cairn-*')" ] || fail "left over: $(find "$R" -name '.cairn-*')"

info "--overwrite over an older version, killed half-way"
R2=$T/r2
mkdir -p "$R2/sub"
gen_random "$R2/big.bin" $((96 * MiB)) older
cp "$R2/big.bin" "$T/older.bin"
kill_restore "$R2" --overwrite
cmp -s "$R2/big.bin" "$T/older.bin" || cmp -s "$R2/big.bin" "$SRC/big.bin" ||
    fail "big.bin is neither the old version nor the new one after an interrupted --overwrite"
[ -f "$R2/.cairn-restore-incomplete" ] || fail "no marker in the interrupted --overwrite restore"
run 0 restore "$ID" --to "$R2" --overwrite
compare_trees "$SRC" "$R2"
[ -z "$(find "$R2" -name '.cairn-*')" ] || fail "left over: $(find "$R2" -name '.cairn-*')"

info "a restore that ends partial leaves no marker"
rm -rf "$R"
mkdir -p "$R/sub"
mkdir "$R/sub/hello.txt" # a folder where a file belongs: that file fails
run 3 restore "$ID" --to "$R" --overwrite
grep -q 'hello.txt' "$T/err" || fail "the failed file is not named: $(cat "$T/err")"
[ ! -e "$R/.cairn-restore-incomplete" ] || fail "a finished (partial) restore left the marker"
[ -z "$(find "$R" -name '*.cairn-part')" ] || fail "left over: $(find "$R" -name '*.cairn-part')"
cmp "$R/big.bin" "$SRC/big.bin" || fail "big.bin differs after the partial restore"
echo "PASS"
