#!/bin/bash
# overwrite_symlink_dir.sh - 'restore --overwrite' into a folder where a
# symlink stands at the place of a snapshot folder must replace the
# symlink with the folder; it must not follow it and write outside the
# target (docs/CLI.md: "replacing files of the same name"; restore.h:
# "same names, bytes, layout, modes and mtimes").
. "$(dirname "$0")/lib.sh" "$@"

mkdir -p "$T/src/sub" "$T/outside" "$T/target"
printf 'data\n' >"$T/src/sub/file"
printf 'top\n' >"$T/src/top"
touch -d '2005-05-05 05:05:05.5' "$T/src/sub/file" "$T/src/top" "$T/src/sub"
printf 'untouched\n' >"$T/outside/victim"
ln -s ../outside "$T/target/sub"      # where the snapshot has a folder
ln -s ../outside/victim "$T/target/top" # where the snapshot has a file
init_store
run 0 backup "$T/src"
run_rc restore latest --to "$T/target" --overwrite
echo "   restore --overwrite exited $RC"
[ "$(cat "$T/outside/victim")" = untouched ] || fail "restore wrote through the symlink 'top'"
[ ! -e "$T/outside/file" ] ||
    fail "restore followed the symlink 'sub' and created $T/outside/file outside the target"
[ "$RC" = 0 ] || fail "restore --overwrite exited $RC"
[ -d "$T/target/sub" ] && [ ! -L "$T/target/sub" ] || fail "target/sub is still a symlink"
compare_trees "$T/src" "$T/target" --no-top
info "ok"
