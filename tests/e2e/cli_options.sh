#!/bin/bash
# cli_options.sh - options belong to commands: an option a command (or the
# command's mode) does not take is exit 2 naming both and changes nothing
# ("copy --dry-run" once copied for real, "backup --json" and "check --json"
# were accepted and ignored); a misspelt option or command suggests the
# nearest one; "cairn help CMD" and "cairn CMD --help" print that command's
# usage alone; "cairn --version" and "cairn version" name the libraries;
# options before the command word keep working.
#
# usage: cli_options.sh CAIRN
. "$(dirname "$0")/lib.sh" "$@"

SRC=$T/src
mkdir -p "$SRC/sub"
gen_text "$SRC/a.txt" 20000
gen_random "$SRC/sub/b.bin" 100000 cliopts

# err_has TEXT: the last stderr has TEXT on its one line
err_has() {
    grep -q -F -- "$1" "$T/err" || fail "stderr lacks '$1'"
    [ "$(wc -l <"$T/err")" = 1 ] || fail "the error is not one line"
}

init_store

info "options before the command word, in every form"
run 0 --threads 2 backup "$SRC"
"$CAIRN" -s "$STORE" -j 1 --force backup "$SRC" >"$T/out" 2>"$T/err" ||
    fail "short options before the command exited $?: $(cat "$T/err")"
"$CAIRN" --store="$STORE" snapshots --json >"$T/out" 2>"$T/err" ||
    fail "--store=DIR exited $?: $(cat "$T/err")"
printf '%s\n' "$CAIRN_PASSWORD" >"$T/pw"
(unset CAIRN_PASSWORD && "$CAIRN" --password-file "$T/pw" --store "$STORE" snapshots) \
    >"$T/out" 2>"$T/err" || fail "--password-file before the command exited $?"
grep -q '^2 snapshot(s)$' "$T/out" || fail "expected 2 snapshots: $(cat "$T/out")"

info "copy --dry-run is refused and copies nothing"
mkdir "$T/tgt"
run 0 target add t "$T/tgt"
run 2 copy --target t --dry-run
err_has "copy"
err_has "--dry-run"
[ -z "$(ls -A "$T/tgt")" ] || fail "copy --dry-run wrote to the target: $(ls -A "$T/tgt")"
run 2 --dry-run copy --target t
[ -z "$(ls -A "$T/tgt")" ] || fail "--dry-run copy wrote to the target"
run 0 copy --target t
[ -n "$(ls -A "$T/tgt")" ] || fail "the real copy wrote nothing (the test proves nothing)"

info "--json where it is not implemented"
# (backup and check print JSON since issue 16; index and key do not)
run 2 index rebuild --json
err_has "index does not take --json"
run 2 key list --json
err_has "key does not take --json"
run 2 --json key list
[ "$(snap_count)" = 2 ] || fail "a refused --json changed the snapshots"
run 0 check

info "a mode does not take another mode's options"
run 2 backup --device --force
err_has "cairn: backup --device does not take --force (see 'cairn help backup')"
run 2 backup --full "$SRC"
err_has "backup SOURCE_DIR does not take --full"
run 2 restore latest --device --to "$T/r"
err_has "restore --device does not take --to"
[ ! -e "$T/r" ] || fail "a refused restore wrote $T/r"
run 2 restore latest --to "$T/r" --system
err_has "restore --to does not take --system"
run 2 key list --kdf interactive
err_has "key list does not take --kdf"
run 2 target list --offsite
err_has "target list does not take --offsite"
run 2 chain archive x --dry-run
err_has "chain archive does not take --dry-run"
run 2 init --kdf interactive --read-data
err_has "init does not take --read-data"

info "suggestions"
run 2 snapshots --jsn
err_has "cairn: snapshots does not take --jsn (did you mean --json?)"
run 2 copy --targte t
err_has "(did you mean --target?)"
run 2 prune --max-unsed 5
err_has "(did you mean --max-unused?)"
run 2 copy --frobnicate
err_has "cairn: copy does not take --frobnicate (see 'cairn help copy')"
run 2 snapshot
err_has "cairn: unknown command 'snapshot' (did you mean 'snapshots'?)"
run 2 frobnicate
err_has "cairn: unknown command 'frobnicate' (see 'cairn help')"
run 2 --threads 2x backup "$SRC"
err_has "--threads takes a number from 1 to 64"
run 2 forget --keep-last
err_has "--keep-last needs a value"
[ "$(snap_count)" = 2 ] || fail "a refused command changed the snapshots"

info "help"
run 0 help copy
cp "$T/out" "$T/help-copy"
run 0 copy --help
cmp -s "$T/out" "$T/help-copy" || fail "'help copy' and 'copy --help' differ"
run 0 copy -h
cmp -s "$T/out" "$T/help-copy" || fail "'help copy' and 'copy -h' differ"
head -1 "$T/help-copy" | grep -q '^usage: cairn copy ' || fail "help copy: $(head -1 "$T/help-copy")"
grep -q -- '--target' "$T/help-copy" || fail "help copy does not mention --target"
grep -q -- '--kdf' "$T/help-copy" && fail "help copy mentions --kdf"
grep -q -- '--dry-run' "$T/help-copy" && fail "help copy mentions --dry-run"
run 2 help nosuch
run 0 help
cp "$T/out" "$T/overview"
run 0 --help
cmp -s "$T/out" "$T/overview" || fail "'help' and '--help' differ"
COMMANDS="init backup snapshots restore check verify diff forget prune key index repair chains chain
info ls extract target copy status devices device messages photos contacts pin unpin usage
mount serve daemon service policy alarm help version unlock lock"
for cmd in $COMMANDS; do
    grep -qE "^  $cmd " "$T/overview" || fail "the overview does not list $cmd"
    run 0 "$cmd" --help
    head -1 "$T/out" | grep -q "^usage: cairn $cmd\( \|$\)" ||
        fail "$cmd --help starts with: $(head -1 "$T/out")"
    [ -s "$T/err" ] && fail "$cmd --help wrote to stderr"
done
listed=$(sed -n '/^commands:/,/^$/p' "$T/overview" | grep -c '^  [a-z]')
[ "$listed" = "$(echo $COMMANDS | wc -w)" ] || fail "the overview lists $listed commands"

info "init: a word left over, chunk sizes the store cannot have: exit 2, no store"
STORE=$T/s-extra run 2 --kdf minimum init extra
err_has "cairn: usage: cairn init "
[ ! -e "$T/s-extra" ] || fail "init with a word left over created the store"
bad_chunk() { # bad_chunk OPTION VALUE: refused naming both, nothing created
    STORE=$T/s-chunk run 2 --kdf minimum init "$1" "$2"
    [ "$(cat "$T/err")" = "cairn: $1 $2: not a size in KiB (0, or a power of two from 1 to 4096)" ] ||
        fail "init $1 '$2': $(cat "$T/err")"
    [ ! -e "$T/s-chunk" ] || fail "init $1 '$2' created the store"
}
bad_chunk --sqlite-chunk abc
bad_chunk --sqlite-chunk ''
bad_chunk --sqlite-chunk 99999999999999999999
bad_chunk --media-chunk -1
bad_chunk --media-chunk 3
bad_chunk --media-chunk 8192
# the sizes are recorded in the config: all off is the version 1 config
# (96 bytes), any size the longer one (108 bytes, docs/FORMAT.md)
STORE=$T/s-off run 0 --kdf minimum init --sqlite-chunk 0 --media-chunk 0
[ "$(stat -c %s "$T/s-off/config")" = 96 ] || fail "init with chunk sizes 0: not a v1 config"
STORE=$T/s-on run 0 --kdf minimum init --sqlite-chunk 1 --media-chunk 4096
[ "$(stat -c %s "$T/s-on/config")" = 108 ] || fail "init with chunk sizes: not recorded"
STORE=$T/s-on run 0 backup "$SRC"

info "version"
run 0 --version
cp "$T/out" "$T/version"
run 0 version
cmp -s "$T/out" "$T/version" || fail "'version' and '--version' differ"
for lib in 'cairn [0-9]+\.[0-9]+\.[0-9]+' 'libsodium [0-9]' 'zstd [0-9]' 'LMDB [0-9]' \
    'SQLite [0-9]' 'libimobiledevice [0-9]'; do
    grep -qE "^$lib" "$T/version" || fail "--version lacks $lib: $(cat "$T/version")"
done

info "ok"
